"""The translator of a sweep: every description turned into pseudo image features, each way, from the images
the protocol allows (``support``: the unit's k-shot support set; ``train-split``: the training split less
validation). The translations themselves are registered in ``translations.py``; the Q-Former is in ``qformer.py``."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .bundle import FeatureBundle, bundle_fingerprint
from .config import QFormerTrainConfig, SweepConfig
from .datasets.sampling import FewShotSplit
from .errors import FewShotError
from .layout import CacheLayout
from .progress import CancelFn, ProgressFn, never_cancel, no_progress
from .qformer import TextSide, load_qformer, load_qformer_config, save_qformer, train_qformer, translate
from .storage import content_key
from .translations import TranslationInput, translation


class Translator:
    """Turns every description into pseudo image features, each way, from the images a protocol allows.

    ``support``: the support set of the (shots, seed) being run; a Q-Former per (shots, seed).
    ``train-split``: the training split minus validation; a Q-Former per seed, reused across shots.
    Q-Formers are seeded with ``qformer_train.seed + seed`` and cached on disk under a key of
    everything they depend on (the images used included).
    """

    def __init__(
        self,
        bundle: FeatureBundle,
        cfg: SweepConfig,
        device: torch.device,
        cache: CacheLayout | Path | str | None,
        val_idx: np.ndarray,
        should_cancel: CancelFn = never_cancel,
        on_progress: ProgressFn = no_progress,
    ):
        self.bundle, self.cfg, self.device, self.val_idx = bundle, cfg, device, val_idx
        self.should_cancel, self.on_progress = should_cancel, on_progress
        self.qformers = CacheLayout.of(cache).qformers if cache else None  # None: trained Q-Formers are not kept
        self.text = TextSide(bundle.description_features, bundle.description_labels, bundle.description_tokens, bundle.description_mask)
        self._per_seed: dict[tuple[str, int], np.ndarray] = {}  # train-split: (translation, seed) -> its translations

    def allowed_images(self, split: FewShotSplit) -> np.ndarray:
        """Indices into the training split that the protocol lets the translators see."""
        return self._train_split_images() if self.cfg.protocol == "train-split" else np.asarray(split.support)

    def _train_split_images(self) -> np.ndarray:
        """``train-split``: every training image but the validation ones."""
        return np.setdiff1d(np.arange(len(self.bundle.train_labels)), self.val_idx)

    def pseudo_features(self, name: str, split: FewShotSplit) -> np.ndarray:
        """(M, D) descriptions translated by the registered translation ``name`` for this split.

        Under ``train-split`` a translation that trains sees the same images at every shot count, so it is
        trained once per seed (``seed_translations``) and reused."""
        if translation(name).needs_training and self.cfg.protocol == "train-split":
            return self.seed_translations(split.seed, name)
        return translation(name).translate(TranslationInput(self, split.seed, self.allowed_images(split)))

    def seed_translations(self, seed: int, name: str) -> np.ndarray:
        """``train-split``: the seed's translations by ``name`` (trained or loaded once, then kept)."""
        if (name, seed) not in self._per_seed:
            self._per_seed[(name, seed)] = translation(name).translate(TranslationInput(self, seed, self._train_split_images()))
        return self._per_seed[(name, seed)]

    def keep_seed_translations(self, seed: int, features: dict[str, np.ndarray]) -> None:
        """``train-split``: use translations made elsewhere (a Ray task) for this seed: name -> (M, D)."""
        for name, translated in features.items():
            self._per_seed[(name, seed)] = translated

    def qformer_translations(self, image_idx: np.ndarray, seed: int) -> np.ndarray:
        """(M, D) the descriptions through a Q-Former trained on the images ``image_idx`` (loaded from the cache when
        one was trained on the same data and settings)."""
        arch = load_qformer_config(self.cfg.qformer_size, text_input=self.cfg.qformer_text_input)
        if arch.text_input == "tokens" and self.text.tokens is None:
            raise FewShotError("The tokens Q-Former input needs per-token description features; build the features with tokens.")
        train = replace(self.cfg.qformer_train, seed=self.cfg.qformer_train.seed + seed)
        key = content_key(
            {
                "bundle": bundle_fingerprint(self.bundle),
                "images": hashlib.sha256(np.sort(image_idx).tobytes()).hexdigest(),
                "arch": asdict(arch),
                "train": asdict(train),
            }
        )
        path = self.qformers / f"{key}.safetensors" if self.qformers else None
        model = load_qformer(path, arch, self.bundle.description_features.shape[1], self.bundle.dim) if path else None
        if model is None:
            model = self._train(image_idx, arch, train)
            if path:
                save_qformer(path, model, arch, train)
        return translate(model, self.text)

    def _train(self, image_idx: np.ndarray, arch, train: QFormerTrainConfig):
        result = train_qformer(
            self.bundle.train_features[image_idx],
            self.bundle.train_labels[image_idx],
            self.text,
            arch,
            train,
            self.device,
            on_progress=self.on_progress,
            should_cancel=self.should_cancel,
            class_names=self.bundle.class_names,
        )
        return result.model

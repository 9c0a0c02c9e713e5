"""Sweeps over shots x text counts x seeds x translations x methods into a resumable run folder.

Protocols (which labelled images the text side may learn from):

- ``support`` (default): only the k-shot support images of that (shots, seed). A Q-Former is trained
  per (shots, seed), and the mean shift uses the support images' mean. The run's config.json records
  ``"qformer_images_per_class": null``: the translator saw k images per class, the shot count itself.
- ``train-split``: every training image except the validation images (the paper's set-up). A Q-Former
  is trained per seed and shared by every shot count of that seed; config.json records
  ``qformer_images_per_class`` as the median number of labelled images per class it was trained on,
  so every number made this way can say "Q-Former trained on N labelled images per class".

Every adapter run with m > 0 texts is trained once per translation (``translations.py``: raw,
mean-shift, qformer); m = 0 is image only (translation ``none``). Stored test predictions per unit:
``adapter-0`` (image only) and ``adapter-<translation>-<texts>``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .adapter import train_adapter_heads
from .backbone import resolve_device
from .baselines import accuracy, description_class_embeddings, linear_probe, tip_adapter, zero_shot_predict
from .bundle import FeatureBundle, bundle_fingerprint
from .config import METHODS, PROTOCOLS, TRANSLATIONS, AdapterConfig, QFormerTrainConfig, SweepConfig  # noqa: F401 (re-exported)
from .datasets.sampling import FewShotSplit, sample_few_shot, validation_indices
from .errors import FewShotError
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress
from .qformer import TextSide, load_qformer, load_qformer_config, save_qformer, train_qformer, translate
from .ray_cluster import check_executor
from .runs import ResultRow, RunFolder, library_versions
from .storage import content_key, timestamp
from .translations import NONE, mean_shift


def select_descriptions(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` descriptions per class (fewer where a class has fewer), fixed by seed.

    Each class's descriptions are shuffled once per seed and the first ``count`` taken, so a larger
    count keeps the smaller one's picks.
    """
    order, starts = _description_order(np.ascontiguousarray(labels, np.int64).tobytes(), seed)
    parts = [order[a : min(a + count, b)] for a, b in zip(starts[:-1], starts[1:])]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


@lru_cache(maxsize=64)
def _description_order(labels_bytes: bytes, seed: int) -> tuple[np.ndarray, list[int]]:
    """Per class (ascending), its description indices in the seed's shuffled order, and where each class starts."""
    labels = np.frombuffer(labels_bytes, dtype=np.int64)
    parts = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        parts.append(idx[np.random.default_rng([seed, 2, int(c)]).permutation(len(idx))])
    starts = np.cumsum([0] + [len(p) for p in parts]).tolist()
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), starts


def run_sweep(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    run_dir: Path | str,
    qformer_cache: Path | str | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
    executor: str = "local",
    ray_address: str | None = None,
) -> pd.DataFrame:
    """Run (or resume) a sweep into ``run_dir`` and return its results table.

    Units are (shots, seed) pairs, seed-major, so under ``train-split`` each seed's Q-Former is trained
    once and reused by its shot counts. A damaged or incomplete unit file is recomputed. ``executor``
    ``"ray"`` runs the units (and the Q-Formers they need) as Ray tasks (``sweep_ray.py``) on the
    cluster at ``ray_address`` or a local instance; the run folder and the numbers are the same.
    """
    cfg.validate()
    check_executor(executor, ray_address)
    device = resolve_device(cfg.device) if executor == "local" else None
    run = RunFolder(run_dir)
    fingerprint = bundle_fingerprint(bundle)
    val_idx = validation_indices(bundle.train_labels, cfg.val_per_class, fixed_val=bundle.val_indices)
    config = {
        "dataset": bundle.dataset,
        "sweep": asdict(cfg),
        "qformer_images_per_class": qformer_images_per_class(bundle.train_labels, val_idx, cfg.protocol),
        "features": bundle.provenance,
        "features_sha256": fingerprint,
        "versions": library_versions(),
    }
    config["key"] = content_key({"sweep": config["sweep"], "features": fingerprint})
    run.start({**config, "created": timestamp()})
    run.drop_damaged_units()
    units = [(k, s) for s in cfg.seeds for k in cfg.shots]
    total = len(units) + 1
    run.save_test_index(bundle)
    if not run.done("zeroshot"):
        zs_pred = {"zeroshot": zero_shot_predict(bundle.test_features, bundle.class_text_features)} if "zeroshot" in cfg.methods else {}
        run.save_unit("zeroshot", _zero_shot_rows(bundle, cfg, val_idx), predictions=zs_pred)
    finished = 1 + sum(run.done(unit_name(k, s)) for k, s in units)
    on_progress(finished, total, "zero-shot done")
    todo = [(k, s) for k, s in units if not run.done(unit_name(k, s))]

    def save(shots: int, seed: int, result: UnitResult) -> None:
        nonlocal finished
        rows, extra, preds = result
        run.save_unit(unit_name(shots, seed), rows, {**extra, "executor": executor}, preds)
        run.write_tables()
        finished += 1
        on_progress(finished, total, f"{shots}-shot seed {seed} done")

    if executor == "ray":
        from .sweep_ray import run_units_on_ray

        run_units_on_ray(bundle, cfg, todo, val_idx, qformer_cache, ray_address, save, should_cancel)
    else:
        translator = _Translator(bundle, cfg, device, qformer_cache, val_idx, should_cancel, on_progress)
        for shots, seed in todo:
            check_cancel(should_cancel, "The sweep")
            save(shots, seed, compute_unit(bundle, cfg, shots, seed, translator, device, should_cancel))
    return run.write_tables()


UnitResult = tuple[list[dict[str, Any]], dict[str, Any], dict[str, np.ndarray]]  # rows, record extras, test predictions


def unit_name(shots: int, seed: int) -> str:
    """The run folder's name for the (shots, seed) unit."""
    return f"{shots:02d}-{seed}"


def compute_unit(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    shots: int,
    seed: int,
    translator: _Translator,
    device: torch.device,
    should_cancel: CancelFn = never_cancel,
) -> UnitResult:
    """Every method of one (shots, seed) unit: its result rows, record extras and test predictions."""
    split = sample_few_shot(bundle.train_labels, shots, seed, cfg.val_per_class, fixed_val=bundle.val_indices)
    start = time.perf_counter()
    rows, preds = _unit_rows(bundle, cfg, split, translator, device, should_cancel)
    return rows, {"seconds": round(time.perf_counter() - start, 3), "short_classes": split.short_classes}, preds


def qformer_images_per_class(train_labels: np.ndarray, val_idx: np.ndarray, protocol: str) -> float | None:
    """Labelled images per class the translators learn from: the median over classes for
    ``train-split``; None for ``support``, where it is the shot count k of each row."""
    if protocol != "train-split":
        return None
    keep = np.setdiff1d(np.arange(len(train_labels)), val_idx)
    return float(np.median(np.unique(train_labels[keep], return_counts=True)[1]))


def _zero_shot_rows(bundle: FeatureBundle, cfg: SweepConfig, val_idx: np.ndarray) -> list[dict[str, Any]]:
    """Zero-shot CLIP (seed- and shot-free) and description zero-shot per (text count, seed)."""
    rows = []
    if "zeroshot" in cfg.methods:
        acc = lambda x, y: accuracy(zero_shot_predict(x, bundle.class_text_features), y)  # noqa: E731
        val, test = acc(bundle.train_features[val_idx], bundle.train_labels[val_idx]), acc(bundle.test_features, bundle.test_labels)
        rows.append(ResultRow(bundle.dataset, "zeroshot", 0, 0, 0, val, test).record())
    if "description-zeroshot" in cfg.methods:
        for m in (m for m in cfg.text_counts if m > 0):
            for seed in cfg.seeds:
                pick = select_descriptions(bundle.description_labels, m, seed)
                emb = description_class_embeddings(bundle.description_features, bundle.description_labels, bundle.num_classes, pick)
                acc = lambda x, y: accuracy(zero_shot_predict(x, emb), y)  # noqa: E731, B023
                val, test = acc(bundle.train_features[val_idx], bundle.train_labels[val_idx]), acc(bundle.test_features, bundle.test_labels)
                rows.append(ResultRow(bundle.dataset, "description-zeroshot", 0, m, seed, val, test).record())
    return rows


def _training_sets(
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: _Translator
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, np.ndarray]]]:
    """Every adapter head of one unit as rows of one pool: (pool features, pool labels, heads).

    The pool is the support images followed by each translation's pseudo features; a head is
    (translation, texts, row indices into the pool): image only first, then per translation and count.
    """
    sx, sy = bundle.train_features[split.support], bundle.train_labels[split.support]
    support = np.arange(len(sy))
    heads = [(NONE, 0, support)] if 0 in cfg.text_counts else []
    pool_x, pool_y = [sx], [sy]
    counts = [m for m in cfg.text_counts if m > 0]
    offset = len(sy)
    for name in cfg.translations if counts else []:
        pool_x.append(translator.pseudo_features(name, split))  # (M, D)
        pool_y.append(bundle.description_labels)
        for m in counts:
            pick = select_descriptions(bundle.description_labels, m, split.seed)
            heads.append((name, m, np.concatenate([support, offset + pick])))
        offset += len(bundle.description_labels)
    return np.concatenate(pool_x), np.concatenate(pool_y), heads


def _unit_rows(
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: _Translator, device: torch.device, should_cancel: CancelFn
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Every method for one (shots, seed): result rows and test predictions."""
    x, y = bundle.train_features, bundle.train_labels
    sx, sy, vx, vy = x[split.support], y[split.support], x[split.val], y[split.val]
    rows, preds = [], {}
    if "adapter" in cfg.methods:
        pool_x, pool_y, sets = _training_sets(bundle, cfg, split, translator)
        adapter_cfg = replace(cfg.adapter, seed=cfg.adapter.seed + split.seed)
        heads = train_adapter_heads(
            pool_x, pool_y, [r for _, _, r in sets], bundle.num_classes, adapter_cfg, bundle.class_text_features, device, should_cancel
        )
        test_pred = heads.predict(bundle.test_features)  # (H, N_test)
        for (name, m, _), va, pred in zip(sets, heads.accuracy(vx, vy), test_pred):
            test = accuracy(pred, bundle.test_labels)
            row = ResultRow(bundle.dataset, "adapter", split.shots, m, split.seed, va, test, cfg.protocol, translation=name, head=cfg.adapter.init)
            rows.append(row.record())
            preds["adapter-0" if m == 0 else f"adapter-{name}-{m}"] = pred
    if "linear-probe" in cfg.methods:
        lp = linear_probe(sx, sy, vx, vy, bundle.test_features)
        test = accuracy(lp.test_pred, bundle.test_labels)
        rows.append(ResultRow(bundle.dataset, "linear-probe", split.shots, 0, split.seed, lp.val_acc, test, chosen=lp.chosen).record())
        preds["linear-probe"] = lp.test_pred
    if "tip-adapter" in cfg.methods:
        tip = tip_adapter(sx, sy, bundle.class_text_features, vx, vy, bundle.test_features)
        test = accuracy(tip.test_pred, bundle.test_labels)
        rows.append(ResultRow(bundle.dataset, "tip-adapter", split.shots, 0, split.seed, tip.val_acc, test, chosen=tip.chosen).record())
        preds["tip-adapter"] = tip.test_pred
    return rows, preds


class _Translator:
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
        cache: Path | str | None,
        val_idx: np.ndarray,
        should_cancel: CancelFn = never_cancel,
        on_progress: ProgressFn = no_progress,
    ):
        self.bundle, self.cfg, self.device, self.val_idx = bundle, cfg, device, val_idx
        self.should_cancel, self.on_progress = should_cancel, on_progress
        self.cache = Path(cache) if cache else None
        self.text = TextSide(bundle.description_features, bundle.description_labels, bundle.description_tokens, bundle.description_mask)
        self._per_seed: dict[int, np.ndarray] = {}  # train-split: seed -> Q-Former translations

    def allowed_images(self, split: FewShotSplit) -> np.ndarray:
        """Indices into the training split that the protocol lets the translators see."""
        return self._train_split_images() if self.cfg.protocol == "train-split" else np.asarray(split.support)

    def _train_split_images(self) -> np.ndarray:
        """``train-split``: every training image but the validation ones."""
        return np.setdiff1d(np.arange(len(self.bundle.train_labels)), self.val_idx)

    def pseudo_features(self, name: str, split: FewShotSplit) -> np.ndarray:
        """(M, D) descriptions translated by ``name`` (raw, mean-shift or qformer) for this split."""
        if name == "raw":
            return self.bundle.description_features
        if name == "mean-shift":
            return mean_shift(self.bundle.description_features, self.bundle.train_features[self.allowed_images(split)])
        if self.cfg.protocol == "train-split":
            return self.seed_translations(split.seed)
        return self._train_and_translate(self.allowed_images(split), split.seed)

    def seed_translations(self, seed: int) -> np.ndarray:
        """``train-split``: the seed's Q-Former translations (trained or loaded once, then kept)."""
        if seed not in self._per_seed:
            self._per_seed[seed] = self._train_and_translate(self._train_split_images(), seed)
        return self._per_seed[seed]

    def keep_seed_translations(self, seed: int, features: np.ndarray) -> None:
        """``train-split``: use translations made elsewhere (a Ray task) for this seed."""
        self._per_seed[seed] = features

    def _train_and_translate(self, image_idx: np.ndarray, seed: int) -> np.ndarray:
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
        path = self.cache / "qformers" / f"{key}.safetensors" if self.cache else None
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

"""Ways to turn description features into pseudo image features for the adapter, and their registry.

- ``raw``: the text features unchanged (text as extra training samples, as in cross-modal
  adaptation, Lin et al., CVPR 2023).
- ``mean-shift``: close the modality gap without training: each text feature minus the mean
  description feature plus the mean image feature of the images the protocol allows, re-normalised.
- ``qformer``: the trained Q-Former (``qformer.py``), the method under test.

``none`` (no texts: image only) names the adapter rows with 0 texts in a results table.

Every reader (the sweep, ``--translations``, Table 1, the figures, the pages, Ray, the estimate) takes a
translation's name, label, colour and whether it trains from ``TRANSLATION_REGISTRY``, so adding one is
one ``register_translation`` call (CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import FewShotError
from .vectors import l2_normalize

NONE = "none"  # the translation label of image-only adapter rows


@dataclass(frozen=True)
class TranslationInput:
    """What a translation sees of one (shots, seed) unit: every description, the images the protocol allows, the seed.

    ``translator`` is the sweep's ``translator.Translator`` (its bundle, config, device, Q-Former cache and
    progress), for translations that train a model.
    """

    translator: Any
    seed: int
    image_index: np.ndarray  # (N,) rows of the training split the protocol allows: the support set, or the train split less validation

    @property
    def descriptions(self) -> np.ndarray:
        """(M, D) every description's text feature."""
        return self.translator.bundle.description_features

    @property
    def description_labels(self) -> np.ndarray:
        """(M,) the class of each description."""
        return self.translator.bundle.description_labels

    @property
    def images(self) -> np.ndarray:
        """(N, D) the image features the protocol allows."""
        return self.translator.bundle.train_features[self.image_index]

    @property
    def image_labels(self) -> np.ndarray:
        """(N,) their classes."""
        return self.translator.bundle.train_labels[self.image_index]


@dataclass(frozen=True)
class Translation:
    """One way to turn descriptions into pseudo image features, and how every table and figure shows it."""

    name: str  # as --translations, the results' ``translation`` column and the prediction keys spell it
    label: str  # short, for table headers, legends and the verdict ("mean-shift")
    colour: str  # its line, bars and markers in every figure
    needs_training: bool  # trains a model: per unit under support, once per seed under train-split (a Ray task; the estimate counts it)
    translate: Callable[[TranslationInput], np.ndarray]  # (M, D) pseudo image features, one per description, in their order
    long_label: str = ""  # where space allows (the glossary, pickers); "" = ``label``
    explanation: str = ""  # what it does, in a sentence or two (the glossary)

    @property
    def title(self) -> str:
        """The long label, or the label when there is none."""
        return self.long_label or self.label


def mean_shift(text_features: np.ndarray, image_features: np.ndarray) -> np.ndarray:
    """(M, D) texts moved by the gap between the mean image and the mean text, re-normalised.

    Both sides are L2-normalised first (CLIP compares directions), so the shift is between the
    centres of the two cones.

    Args:
        text_features: (M, D) every description feature (their mean is the text centre).
        image_features: (N, D) the images the protocol allows (support set, or train split minus validation).
    """
    t, x = l2_normalize(np.asarray(text_features, np.float32)), l2_normalize(np.asarray(image_features, np.float32))
    return l2_normalize(t - t.mean(axis=0) + x.mean(axis=0)).astype(np.float32)


def _raw(x: TranslationInput) -> np.ndarray:
    return x.descriptions


def _mean_shift(x: TranslationInput) -> np.ndarray:
    return mean_shift(x.descriptions, x.images)


def _qformer(x: TranslationInput) -> np.ndarray:
    """The Q-Former trained on (allowed image, description of its class) pairs, cached on disk by the translator."""
    return x.translator.qformer_translations(x.image_index, x.seed)


# The registry, in display order (tables, figures, pickers). A module-level table like timm's model registry:
# entries are added once, at import, by the module that defines them (tests add theirs with monkeypatch).
TRANSLATION_REGISTRY: dict[str, Translation] = {}


def register_translation(translation: Translation) -> Translation:
    """Add a translation to every reader (sweep, CLI, tables, figures, pages); returns it.

    Raises:
        FewShotError: the name is taken, is ``none``, or would not survive a results column ("a_b" and "a-b" collide).
    """
    name = translation.name
    clash = {n for n in TRANSLATION_REGISTRY if n.replace("-", "_") == name.replace("-", "_")}
    if not name or name == NONE or clash or not name.replace("-", "").replace("_", "").isalnum():
        raise FewShotError(f"Cannot register translation {name!r}: the name must be new, not {NONE!r}, letters, digits and - only.")
    TRANSLATION_REGISTRY[name] = translation
    return translation


def translation(name: str) -> Translation:
    """The registered translation ``name``, with a clear error for an unknown one."""
    if name not in TRANSLATION_REGISTRY:
        raise FewShotError(f"Unknown translation {name!r}; choose from {', '.join(TRANSLATION_REGISTRY)}.")
    return TRANSLATION_REGISTRY[name]


def trained_translations(cfg: Any) -> list[str]:
    """The translations of a sweep config that train a model (none without the adapter or texts), in its order."""
    if "adapter" not in cfg.methods or max(cfg.text_counts, default=0) == 0:
        return []
    return [t for t in cfg.translations if translation(t).needs_training]


class _Names(Sequence):
    """The registered translations' names in display order: a live view, so one registered later shows everywhere."""

    def __getitem__(self, i):
        return tuple(TRANSLATION_REGISTRY)[i]

    def __len__(self) -> int:
        return len(TRANSLATION_REGISTRY)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # it changes with the registry

    def __repr__(self) -> str:
        return repr(tuple(self))


class _Labels(Mapping):
    """Name -> label of every registered translation: a live view of the registry (renaming one is one edit there)."""

    def __getitem__(self, name: str) -> str:
        return TRANSLATION_REGISTRY[name].label

    def __iter__(self) -> Iterator[str]:
        return iter(TRANSLATION_REGISTRY)

    def __len__(self) -> int:
        return len(TRANSLATION_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


TRANSLATIONS = _Names()  # how descriptions become pseudo image features, in display order
TRANSLATION_LABELS = _Labels()  # how each translation is shown everywhere (tables, figures, verdict)

register_translation(
    Translation(
        "raw",
        "raw",
        "#ff7f0e",
        False,
        _raw,
        explanation="Description embeddings used unchanged as extra training samples for the adapter (text features are not "
        "image features: the modality gap stays).",
    )
)
register_translation(
    Translation(
        "mean-shift",
        "mean-shift",
        "#8c564b",
        False,
        _mean_shift,
        explanation="Each description embedding minus the mean description embedding plus the mean image embedding of the "
        "images the protocol allows, re-normalised: closes the modality gap with no training.",
    )
)
register_translation(
    Translation(
        "qformer",
        "pooled Q-Former",  # with the default pooled input the cross-attention has one key: an MLP with a skip (issue #20)
        "#d62728",
        True,
        _qformer,
        long_label="Q-Former (pooled input: an MLP with a skip)",
        explanation="The method: a small network trained on (image, description of its class) pairs turns description "
        "embeddings into pseudo image features, which train the adapter beside the real images. With the default pooled "
        "input its cross-attention has a single key, so it is an MLP on the text plus a linear skip (--qformer-input "
        "tokens gives it CLIP's per-token states).",
    )
)

"""Synthetic CLIP-like features where the truth is known: for tests and benchmarks.

Classes are prototypes on the unit sphere that share a common direction (fine-grained: classes are
close). Two modes (``SyntheticSpec.mode``):

- ``rotation``: image features are noisy prototypes plus an image-side offset; text features are a
  fixed rotation of the prototypes, noisy, plus a text-side offset. A translator has to learn the
  rotation; no training-free shift can undo it.
- ``shift``: image features are noisy prototypes; text features are the prototypes plus a mostly
  constant modality-gap shift (one direction for all classes, a small per-class part), plus noise,
  re-normalised, as real CLIP's gap is (Liang et al., 2022). Subtracting the mean text and adding the
  mean image ("mean shift") undoes most of it without training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bundle import FeatureBundle
from .errors import FewShotError
from .vectors import l2_normalize

MODES = ("rotation", "shift")


@dataclass
class SyntheticSpec:
    """Sizes and difficulty of a synthetic dataset (defaults: CUB-sized)."""

    num_classes: int = 200
    dim: int = 512
    train_per_class: int = 30  # CUB has 5994 train images for 200 classes: 29-30 each
    test_per_class: int = 29  # CUB: 5794 test images
    descriptions_per_class: int = 30
    shared: float = 1.2  # weight of the direction all classes share (higher: closer classes)
    image_noise: float = 2.0  # per-image noise relative to a unit prototype
    text_noise: float = 2.5  # per-description noise (class-name prompts get a third of it)
    rotation: float = 1.2  # strength of the text-space rotation (0: text space = image space)
    gap: float = 0.5  # modality gap: length of the opposite offsets of images and texts (shift mode: of the text shift)
    mode: str = "rotation"  # "rotation" (text = rotated prototypes) or "shift" (text = prototypes + a near-constant gap)
    gap_jitter: float = 0.1  # shift mode: length of each class's own part of the gap (0: perfectly constant)
    seed: int = 0


def _rotation(dim: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix near the identity: expm of a scaled skew-symmetric matrix."""
    from scipy.linalg import expm

    a = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    return expm(strength * (a - a.T) / 2).astype(np.float32)


def make_synthetic(spec: SyntheticSpec | None = None) -> FeatureBundle:
    """Generate a ``FeatureBundle`` (train/test image features, prompts, descriptions) from ``spec``."""
    s = spec or SyntheticSpec()
    if s.mode not in MODES:
        raise FewShotError(f"Unknown synthetic mode {s.mode!r}; choose one of {', '.join(MODES)}.")
    if s.mode == "shift":
        return _make_shift(s)
    rng = np.random.default_rng(s.seed)
    protos = l2_normalize(s.shared * l2_normalize(rng.standard_normal(s.dim)) + l2_normalize(rng.standard_normal((s.num_classes, s.dim))))
    rot = _rotation(s.dim, s.rotation, rng)
    gap = l2_normalize(rng.standard_normal(s.dim)) * s.gap

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(s.num_classes), n)
        noise = rng.standard_normal((len(labels), s.dim)) * s.image_noise / np.sqrt(s.dim)
        return (l2_normalize(protos[labels] + noise) + gap).astype(np.float32), labels

    def texts(n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(s.num_classes), n)
        eps = rng.standard_normal((len(labels), s.dim)) * noise / np.sqrt(s.dim)
        return (l2_normalize(protos[labels] @ rot.T + eps) - gap).astype(np.float32), labels

    train_x, train_y = images(s.train_per_class)
    test_x, test_y = images(s.test_per_class)
    prompts, _ = texts(1, s.text_noise / 3)  # class-name prompts: cleaner than descriptions
    desc, desc_y = texts(s.descriptions_per_class, s.text_noise)
    return _bundle(s, train_x, train_y, test_x, test_y, prompts, desc, desc_y)


def _make_shift(s: SyntheticSpec) -> FeatureBundle:
    """The ``shift`` mode: text = l2_normalize(prototype + noise) + gap + per-class jitter, re-normalised."""
    rng = np.random.default_rng(s.seed)
    protos = l2_normalize(s.shared * l2_normalize(rng.standard_normal(s.dim)) + l2_normalize(rng.standard_normal((s.num_classes, s.dim))))
    gap = l2_normalize(rng.standard_normal(s.dim)) * s.gap  # (D,) the same for every class
    jitter = l2_normalize(rng.standard_normal((s.num_classes, s.dim))) * s.gap_jitter  # (C, D) each class's own part

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(s.num_classes), n)
        noise = rng.standard_normal((len(labels), s.dim)) * s.image_noise / np.sqrt(s.dim)
        return l2_normalize(protos[labels] + noise).astype(np.float32), labels

    def texts(n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(s.num_classes), n)
        eps = rng.standard_normal((len(labels), s.dim)) * noise / np.sqrt(s.dim)
        return l2_normalize(l2_normalize(protos[labels] + eps) + gap + jitter[labels]).astype(np.float32), labels

    train_x, train_y = images(s.train_per_class)
    test_x, test_y = images(s.test_per_class)
    prompts, _ = texts(1, s.text_noise / 3)
    desc, desc_y = texts(s.descriptions_per_class, s.text_noise)
    return _bundle(s, train_x, train_y, test_x, test_y, prompts, desc, desc_y)


def _bundle(s: SyntheticSpec, train_x, train_y, test_x, test_y, prompts, desc, desc_y) -> FeatureBundle:
    """Wrap generated arrays as a FeatureBundle whose provenance is the spec."""
    names = [f"class {c:03d}" for c in range(s.num_classes)]
    return FeatureBundle(
        dataset="synthetic",
        class_names=names,
        train_features=train_x,
        train_labels=train_y,
        test_features=test_x,
        test_labels=test_y,
        class_text_features=prompts,
        description_features=desc,
        description_labels=desc_y,
        provenance={"source": "synthetic", **{k: v for k, v in vars(s).items()}},
    )

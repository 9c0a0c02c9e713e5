"""Few-shot sampling: k images per class from the training split, plus a fixed validation set.

The validation set is drawn once per class with ``val_seed`` and is the same for every shot count and
every seed, so a sweep has one validation set, disjoint from every support set, that the Q-Former's
``train-split`` protocol can leave out. The support set is drawn from the remaining images with a
per-(seed, class) shuffle and takes its first k: the 1-shot support is inside the 2-shot support
for the same seed, so shot curves compare like with like.

A dataset with its own validation list (a split file's ``val``, or an official val split) passes it as
``fixed_val``: it replaces the draw, and support sets come from the other training images only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import FewShotError


@dataclass(frozen=True)
class FewShotSplit:
    """Indices into the training split for one (k, seed) draw."""

    shots: int
    seed: int
    support: np.ndarray  # (<= C*k,) indices into the training split
    val: np.ndarray  # (<= C*val_per_class,) indices, disjoint from support
    short_classes: dict[int, int] = field(default_factory=dict)  # class -> support images it got (< k)


def validation_indices(labels: np.ndarray, val_per_class: int, val_seed: int = 0, fixed_val: np.ndarray | None = None) -> np.ndarray:
    """The validation images: up to ``val_per_class`` per class, at most a third of a class; or ``fixed_val`` when given."""
    if fixed_val is not None:
        return np.sort(np.asarray(fixed_val, np.int64))
    labels = np.asarray(labels)
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        v = min(val_per_class, len(idx) // 3)
        picks.append(np.sort(np.random.default_rng([val_seed, 1, int(c)]).choice(idx, v, replace=False)))
    return np.concatenate(picks) if picks else np.zeros(0, np.int64)


def sample_few_shot(
    labels: np.ndarray, shots: int, seed: int, val_per_class: int = 4, val_seed: int = 0, fixed_val: np.ndarray | None = None
) -> FewShotSplit:
    """Draw ``shots`` support images per class, disjoint from the fixed validation set.

    Classes with fewer than ``shots`` images outside validation keep all they have and are listed
    in ``short_classes`` (never an error).

    Args:
        labels: (N,) training labels.
        shots: images per class for the support set (>= 1).
        seed: seed of the support shuffle; the same seed gives the same split.
        val_per_class: validation images per class (the same set for every seed and shot).
        val_seed: seed of the validation draw.
        fixed_val: (V,) indices of a given validation list; replaces the draw (``val_per_class`` is then unused).
    """
    if shots < 1:
        raise FewShotError(f"shots must be at least 1, got {shots}.")
    labels = np.asarray(labels)
    val = validation_indices(labels, val_per_class, val_seed, fixed_val)
    rest = np.setdiff1d(np.arange(len(labels)), val)
    support, short = [], {}
    for c in np.unique(labels):
        idx = rest[labels[rest] == c]
        idx = idx[np.random.default_rng([seed, 0, int(c)]).permutation(len(idx))]
        support.append(idx[:shots])
        if len(idx) < shots:
            short[int(c)] = len(idx)
    return FewShotSplit(shots, seed, np.concatenate(support), val, short)

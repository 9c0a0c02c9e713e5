"""Few-shot sampling: k images per class from the training split, plus a disjoint validation set.

Per class and seed, the training images are shuffled once; the support set takes the first k and
the validation set the last ``val_per_class``. So the 1-shot support is inside the 2-shot support
for the same seed (shot curves compare like with like), and the validation set never changes with k
as long as the class has enough images.
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
    short_classes: dict[int, int] = field(default_factory=dict)  # class -> images it had (< k + val)


def sample_few_shot(labels: np.ndarray, shots: int, seed: int, val_per_class: int = 4) -> FewShotSplit:
    """Draw ``shots`` support and up to ``val_per_class`` validation images per class.

    Classes with fewer than ``shots + val_per_class`` images keep as many support images as they
    can (up to ``shots``), then give the rest to validation; they are listed in ``short_classes``.

    Args:
        labels: (N,) training labels.
        shots: images per class for the support set (>= 1).
        seed: seed of the per-class shuffle; the same seed gives the same split.
        val_per_class: validation images per class, drawn from what the support did not take.
    """
    if shots < 1:
        raise FewShotError(f"shots must be at least 1, got {shots}.")
    labels = np.asarray(labels)
    support, val, short = [], [], {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng = np.random.default_rng([seed, int(c)])  # per-class stream: adding classes keeps others
        idx = idx[rng.permutation(len(idx))]
        k = min(shots, len(idx))
        v = min(val_per_class, len(idx) - k)
        support.append(idx[:k])
        val.append(idx[len(idx) - v :] if v else idx[:0])
        if len(idx) < shots + val_per_class:
            short[int(c)] = len(idx)
    return FewShotSplit(shots, seed, np.concatenate(support), np.concatenate(val), short)

"""What every baseline shares: zero-shot CLIP, prompt templates, the fitted-baseline record, accuracy,
and running the numerics on one thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..datasets import DEFAULT_TEMPLATES, dataset_info, list_datasets
from ..vectors import l2_normalize

if TYPE_CHECKING:
    import torch

CLIP_LOGIT_SCALE = 100.0  # CLIP's learned temperature: zero-shot logits are 100 * cos(x, t)


def templates_for(dataset: str) -> list[str]:
    """The zero-shot prompt templates for a dataset (its registry entry's, ``DatasetInfo.templates``; CLIP's plain
    "a photo of a {}." for an unknown name, e.g. synthetic features)."""
    return list(dataset_info(dataset).templates if dataset in list_datasets() else DEFAULT_TEMPLATES)


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``pred`` equal to ``labels`` (NaN for no labels)."""
    return float((np.asarray(pred) == np.asarray(labels)).mean()) if len(labels) else float("nan")


def zero_shot_predict(features: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
    """argmax_c cos(x, t_c): CLIP's zero-shot classifier."""
    return (l2_normalize(features) @ l2_normalize(class_embeddings).T).argmax(1)


def description_class_embeddings(
    desc_features: np.ndarray, desc_labels: np.ndarray, num_classes: int, per_class: np.ndarray | None = None
) -> np.ndarray:
    """(C, D) class embeddings as the mean of each class's normalised description features (CuPL).

    ``per_class`` optionally selects which descriptions to use (indices into ``desc_features``).
    Classes without descriptions get a zero row (never predicted over one that has some).
    """
    feats, labels = (desc_features, desc_labels) if per_class is None else (desc_features[per_class], desc_labels[per_class])
    out = np.zeros((num_classes, feats.shape[1]), np.float32)
    np.add.at(out, labels, l2_normalize(feats))
    return out


@dataclass
class FittedBaseline:
    """A baseline's test predictions and the setting chosen on validation.

    ``chosen`` is JSON-serialisable: the chosen hyper-parameters plus ``at_grid_edge`` (a chosen value
    still on a grid edge that is not a natural bound after the allowed extensions) and ``grid_extensions``
    (how many times the grid was extended); see ``grid.search_grid``.
    """

    test_pred: np.ndarray
    val_acc: float
    chosen: dict = field(default_factory=dict)


def unit_tensor(x: np.ndarray) -> torch.Tensor:
    """Rows of ``x`` scaled to length 1, as a float32 tensor (every baseline normalises as CLIP's papers do)."""
    import torch

    return torch.as_tensor(l2_normalize(np.asarray(x, np.float32)), dtype=torch.float32)


def validation_accuracy(pred: torch.Tensor | np.ndarray, labels: np.ndarray) -> float:
    """Accuracy on the validation split; 0.0 when it is empty (every setting then ties)."""
    return accuracy(np.asarray(pred), labels) if len(labels) else 0.0


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block.

    Reductions split across threads sum in another order: the local executor (all cores) and a Ray
    worker (one) must fit the very same baselines (bench_scale.py), so they all run on one thread.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class EpochTrainer:
    """Training advanced one epoch at a time, for an epoch axis chosen on validation (LP++, Tip-Adapter-F).

    Subclasses set ``epoch`` (0), ``val_accs`` and ``kept`` (empty dicts) and define ``step`` (one epoch),
    ``val_predict`` (class predictions of prepared validation features now) and ``snapshot`` (the parameters now).
    Parameters are kept for the epochs whose validation accuracy beats every earlier epoch: with ties going to
    the earlier epoch, only those can be chosen.
    """

    epoch: int
    val_accs: dict[int, float]
    kept: dict[int, object]

    def val_acc(self, epoch: int, val, val_y: np.ndarray) -> float:
        """Validation accuracy after ``epoch`` epochs, training on as far as needed."""
        while self.epoch < epoch:
            self.step()
            self._record(val, val_y)
        if epoch not in self.val_accs:  # epoch 0: the initialisation
            self._record(val, val_y)
        return self.val_accs[epoch]

    def _record(self, val, val_y: np.ndarray) -> None:
        acc = validation_accuracy(self.val_predict(val), val_y)
        if acc > max(self.val_accs.values(), default=-1.0):
            self.kept[self.epoch] = self.snapshot()
        self.val_accs[self.epoch] = acc

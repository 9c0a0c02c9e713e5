"""Tip-Adapter-F (Zhang et al., ECCV 2022): Tip-Adapter whose cache keys are fine-tuned on the support set.

From the authors' code (github.com/gaopengcuhk/Tip-Adapter, ``run_tip_adapter_F``): the keys become the weight
of a linear layer, trained with AdamW (lr 1e-3, eps 1e-4, a cosine schedule over 20 epochs, batches of 256)
on the cross-entropy of logits = 100 x T^T + alpha * exp(-beta (1 - x K^T)) L; alpha and beta are then
searched again with the trained keys.

Where this differs, and why:

- The training inputs are the support *features*, not freshly augmented crops (the lab works on cached
  features; the authors encode new random crops every epoch). With few shots the keys then train on the very
  images they hold; validation decides whether that helps (epoch 0 is training-free Tip-Adapter).
- Training uses the alpha and beta that training-free Tip-Adapter chose on validation (the authors: a
  per-dataset initial pair from their config files); where that alpha is 0 (zero-shot CLIP won), the cache
  would get no gradient, so training uses the grid's smallest positive alpha instead.
- The epoch is chosen on validation, ties going to the earlier one (the authors evaluate on *test* after
  every epoch and keep the best). The cosine schedule ends at the last epoch (its learning rate reaches 0),
  so the epoch axis 0..20 has natural bounds at both ends and is never extended.
- Alpha and beta are then searched on validation with the chosen keys, with Tip-Adapter's grids and edge rule.
"""

from __future__ import annotations

import math

import numpy as np

from .common import CLIP_LOGIT_SCALE, EpochTrainer, FittedBaseline, single_thread, unit_tensor
from .grid import Axis, search_grid
from .tip import TIP_ALPHAS, TipCache, search_alpha_beta

TIPF_EPOCHS = 20  # the authors' train_epoch: the cosine schedule ends here
TIPF_LR = 1e-3
TIPF_EPS = 1e-4
TIPF_BATCH = 256


def tip_adapter_f(
    support_x: np.ndarray,
    support_y: np.ndarray,
    class_embeddings: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    seed: int = 0,
    epochs: int = TIPF_EPOCHS,
) -> FittedBaseline:
    """Tip-Adapter-F: keys fine-tuned for the epoch chosen on validation, then alpha and beta chosen on validation.

    Args:
        support_x, support_y: (N, D) support features (the initial keys, and the training set) and labels in [0, C).
        class_embeddings: (C, D) the text classifier combined with the cache.
        val_x, val_y: validation features and labels (the epoch, alpha and beta are chosen on them).
        test_x: (N_test, D) features to predict.
        seed: the order of the training batches.
        epochs: the length of the cosine schedule (the epoch grid is 0..epochs).

    Returns:
        Test predictions, validation accuracy and ``chosen`` = epochs, alpha, beta (the final search's, with its
        edge-rule record) and the alpha and beta the keys were trained with.
    """
    with single_thread():
        free = search_alpha_beta(TipCache(support_x, support_y, class_embeddings), val_x, val_y)
        train_alpha = free.best["alpha"] or min(a for a in TIP_ALPHAS if a > 0)  # alpha 0: no gradient reaches the keys
        trainer = TipFTrainer(support_x, support_y, class_embeddings, train_alpha, free.best["beta"], seed, epochs)
        val = unit_tensor(val_x)
        epoch_axis = Axis("epochs", tuple(range(epochs + 1)), low=0, high=epochs, extend="double", ties="low", integer=True)
        chosen = int(search_grid(lambda p: trainer.val_acc(int(p["epochs"]), val, val_y), [epoch_axis]).best["epochs"])
        cache = TipCache(support_x, support_y, class_embeddings, keys=trainer.kept[chosen])
        result = search_alpha_beta(cache, val_x, val_y)
        test_pred = cache.predict(test_x, result.best["alpha"], result.best["beta"])
    trained_with = {"train_alpha": float(train_alpha), "train_beta": float(free.best["beta"])}
    return FittedBaseline(test_pred, result.score, {**result.report(), "epochs": chosen, **trained_with})


class TipFTrainer(EpochTrainer):
    """The cache keys of one support set under AdamW with a cosine schedule, advanced one epoch at a time; the kept
    parameters are the keys (epoch 0: the support features themselves)."""

    def __init__(self, support_x, support_y, class_embeddings, alpha: float, beta: float, seed: int, epochs: int = TIPF_EPOCHS):
        import torch

        self.x = unit_tensor(support_x)  # (N, D) the training inputs
        self.y = torch.as_tensor(np.asarray(support_y, np.int64))
        self.text = unit_tensor(class_embeddings)  # (C, D)
        self.values = torch.nn.functional.one_hot(self.y, len(self.text)).float()  # (N, C) the cache values L
        self.alpha, self.beta = alpha, beta
        self.keys = torch.nn.Parameter(self.x.clone())  # (N, D): the authors' adapter weight
        self.optimizer = torch.optim.AdamW([self.keys], lr=TIPF_LR, eps=TIPF_EPS)
        self.batches = max(1, math.ceil(len(self.x) / TIPF_BATCH))
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, epochs * self.batches)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.val_accs: dict[int, float] = {}
        self.kept: dict[int, object] = {}

    def logits(self, x, keys):
        """(M, C) Tip-Adapter logits of normalised features ``x`` with cache keys ``keys``."""
        cache = (self.beta * (x @ keys.T - 1.0)).exp() @ self.values
        return CLIP_LOGIT_SCALE * x @ self.text.T + self.alpha * cache

    def step(self) -> None:
        """One epoch of minibatch AdamW over the support features, in a seeded order."""
        import torch

        order = torch.randperm(len(self.x), generator=self.generator)
        for batch in order.chunk(self.batches):
            loss = torch.nn.functional.cross_entropy(self.logits(self.x[batch], self.keys), self.y[batch])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
        self.epoch += 1

    def val_predict(self, val) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.logits(val, self.keys).argmax(1).numpy()

    def snapshot(self):
        return self.keys.detach().clone()

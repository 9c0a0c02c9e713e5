"""Training-free Tip-Adapter (Zhang et al., ECCV 2022): zero-shot logits plus a cache of the support set.

Formula and search as in the authors' code (github.com/gaopengcuhk/Tip-Adapter, ``search_hp``):
logits = 100 x T^T + alpha * exp(-beta (1 - x K^T)) L, with x, K (the support features, the cache keys)
and T (the class embeddings) L2-normalised and L the keys' one-hot labels. The authors search beta over
[0.1, 7..50] and alpha over [0.1, 3..50] (per dataset, linear steps) on validation; here both are searched
on geometric grids of that range, which the edge rule (``grid.search_grid``) extends when a chosen value
sits on an edge: alpha = 0 (zero-shot CLIP) is a natural bound, nothing else is.

Tip-Adapter-F, the same model with its cache keys fine-tuned, is ``tip_f.py`` (not in the default methods: it
costs more per unit than the rest of the unit, as ``benchmarks/bench_baselines.py`` measures).
"""

from __future__ import annotations

import numpy as np

from .common import CLIP_LOGIT_SCALE, FittedBaseline, single_thread, unit_tensor, validation_accuracy
from .grid import MAX_EXTENSIONS, Axis, GridResult, search_grid

TIP_ALPHAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # residual weight of the cache (0: zero-shot CLIP)
TIP_BETAS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # sharpness of the key affinities
_CHUNK = 4096  # test images per block: keeps the (support x test) affinities a few tens of MB


def tip_adapter(
    support_x: np.ndarray,
    support_y: np.ndarray,
    class_embeddings: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    alphas: tuple[float, ...] = TIP_ALPHAS,
    betas: tuple[float, ...] = TIP_BETAS,
    max_extensions: int = MAX_EXTENSIONS,
) -> FittedBaseline:
    """Tip-Adapter with alpha and beta chosen on validation (edge rule).

    Args:
        support_x, support_y: (N, D) support features (the cache keys) and their labels in [0, C).
        class_embeddings: (C, D) the text classifier combined with the cache.
        val_x, val_y: validation features and labels (alpha, beta chosen on them).
        test_x: (N_test, D) features to predict.
        alphas, betas: the initial grids (a one-value grid fixes that value).
        max_extensions: rounds of the edge rule (0: the grids as given).

    Returns:
        Test predictions, validation accuracy and ``chosen`` = alpha, beta and the edge-rule record.
    """
    with single_thread():
        cache = TipCache(support_x, support_y, class_embeddings)
        result = search_alpha_beta(cache, val_x, val_y, alphas, betas, max_extensions)
        test_pred = cache.predict(test_x, result.best["alpha"], result.best["beta"])
    return FittedBaseline(test_pred, result.score, result.report())


def search_alpha_beta(
    cache: TipCache,
    val_x: np.ndarray,
    val_y: np.ndarray,
    alphas: tuple[float, ...] = TIP_ALPHAS,
    betas: tuple[float, ...] = TIP_BETAS,
    max_extensions: int = MAX_EXTENSIONS,
) -> GridResult:
    """Alpha and beta of a cache model chosen on validation (edge rule); the cache logits are computed once per beta."""
    val = cache.parts(val_x)
    by_beta: dict[float, object] = {}

    def score(p: dict[str, float]) -> float:
        if p["beta"] not in by_beta:
            by_beta[p["beta"]] = cache.cache_logits(val[1], p["beta"])
        return validation_accuracy((val[0] + p["alpha"] * by_beta[p["beta"]]).argmax(0).numpy(), val_y)

    return search_grid(score, [Axis("beta", tuple(betas)), Axis("alpha", tuple(alphas), low=0.0)], max_extensions=max_extensions)


class TipCache:
    """The cache model of one support set: keys, labels and the zero-shot classifier.

    ``keys`` defaults to the normalised support features (Tip-Adapter); Tip-Adapter-F passes its fine-tuned keys.
    """

    def __init__(self, support_x: np.ndarray, support_y: np.ndarray, class_embeddings: np.ndarray, keys=None):
        import torch

        self.keys = unit_tensor(support_x) if keys is None else keys  # (N, D)
        self.labels = torch.as_tensor(np.asarray(support_y, np.int64))
        self.text = unit_tensor(class_embeddings)  # (C, D)

    def parts(self, x: np.ndarray):
        """(C, M) zero-shot logits and (N, M) key affinities of features ``x``, computed once per split."""
        xu = unit_tensor(x).T.contiguous()  # (D, M)
        return CLIP_LOGIT_SCALE * (self.text @ xu), self.keys @ xu

    def cache_logits(self, affinity, beta: float):
        """(C, M) sum over each class's keys of exp(-beta (1 - affinity)): the cache's vote."""
        import torch

        votes = torch.exp(beta * (affinity - 1.0))
        return torch.zeros(len(self.text), affinity.shape[1]).index_add_(0, self.labels, votes)  # = L^T votes, without the one-hot matmul

    def predict(self, x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
        """Tip-Adapter's class predictions for ``x``, in blocks of test images."""
        out = []
        for start in range(0, len(x), _CHUNK):
            zs, affinity = self.parts(x[start : start + _CHUNK])
            out.append((zs + alpha * self.cache_logits(affinity, beta)).argmax(0).numpy())
        return np.concatenate(out) if out else np.zeros(0, np.int64)

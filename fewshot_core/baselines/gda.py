"""GDA (Wang et al., "A Hard-to-Beat Baseline for Training-free CLIP-based Adaptation", ICLR 2024).

Gaussian discriminant analysis on L2-normalised CLIP features with one covariance shared by all classes,
ensembled with zero-shot CLIP. Formulas as in the authors' code (github.com/mrflogs/ICLR24,
``main_few_shots.py``):

- mu_k: mean of class k's support features; c_i = x_i - mu_{y_i}; S = sum_i c_i c_i^T (the scatter).
- precision (their empirical-Bayes ridge estimate): Sigma^-1 = D ((N - 1) Cov + tr(Cov) I)^-1 with
  Cov = S / (N - 1), i.e. D (S + tr(S) / (N - 1) I)^-1.
- W = Sigma^-1 mu (rows per class), b_k = log pi_k - mu_k^T Sigma^-1 mu_k / 2 with a uniform prior pi_k = 1/C.
- logits = 100 x T^T + alpha (x W^T + b); alpha chosen on validation. The authors search alpha over
  1e-4 .. 100 by decades; here by half-decades with alpha = 0 (zero-shot CLIP) as the natural lower
  bound, and the edge rule (``grid.search_grid``) extends the top.

Two cases the paper does not meet (it averages 10 augmented views of every image, so the scatter is never
empty): with one image per class there is no within-class spread to estimate, and the covariance falls
back to (1/D) I, the per-dimension variance of a random unit vector (GDA becomes nearest-class-mean, with
alpha tuned as usual); a class without support images gets, per image, the mean of the other classes'
GDA logits, so the zero-shot part alone ranks it.
"""

from __future__ import annotations

import math

import numpy as np

from .common import CLIP_LOGIT_SCALE, FittedBaseline, single_thread, unit_tensor, validation_accuracy
from .grid import MAX_EXTENSIONS, Axis, search_grid

GDA_ALPHAS = (0.0,) + tuple(10.0 ** (k / 2) for k in range(-8, 5))  # 0, 1e-4, 3.2e-4, ..., 100: weight of the GDA logits


def gda(
    support_x: np.ndarray,
    support_y: np.ndarray,
    class_embeddings: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    alphas: tuple[float, ...] = GDA_ALPHAS,
    max_extensions: int = MAX_EXTENSIONS,
) -> FittedBaseline:
    """GDA ensembled with zero-shot CLIP, the ensemble weight chosen on validation (edge rule).

    Args:
        support_x, support_y: (N, D) support features and their labels in [0, C).
        class_embeddings: (C, D) the text classifier of the zero-shot part.
        val_x, val_y: validation features and labels (alpha chosen on them).
        test_x: (N_test, D) features to predict.
        alphas: the initial grid of the GDA weight (a one-value grid fixes it).
        max_extensions: rounds of the edge rule (0: the grid as given).

    Returns:
        Test predictions, validation accuracy and ``chosen`` = alpha and the edge-rule record.
    """
    with single_thread():
        text = unit_tensor(class_embeddings)
        weight, bias = gda_classifier(support_x, support_y, len(text))

        def parts(x: np.ndarray):
            xu = unit_tensor(x)
            return CLIP_LOGIT_SCALE * xu @ text.T, _gda_logits(xu, weight, bias)

        val_zs, val_gda = parts(val_x)
        result = search_grid(
            lambda p: validation_accuracy((val_zs + p["alpha"] * val_gda).argmax(1).numpy(), val_y),
            [Axis("alpha", tuple(alphas), low=0.0)],
            max_extensions=max_extensions,
        )
        test_zs, test_gda = parts(test_x)
        test_pred = (test_zs + result.best["alpha"] * test_gda).argmax(1).numpy()
    return FittedBaseline(test_pred, result.score, result.report())


def gda_classifier(support_x: np.ndarray, support_y: np.ndarray, num_classes: int):
    """GDA's linear classifier (W, b): (C, D) and (C,) float64 tensors; NaN rows for classes without support.

    Features are L2-normalised first. See the module docstring for the precision estimate and its
    one-image-per-class fallback.
    """
    import torch

    x = unit_tensor(support_x).double()
    y = torch.as_tensor(np.asarray(support_y, np.int64))
    n, dim = x.shape
    counts = torch.bincount(y, minlength=num_classes).double()
    means = torch.zeros(num_classes, dim, dtype=torch.float64).index_add_(0, y, x) / counts.clamp(min=1)[:, None]
    centred = x - means[y]
    scatter = centred.T @ centred  # (D, D)
    ridge = scatter.trace() / max(n - 1, 1)
    if ridge > 0:
        weight = dim * torch.linalg.solve(scatter + ridge * torch.eye(dim, dtype=torch.float64), means.T).T  # (C, D) = (Sigma^-1 mu)^T
    else:  # no within-class spread: Sigma = I / D
        weight = dim * means
    bias = math.log(1.0 / num_classes) - 0.5 * (weight * means).sum(1)
    absent = counts == 0
    weight[absent], bias[absent] = float("nan"), float("nan")
    return weight, bias


def _gda_logits(xu, weight, bias):
    """(M, C) GDA logits of normalised features; a class without support gets the mean of the others'."""
    import torch

    present = ~torch.isnan(bias)
    out = torch.zeros(len(xu), len(bias))
    if present.any():
        logits = (xu.double() @ weight[present].T + bias[present]).float()
        out[:] = logits.mean(1, keepdim=True)
        out[:, present] = logits
    return out

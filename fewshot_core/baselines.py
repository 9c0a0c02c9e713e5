"""Baselines on the same cached features and splits: zero-shot CLIP, description zero-shot (CuPL),
linear probe (logistic regression, regularisation chosen on validation) and Tip-Adapter."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .vectors import unit

# Class-name prompt templates for zero-shot CLIP (the CLIP paper's dataset-specific ones).
PROMPT_TEMPLATES: dict[str, list[str]] = {
    "cub": ["a photo of a {}, a type of bird."],
    "pets": ["a photo of a {}, a type of pet."],
    "flowers102": ["a photo of a {}, a type of flower."],
    "fgvc-aircraft": ["a photo of a {}, a type of aircraft."],
    "food101": ["a photo of {}, a type of food."],
    "dtd": ["a photo of a {} texture."],
    "stanford-cars": ["a photo of a {}."],
    "default": ["a photo of a {}."],
}
LP_C_GRID = (1.0, 10.0, 100.0)  # inverse L2 strength on unit-norm features, searched on validation
TIP_ALPHAS = (0.5, 1.0, 2.0, 4.0)  # Tip-Adapter residual weight
TIP_BETAS = (1.0, 3.0, 5.5, 8.0)  # Tip-Adapter affinity sharpness


def templates_for(dataset: str) -> list[str]:
    """The zero-shot prompt templates for a dataset."""
    return PROMPT_TEMPLATES.get(dataset, PROMPT_TEMPLATES["default"])


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(pred) == np.asarray(labels)).mean()) if len(labels) else float("nan")


def zero_shot_predict(features: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
    """argmax_c cos(x, t_c): CLIP's zero-shot classifier."""
    return (unit(features) @ unit(class_embeddings).T).argmax(1)


def description_class_embeddings(
    desc_features: np.ndarray, desc_labels: np.ndarray, num_classes: int, per_class: np.ndarray | None = None
) -> np.ndarray:
    """(C, D) class embeddings as the mean of each class's normalised description features (CuPL).

    ``per_class`` optionally selects which descriptions to use (indices into ``desc_features``).
    Classes without descriptions get a zero row (never predicted over one that has some).
    """
    feats, labels = (desc_features, desc_labels) if per_class is None else (desc_features[per_class], desc_labels[per_class])
    out = np.zeros((num_classes, feats.shape[1]), np.float32)
    np.add.at(out, labels, unit(feats))
    return out


@dataclass
class FittedBaseline:
    """A baseline's test predictions and the setting chosen on validation."""

    test_pred: np.ndarray
    val_acc: float
    chosen: dict = field(default_factory=dict)


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, test_x: np.ndarray, grid: tuple[float, ...] = LP_C_GRID
) -> FittedBaseline:
    """Multinomial logistic regression (scikit-learn, L-BFGS) on normalised features; C chosen on validation."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    best: tuple[float, float, LogisticRegression] | None = None
    model = LogisticRegression(max_iter=300, warm_start=True)
    for c in grid:  # warm-started along the path: each fit starts from the previous solution
        model.set_params(C=c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message="The number of unique classes")  # 1-shot: one sample per class
            model.fit(unit(train_x), train_y)
        val_acc = accuracy(model.predict(unit(val_x)), val_y) if len(val_y) else 0.0
        if best is None or val_acc > best[0]:
            best = (val_acc, c, _snapshot(model))
    val_acc, c, chosen = best
    return FittedBaseline(_predict_linear(chosen, test_x), val_acc, {"C": c})


def _snapshot(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return model.coef_.copy(), model.intercept_.copy(), model.classes_.copy()


def _predict_linear(snapshot: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    coef, intercept, classes = snapshot
    return classes[(unit(x) @ coef.T + intercept).argmax(1)]


def tip_adapter(
    support_x: np.ndarray,
    support_y: np.ndarray,
    class_embeddings: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    alphas: tuple[float, ...] = TIP_ALPHAS,
    betas: tuple[float, ...] = TIP_BETAS,
) -> FittedBaseline:
    """Training-free Tip-Adapter (Zhang et al. 2022): zero-shot logits plus a cache model.

    logits = 100 * x W^T + alpha * exp(-beta * (1 - x K^T)) L, with K the support features and L
    their one-hot labels; alpha and beta chosen on validation.
    """
    keys = unit(support_x)
    values = np.eye(class_embeddings.shape[0], dtype=np.float32)[support_y]  # (N, C)
    zs = unit(class_embeddings)

    def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Zero-shot logits and the affinity to the keys, computed once per split (not per alpha, beta)."""
        xu = unit(x)
        return 100.0 * xu @ zs.T, xu @ keys.T

    def logits(p: tuple[np.ndarray, np.ndarray], alpha: float, beta: float) -> np.ndarray:
        return p[0] + alpha * (np.exp(-beta * (1.0 - p[1])) @ values)

    val = parts(val_x)
    scores = {(a, b): accuracy(logits(val, a, b).argmax(1), val_y) if len(val_y) else 0.0 for a in alphas for b in betas}
    (a, b), val_acc = max(scores.items(), key=lambda kv: kv[1])
    return FittedBaseline(logits(parts(test_x), a, b).argmax(1), val_acc, {"alpha": a, "beta": b})

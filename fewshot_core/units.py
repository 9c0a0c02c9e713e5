"""One unit of a sweep: every method for one (shots, seed) pair, as result rows and test predictions.

Every adapter run with m > 0 texts is trained once per translation (``translations.py``: raw,
mean-shift, qformer); m = 0 is image only (translation ``none``). The sweep's head (``adapter.init``: the
class-name prompts, or each class's mean description embedding) carries every translation; image only is
also trained on the other heads, as baselines. Stored test predictions per unit: ``adapter-0`` (image only),
``adapter-<translation>-<texts>``, ``adapter-0@<head>`` (image only on another head) and one per baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .adapter import train_adapter_heads
from .baselines import (
    FittedBaseline,
    accuracy,
    description_class_embeddings,
    gda,
    linear_probe,
    lp_plus_plus,
    tip_adapter,
    tip_adapter_f,
    zero_shot_predict,
)
from .bundle import FeatureBundle
from .config import SweepConfig
from .datasets.sampling import FewShotSplit, sample_few_shot, validation_indices
from .progress import CancelFn, never_cancel
from .runs import ResultRow
from .translations import NONE
from .translator import Translator
from .vectors import l2_normalize


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


UnitResult = tuple[list[dict[str, Any]], dict[str, Any], dict[str, np.ndarray]]  # rows, record extras, test predictions


def unit_name(shots: int, seed: int) -> str:
    """The run folder's name for the (shots, seed) unit."""
    return f"{shots:02d}-{seed}"


def compute_unit(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    shots: int,
    seed: int,
    translator: Translator,
    device: torch.device,
    should_cancel: CancelFn = never_cancel,
) -> UnitResult:
    """Every method of one (shots, seed) unit: its result rows, record extras and test predictions."""
    split = sample_few_shot(bundle.train_labels, shots, seed, cfg.val_count(shots), fixed_val=bundle.val_indices)
    start = time.perf_counter()
    rows, preds = _unit_rows(bundle, cfg, split, translator, device, should_cancel)
    return rows, {"seconds": round(time.perf_counter() - start, 3), "short_classes": split.short_classes}, preds


def held_out_validation(bundle: FeatureBundle, cfg: SweepConfig) -> np.ndarray:
    """Training rows no translator may learn from: the validation images of every shot count (one set, unless
    ``val_per_class`` is "k", where each shot count draws its own and all of them are held out)."""
    counts = sorted({cfg.val_count(k) for k in cfg.shots})
    sets = [validation_indices(bundle.train_labels, v, fixed_val=bundle.val_indices) for v in counts]
    return np.unique(np.concatenate(sets)) if sets else np.zeros(0, np.int64)


def zero_shot_validation(bundle: FeatureBundle, cfg: SweepConfig) -> np.ndarray:
    """The validation images the zero-shot methods are scored on (description zero-shot picks its text count on
    them): ``val_per_class`` per class, or under "k" the fewest shots' count (the smallest label budget)."""
    return validation_indices(bundle.train_labels, cfg.val_count(min(cfg.shots)), fixed_val=bundle.val_indices)


def head_classifier(bundle: FeatureBundle, init: str) -> np.ndarray | None:
    """(C, D) the classifier an adapter head starts from: "zeroshot" the class-name prompts, "descriptions" the
    mean of each class's (normalised) description embeddings (CuPL); None for "zeros"."""
    if init == "descriptions":
        return l2_normalize(description_class_embeddings(bundle.description_features, bundle.description_labels, bundle.num_classes))
    return bundle.class_text_features if init == "zeroshot" else None


def qformer_images_per_class(train_labels: np.ndarray, val_idx: np.ndarray, protocol: str) -> float | None:
    """Labelled images per class the translators learn from: the median over classes for
    ``train-split``; None for ``support``, where it is the shot count k of each row."""
    if protocol != "train-split":
        return None
    keep = np.setdiff1d(np.arange(len(train_labels)), val_idx)
    return float(np.median(np.unique(train_labels[keep], return_counts=True)[1]))


def zero_shot_rows(bundle: FeatureBundle, cfg: SweepConfig, val_idx: np.ndarray) -> list[dict[str, Any]]:
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
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: Translator
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
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: Translator, device: torch.device, should_cancel: CancelFn
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Every method for one (shots, seed): result rows and test predictions."""
    x, y = bundle.train_features, bundle.train_labels
    sx, sy, vx, vy = x[split.support], y[split.support], x[split.val], y[split.val]
    rows, preds = [], {}
    if "adapter" in cfg.methods:
        rows, preds = _adapter_rows(bundle, cfg, split, translator, device, should_cancel)
    for method, fit in BASELINES.items():
        if method in cfg.methods:
            text = baseline_text(cfg)
            found = fit(sx, sy, head_classifier(bundle, text), vx, vy, bundle.test_features, split.seed)
            chosen = {**found.chosen, **({"text": text} if method in TEXT_BASELINES else {})}
            test = accuracy(found.test_pred, bundle.test_labels)
            rows.append(ResultRow(bundle.dataset, method, split.shots, 0, split.seed, found.val_acc, test, chosen=chosen).record())
            preds[method] = found.test_pred
    return rows, preds


# Few-shot baselines without translated text: fit(support_x, support_y, text_classifier, val_x, val_y, test_x, seed).
BASELINES: dict[str, Callable[..., FittedBaseline]] = {
    "linear-probe": lambda sx, sy, text, vx, vy, tx, seed: linear_probe(sx, sy, vx, vy, tx),
    "tip-adapter": lambda sx, sy, text, vx, vy, tx, seed: tip_adapter(sx, sy, text, vx, vy, tx),
    "tip-adapter-f": lambda sx, sy, text, vx, vy, tx, seed: tip_adapter_f(sx, sy, text, vx, vy, tx, seed=seed),
    "gda": lambda sx, sy, text, vx, vy, tx, seed: gda(sx, sy, text, vx, vy, tx),
    "lp++": lambda sx, sy, text, vx, vy, tx, seed: lp_plus_plus(sx, sy, text, vx, vy, tx, seed=seed),
}
TEXT_BASELINES = ("tip-adapter", "tip-adapter-f", "gda", "lp++")  # baselines that combine the images with a text classifier


def baseline_text(cfg: SweepConfig) -> str:
    """The text classifier the baselines combine with: the sweep's adapter head (class-name prompts under init
    "zeros"), so a baseline and the method start from the same text."""
    return "zeroshot" if cfg.adapter.init == "zeros" else cfg.adapter.init


def _adapter_rows(
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: Translator, device: torch.device, should_cancel: CancelFn
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The adapter heads of one unit: every translation and text count on the sweep's head (``adapter.init``),
    and image only on each other head (the description-initialised and the zero-shot-initialised image-only
    adapters are baselines every translation is measured against)."""
    x, y = bundle.train_features, bundle.train_labels
    vx, vy = x[split.val], y[split.val]
    adapter_cfg = replace(cfg.adapter, seed=cfg.adapter.seed + split.seed)
    pool_x, pool_y, sets = _training_sets(bundle, cfg, split, translator)
    plan = [(cfg.adapter.init, pool_x, pool_y, sets)]
    support = (x[split.support], y[split.support], [(NONE, 0, np.arange(len(split.support)))])
    plan += [(head, *support) for head in OTHER_HEADS if head != cfg.adapter.init]
    rows, preds = [], {}
    for head, px, py, head_sets in plan:
        if not head_sets:
            continue
        heads = train_adapter_heads(
            px,
            py,
            [r for *_, r in head_sets],
            bundle.num_classes,
            replace(adapter_cfg, init=head),
            head_classifier(bundle, head),
            device,
            should_cancel,
        )
        for (name, m, _), va, pred in zip(head_sets, heads.accuracy(vx, vy), heads.predict(bundle.test_features)):
            test = accuracy(pred, bundle.test_labels)
            row = ResultRow(bundle.dataset, "adapter", split.shots, m, split.seed, va, test, cfg.protocol, translation=name, head=head)
            rows.append(row.record())
            preds[prediction_key(head == cfg.adapter.init, head, name, m)] = pred
    return rows, preds


OTHER_HEADS = ("descriptions", "zeroshot")  # image-only heads every sweep also trains, beside its own (adapter.init)


def prediction_key(primary: bool, head: str, translation: str, texts: int) -> str:
    """The stored name of an adapter head's test predictions: ``adapter-0`` (image only) and
    ``adapter-<translation>-<texts>`` on the sweep's head; ``adapter-0@<head>`` for image only on another head."""
    name = "adapter-0" if texts == 0 else f"adapter-{translation}-{texts}"
    return name if primary else f"{name}@{head}"

"""Descriptions you can judge: how well each description's CLIP text feature points at its own class.

For every description (its pooled CLIP text feature ``t``, its class ``y``) against the class centroids
of the training images (mean of L2-normalised image features per class, re-normalised):

- ``cos_raw``: cosine of ``t`` to the centroid of class ``y``. Raw text-to-image cosines are small for
  every class (CLIP's modality gap), so compare them within a dataset, not with image-image cosines;
- ``cos_translated``: the same after the mean-shift translation ``t - mean(text) + mean(image)``,
  re-normalised (``translations.mean_shift``, the pseudo image feature the sweep trains on; here the
  image mean is over the whole training split);
- ``rank``: the rank of class ``y`` among all classes by translated cosine (1 = its own class is nearest);
- ``nearest``: the nearest class other than ``y``, and ``flagged``: the description is nearer some
  other class's images than its own (rank > 1).

The centroids use every labelled image of the training split, so a set pruned by these flags has seen
those labels: ``judged_with`` records which images judged it, and the set keeps that record
(``DescriptionSet.remove(..., judged_with=...)``, ``DescriptionSet.provenance()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .translations import mean_shift
from .vectors import l2_normalize


def class_centroids(features: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, D) unit centroids of the L2-normalised features of each class (a class without images: zeros)."""
    x = l2_normalize(np.asarray(features, dtype=np.float64))
    sums = np.zeros((num_classes, x.shape[1]))
    np.add.at(sums, np.asarray(labels, dtype=np.int64), x)
    return l2_normalize(sums)


@dataclass
class Judgement:
    """Per description (arrays of length M) and the class count they were judged against."""

    cos_raw: np.ndarray  # (M,) cosine to the own class's image centroid
    cos_translated: np.ndarray  # (M,) the same after mean-shift
    rank: np.ndarray  # (M,) 1 = the own class is the nearest centroid (translated)
    nearest_other: np.ndarray  # (M,) the nearest class that is not the own class
    flagged: np.ndarray  # (M,) bool: some other class is nearer than the own class


def judge_descriptions(
    image_features: np.ndarray, image_labels: np.ndarray, text_features: np.ndarray, text_labels: np.ndarray, num_classes: int
) -> Judgement:
    """Judge every description against the class centroids of the (training) images; see the module docstring."""
    text_labels = np.asarray(text_labels, dtype=np.int64)
    centroids = class_centroids(image_features, image_labels, num_classes)  # (C, D)
    texts = l2_normalize(np.asarray(text_features, dtype=np.float64))  # (M, D)
    shifted = mean_shift(texts, image_features).astype(np.float64)  # the sweep's own mean-shift translation
    rows = np.arange(len(text_labels))
    raw, translated = texts @ centroids.T, shifted @ centroids.T  # (M, C)
    own = translated[rows, text_labels]
    rank = 1 + (translated > own[:, None]).sum(1)
    others = translated.copy()
    others[rows, text_labels] = -np.inf
    return Judgement(raw[rows, text_labels], own, rank, others.argmax(1), rank > 1)


def judgement_records(judgement: Judgement, texts: list[str], text_labels: np.ndarray, class_names: list[str]) -> list[dict]:
    """One JSON-able record per description, flagged ones first, then by translated cosine (lowest first)."""
    records = [
        {
            "class": class_names[int(y)],
            "class_index": int(y),
            "text": text,
            "cos_raw": round(float(judgement.cos_raw[i]), 4),
            "cos_translated": round(float(judgement.cos_translated[i]), 4),
            "rank": int(judgement.rank[i]),
            "nearest_other": class_names[int(judgement.nearest_other[i])],
            "flagged": bool(judgement.flagged[i]),
        }
        for i, (text, y) in enumerate(zip(texts, text_labels))
    ]
    return sorted(records, key=lambda r: (not r["flagged"], r["cos_translated"]))


def judged_with(image_labels: np.ndarray, num_classes: int, split: str = "train", backbone: dict | None = None) -> dict:
    """Which labelled images a judgement used: a set pruned by it was shaped by these training labels.

    ``labels_per_class`` is the most labelled images any class contributed (an upper bound on the labels
    per class a pruned set has seen); ``all_training_labels``: the whole training split was used, so any
    support or validation image a sweep later draws from it was among them.
    """
    counts = np.bincount(np.asarray(image_labels, dtype=np.int64), minlength=num_classes)
    return {
        "split": split,
        "images": int(counts.sum()),
        "labels_per_class": int(counts.max()) if len(counts) else 0,
        "labels_per_class_min": int(counts.min()) if len(counts) else 0,
        "all_training_labels": split == "train",
        **({"clip": backbone} if backbone else {}),
    }


def judge_set_report(dataset, dset, backbone, cache_root, on_progress=None) -> dict:
    """Judge the lines in effect of a description set with a CLIP (features from the cache, computed once).

    Args:
        dataset: the ``ImageDataset`` the set describes; its training split gives the centroids.
        dset: a ``DescriptionSet``; user edits count (deleted lines are not judged).
        backbone: the loaded CLIP; cache_root: the feature cache root.
    Returns:
        ``{"records": judgement_records for every line, "judged_with": judged_with(...)}``.
    """
    from .errors import FewShotError
    from .features import FeatureCache, image_features, text_features
    from .progress import no_progress

    cache = FeatureCache(cache_root)
    train = image_features(cache, backbone, dataset, "train", on_progress=on_progress or no_progress)
    lines = dset.all_lines(dataset.num_classes)
    texts = [line for c in range(dataset.num_classes) for line in lines.get(c, [])]
    labels = np.array([c for c in range(dataset.num_classes) for _ in lines.get(c, [])], dtype=np.int64)
    if not texts:
        raise FewShotError("This description set has no lines yet: generate or import descriptions first.")
    pooled = text_features(cache, backbone, texts)["pooled"]
    image_labels = train.labels[train.valid]
    judgement = judge_descriptions(train.features[train.valid], image_labels, pooled, labels, dataset.num_classes)
    clip = {k: v for k, v in getattr(backbone, "identity", {}).items() if k in ("model", "weights_tag", "weights_file", "weights_sha256")}
    return {
        "records": judgement_records(judgement, texts, labels, dataset.display_names),
        "judged_with": judged_with(image_labels, dataset.num_classes, "train", clip),
    }

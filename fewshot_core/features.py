"""Image and text features through the verified on-disk feature cache (``feature_cache.py``): looked up by
everything they depend on, computed on a miss by an executor (``executors.py``: this process or Ray) with the
encoders of ``encode.py``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backbone import Backbone
from .datasets.base import ImageDataset
from .encode import check_loader_settings, encode_text_tokens, encode_texts
from .errors import FewShotError
from .executors import LOCAL, Executor
from .feature_cache import FeatureCache  # noqa: F401 - re-exported
from .feature_status import FORMAT_VERSION, cached_splits, find_entries, split_fingerprint  # noqa: F401 - re-exported
from .progress import CancelFn, ProgressFn, never_cancel, no_progress


@dataclass
class ImageFeatures:
    """Image features of one split, row i for image i of the split."""

    features: np.ndarray  # (N, D) float32, not normalised
    labels: np.ndarray  # (N,) int64
    valid: np.ndarray  # (N,) bool; False where the image could not be read (its row is zeros)
    precision: str  # the precision actually used
    cache_hit: bool = False

    @property
    def unreadable(self) -> np.ndarray:
        return np.flatnonzero(~self.valid)


def image_features(
    cache: FeatureCache,
    backbone: Backbone,
    dataset: ImageDataset,
    split: str,
    batch_size: int = 64,
    num_workers: int | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
    executor: Executor = LOCAL,
) -> ImageFeatures:
    """Image features of a dataset split, from the cache or computed by ``executor`` and cached (the same entry
    whichever executor computed it; ``num_workers`` applies to the local one only).

    Raises:
        FewShotError: bad batch size or worker count, an executor that cannot run here, or not one image of the
            split could be read.
    """
    check_loader_settings(batch_size, num_workers)
    executor.check()
    parts = {
        **backbone.identity,
        "precision": backbone.precision,
        "dataset": dataset.name,
        "root": str(Path(dataset.root).resolve()),
        "split": split,
        "images": split_fingerprint(dataset, split),
    }
    if "content_id" in dataset.provenance:  # a user's own folder: relative paths alone do not identify the images
        parts["content"] = dataset.provenance["content_id"]
    paths = dataset.split(split).paths

    def compute() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        feats, valid, precision = executor.extract_images(backbone, paths, batch_size, num_workers, on_progress, should_cancel)
        if len(paths) and not valid.any():
            raise FewShotError(
                f"None of the {len(paths)} {split} images of {dataset.root} could be read (missing or damaged). "
                "Check the images/ folder, or re-extract the archive; verify-dataset lists them."
            )
        unreadable = [str(paths[i]) for i in np.flatnonzero(~valid)]
        return {"features": feats, "valid": valid.astype(np.uint8)}, {"precision": precision, "unreadable": unreadable}

    arrays, info, hit = cache.get_or_compute(f"images/{dataset.name}", parts, compute)
    if hit:
        on_progress(len(paths), len(paths), f"{split}: {len(paths)} image features from cache")
    return ImageFeatures(arrays["features"], dataset.split(split).labels, arrays["valid"].astype(bool), info["precision"], hit)


def training_features(
    cache: FeatureCache,
    backbone: Backbone,
    dataset: ImageDataset,
    on_progress: ProgressFn = no_progress,
    executor: Executor = LOCAL,
) -> tuple[ImageFeatures, np.ndarray | None]:
    """Features of the training split, with the dataset's validation split (if it has one) appended
    (computed on a cache miss by ``executor``, as in ``image_features``).

    Returns:
        The features (train rows first, then val rows) and the (V,) row indices of the validation
        images, or None when the dataset has no val split (the sampler then draws validation).
    """
    train = image_features(cache, backbone, dataset, "train", on_progress=on_progress, executor=executor)
    if "val" not in dataset.splits:
        return train, None
    val = image_features(cache, backbone, dataset, "val", on_progress=on_progress, executor=executor)
    merged = ImageFeatures(
        np.concatenate([train.features, val.features]),
        np.concatenate([train.labels, val.labels]),
        np.concatenate([train.valid, val.valid]),
        train.precision,
        train.cache_hit and val.cache_hit,
    )
    return merged, np.arange(len(train.labels), len(merged.labels))


TEXT_CHUNK = 65_536  # texts per cache entry: writing an entry copies its arrays once, so a million texts never need two copies


def text_features(
    cache: FeatureCache, backbone: Backbone, texts: Sequence[str], with_tokens: bool = False, on_progress: ProgressFn = no_progress
) -> dict[str, np.ndarray]:
    """Cached text features: ``pooled`` (N, D), plus ``tokens`` (N, L, D) and ``mask`` (N, L) if asked.

    Pooled features are cached in entries of up to ``TEXT_CHUNK`` texts (a list that fits one entry has the key
    it always had) and gathered into one array, so memory stays at that array plus one entry's worth."""
    if with_tokens:
        arrays = _cached_texts(cache, backbone, texts, True, on_progress)
        arrays["mask"] = arrays["mask"].astype(bool)
        return arrays
    pooled = np.zeros((len(texts), backbone.embed_dim), np.float32)  # (N, D)
    for start in range(0, len(texts), TEXT_CHUNK):
        chunk = texts[start : start + TEXT_CHUNK]
        shifted = lambda done, total, message, s=start: on_progress(s + done, len(texts), f"texts encoded: {s + done}/{len(texts)}")  # noqa: E731
        pooled[start : start + len(chunk)] = _cached_texts(cache, backbone, chunk, False, shifted)["pooled"]
    return {"pooled": pooled}


def _cached_texts(cache: FeatureCache, backbone: Backbone, texts: Sequence[str], with_tokens: bool, on_progress: ProgressFn) -> dict[str, np.ndarray]:
    """One cache entry of text features, keyed by a hash of the JSON list of ``texts``."""
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode()).hexdigest()  # unambiguous, unlike a joined string
    parts = {**backbone.identity, "precision": backbone.precision, "texts": digest, "n": len(texts), "tokens": with_tokens}

    def compute() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if with_tokens:
            pooled, tokens, mask = encode_text_tokens(backbone, texts)
            return {"pooled": pooled, "tokens": tokens, "mask": mask.astype(np.uint8)}, {}
        return {"pooled": encode_texts(backbone, texts, on_progress=on_progress)}, {}

    return cache.get_or_compute("texts", parts, compute)[0]

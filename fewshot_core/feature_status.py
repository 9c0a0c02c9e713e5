"""What is in the feature cache, answered without torch or a model (the app's Data page asks on every render).

Also the parts of a cache key that need no model: the split fingerprint and the weights identity.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .datasets.base import ImageDataset
from .layout import CacheLayout
from .storage import file_stamp, sha256_file

RANDOM_INIT_SEED = 0  # seed of the weights when no pretrained weights are given
# Bump when what is stored, or how it is computed, changes. 2: bf16/fp16 image features from a cast-weights copy
# of the image tower instead of autocast (within cosine 0.999 of fp32 either way, but not the same numbers).
FORMAT_VERSION = 2


def weights_identity(pretrained: str) -> dict[str, str]:
    """What identifies the weights: the tag, or a local file's name and SHA-256."""
    if pretrained and Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser().resolve()
        return {"weights_file": path.name, "weights_sha256": _file_digest(str(path), path.stat().st_mtime_ns)}
    return {"weights_tag": pretrained or f"random-init-seed{RANDOM_INIT_SEED}"}


@lru_cache(maxsize=16)
def _file_digest(path: str, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def split_fingerprint(dataset: ImageDataset, split: str) -> str:
    """SHA-256 over the split's image paths (relative to the dataset root), labels, and each file's stamp
    (``storage.file_stamp``: size, mtime, inode and ctime).

    The stamp stands in for the content: a repaired, replaced or deleted image changes the fingerprint,
    so its features are recomputed instead of served stale from the cache, even when the new file has
    the old one's size and modification time.
    """
    s = dataset.split(split)
    h = hashlib.sha256()
    for path, label in zip(s.paths, s.labels):
        rel = os.path.relpath(path, dataset.root)
        h.update(f"{rel}\t{int(label)}\t{file_stamp(path)}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def find_entries(features_root: Path, kind: str, **match: Any) -> list[dict[str, Any]]:
    """Cache entries of ``kind`` whose recorded parts contain ``match`` (reads only safetensors headers)."""
    from safetensors import SafetensorError, safe_open

    found = []
    for path in sorted((Path(features_root) / kind).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as f:
                parts = json.loads((f.metadata() or {}).get("parts", "{}"))
        except (SafetensorError, OSError, json.JSONDecodeError):
            continue
        if all(parts.get(k) == v for k, v in match.items()):
            found.append({"path": str(path), **parts})
    return found


def cached_splits(cache_root: CacheLayout | Path | str, dataset: ImageDataset, model: str, pretrained: str) -> dict[str, bool]:
    """Which splits of ``dataset`` already have image features for this CLIP in the cache (root or layout; reads file
    headers only, loads no model): the status the Data page shows before anything is encoded."""
    features = CacheLayout.of(cache_root).features
    root = str(Path(dataset.root).resolve())
    weights = weights_identity(pretrained)
    status = {}
    for split in dataset.splits:
        match = {"format": FORMAT_VERSION, "dataset": dataset.name, "root": root, "split": split, "model": model, **weights}
        fingerprint = split_fingerprint(dataset, split)
        status[split] = any(e.get("images") == fingerprint for e in find_entries(features, f"images/{dataset.name}", **match))
    return status

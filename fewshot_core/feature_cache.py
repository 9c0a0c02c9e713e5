"""The verified on-disk cache of expensive arrays (image and text features): safetensors entries keyed by
everything they depend on, written atomically under a cross-process lock, checked when read."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .errors import FewShotError
from .feature_status import FORMAT_VERSION, find_entries
from .layout import CacheLayout
from .storage import atomic_path, clean_cache, content_key, lock_if_writable, timestamp

log = logging.getLogger(__name__)


class FeatureCache:
    """Expensive arrays computed once and stored under a key made from everything they depend on.

    Entries are safetensors files (no pickle) written atomically under a cross-process lock, with the
    key and a SHA-256 of the arrays in their metadata; a corrupt or mismatched entry is recomputed.
    A read-only cache still serves what it holds; opening the cache removes the temporaries that
    killed processes left behind (``storage.clean_cache``).
    """

    def __init__(self, root: CacheLayout | Path | str):
        layout = CacheLayout.of(root)
        self.root = layout.features
        clean_cache(layout)

    def path_for(self, kind: str, parts: dict[str, Any]) -> Path:
        """Where the entry for ``parts`` lives."""
        key = content_key(_with_format(parts))
        return self.root / kind / f"{key}.safetensors"

    def get_or_compute(
        self, kind: str, parts: dict[str, Any], compute: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]]
    ) -> tuple[dict[str, np.ndarray], dict[str, Any], bool]:
        """Return (arrays, info, cache_hit), computing and storing them on a miss.

        ``compute`` returns the arrays and a JSON-able info dict stored beside them.

        Raises:
            FewShotError: on a miss when the cache cannot be written (read-only, full), before computing.
        """
        path = self.path_for(kind, parts)
        key = path.stem
        with lock_if_writable(path) as writable:
            cached = self._load(path, key, writable)
            if cached is not None:
                return cached[0], cached[1], True
            if not writable:
                raise FewShotError(
                    f"The cache folder {self.root.parent} is read-only and holds no {kind} features for these settings. "
                    "Point --cache (FEWSHOT_CACHE) at a writable folder."
                )
            arrays, info = compute()
            meta = {"key": key, "parts": json.dumps(_with_format(parts), sort_keys=True, default=str), "info": json.dumps(info, default=str)}
            meta["sha256"] = _digest(arrays)
            meta["created"] = timestamp()
            with atomic_path(path) as tmp:
                save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp), metadata=meta)
            return arrays, info, False

    def find(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Entries of ``kind`` whose recorded parts contain ``match`` (reads only file headers)."""
        return find_entries(self.root, kind, **match)

    def _load(self, path: Path, key: str, writable: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """Load and verify an entry; None (and the entry removed, where the cache is writable) when missing or corrupt."""
        if not path.is_file():
            return None
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
            arrays = load_file(str(path))
            if meta.get("key") != key or meta.get("sha256") != _digest(arrays):
                raise ValueError("key or checksum mismatch")
            return arrays, json.loads(meta.get("info", "{}"))
        except (SafetensorError, ValueError, OSError) as e:
            log.warning("cache entry %s is corrupt (%s); recomputing it", path, e)
            if writable:
                path.unlink(missing_ok=True)
            return None


def _with_format(parts: dict[str, Any]) -> dict[str, Any]:
    """The parts an entry is keyed by and records: ``parts`` plus the format version (so a status lookup skips old entries)."""
    return {"format": FORMAT_VERSION, **parts}


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()

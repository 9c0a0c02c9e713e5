"""Dataset verification: counts, class names and unreadable images, as a JSON-able report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..progress import ProgressFn, no_progress
from . import load_dataset, official_counts
from .images import find_unreadable


def verify_dataset(name: str, root: Path | str | None, check_images: bool = True, on_progress: ProgressFn = no_progress) -> dict[str, Any]:
    """Load dataset ``name`` from ``root`` and report what is there.

    Raises:
        FewShotError: when ``root`` is not that dataset (missing or damaged annotation files).
    """
    ds = load_dataset(name, root)
    paths = [p for s in ds.splits.values() for p in s.paths]
    missing = [p for p in paths if not p.is_file()]
    present = [p for p in paths if p.is_file()]
    unreadable = find_unreadable(present, on_progress) if check_images else []
    counts = {"num_classes": ds.num_classes, "num_train": len(ds.split("train")), "num_test": len(ds.split("test"))}
    official = official_counts(name)
    rel = lambda p: os.path.relpath(p, ds.root)  # noqa: E731
    return {
        "dataset": name,
        "root": str(ds.root),
        **counts,
        "matches_official_counts": official == counts if official else None,
        "class_names": ds.display_names,
        "folder_names": ds.class_names,
        "has_attributes": ds.attributes is not None,
        "images_checked": check_images,
        "missing_images": [rel(p) for p in missing],
        "unreadable_images": [rel(p) for p in unreadable],
    }

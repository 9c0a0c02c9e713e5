"""Dataset verification: counts, class names and unreadable images, as a JSON-able report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..layout import CacheLayout
from ..progress import ProgressFn, no_progress
from . import load_dataset, official_counts
from .images import find_unreadable


def verify_dataset(
    name: str,
    root: Path | str | None,
    check_images: bool = True,
    on_progress: ProgressFn = no_progress,
    split_file: Path | str | None = None,
    cache: CacheLayout | Path | str | None = None,
) -> dict[str, Any]:
    """Load dataset ``name`` from ``root`` (with ``split_file``'s splits, if given; the demo without a root from
    ``cache``, as ``load_dataset``) and report what is there.

    ``num_val`` is the size of the dataset's own validation list (0: the sweep draws validation from train);
    ``matches_official_counts`` is None when there is no official release or a split file replaces its splits.

    Raises:
        FewShotError: when ``root`` is not that dataset (missing or damaged annotation files), or the
            split file does not fit it.
    """
    ds = load_dataset(name, root, split_file, cache)
    paths = [p for s in ds.splits.values() for p in s.paths]
    missing = [p for p in paths if not p.is_file()]
    present = [p for p in paths if p.is_file()]
    unreadable = find_unreadable(present, on_progress) if check_images else []
    counts = {"num_classes": ds.num_classes, "num_train": len(ds.split("train")), "num_test": len(ds.split("test"))}
    if "val" in ds.splits:
        counts["num_val"] = len(ds.split("val"))
    official = None if split_file else official_counts(name)
    rel = lambda p: os.path.relpath(p, ds.root)  # noqa: E731
    return {
        "dataset": name,
        "root": str(ds.root),
        **counts,
        "num_val": counts.get("num_val", 0),
        "matches_official_counts": official == counts if official else None,
        "class_names": ds.display_names,
        "folder_names": ds.class_names,
        "has_attributes": ds.attributes is not None,
        "images_checked": check_images,
        "missing_images": [rel(p) for p in missing],
        "unreadable_images": [rel(p) for p in unreadable],
        "ignored_files": ds.provenance.get("ignored_files", 0),  # non-image files in a folder dataset
        "notes": ds.notes,
        "provenance": {k: v for k, v in ds.provenance.items() if k != "content_id"},
    }

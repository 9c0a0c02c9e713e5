"""Oxford-IIIT Pet (Parkhi et al. 2012) from its official layout.

``images/*.jpg`` and ``annotations/{list,trainval,test}.txt``; lines read
``Image CLASS-ID SPECIES BREED-ID`` and ``list.txt`` opens with ``#`` header lines. Also found
inside torchvision's ``oxford-iiit-pet/`` folder. The official "trainval" split is our "train".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FewShotError
from .base import ImageDataset, Split, as_int, find_root, read_table

NAME = "pets"
TITLE = "Oxford-IIIT Pet"
OFFICIAL_COUNTS = {"num_classes": 37, "num_train": 3680, "num_test": 3669}


def display_name(raw: str) -> str:
    """``"american_bulldog"`` -> ``"American Bulldog"`` (torchvision's form, used everywhere)."""
    return " ".join(part.title() for part in raw.split("_"))


def load(root: Path | str) -> ImageDataset:
    """Load Oxford-IIIT Pet from ``root`` (the dataset folder or a parent of ``oxford-iiit-pet``)."""
    base = find_root(root, "annotations/trainval.txt", ["oxford-iiit-pet", "Oxford-IIIT-Pet", "pets"], TITLE)
    raw_by_label: dict[int, str] = {}
    splits = {}
    for split, filename in (("train", "trainval.txt"), ("test", "test.txt")):
        rows = read_table(base / "annotations" / filename, 2)
        labels = [as_int(r[1], base / "annotations" / filename) - 1 for r in rows]
        for (image_id, *_), label in zip(rows, labels):
            _register_class(raw_by_label, label, image_id.rsplit("_", 1)[0])
        paths = [base / "images" / f"{r[0]}.jpg" for r in rows]
        splits[split] = Split(paths, np.array(labels, np.int64))
    if sorted(raw_by_label) != list(range(len(raw_by_label))):
        raise FewShotError(f"{base}: class ids are not contiguous from 1. The annotation files look damaged.")
    class_names = [raw_by_label[i] for i in range(len(raw_by_label))]
    return ImageDataset(
        name=NAME,
        root=base,
        class_names=class_names,
        display_names=[display_name(c) for c in class_names],
        splits=splits,
    )


def _register_class(raw_by_label: dict[int, str], label: int, raw: str) -> None:
    """Record a class's name from an image id, refusing two names for one id."""
    known = raw_by_label.setdefault(label, raw)
    if known != raw:
        raise FewShotError(f"Class id {label + 1} is used for both {known!r} and {raw!r}; the annotations are damaged.")

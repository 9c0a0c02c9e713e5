"""CUB-200-2011 (Wah et al. 2011) from its official archive layout.

``CUB_200_2011/`` holds ``images/NNN.Name/*.jpg``, ``images.txt``, ``image_class_labels.txt``,
``train_test_split.txt``, ``classes.txt`` and ``attributes/class_attribute_labels_continuous.txt``;
the attribute names (``attributes.txt``) sit *beside* ``CUB_200_2011/`` in the official archive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FewShotError
from .base import ClassAttributes, ImageDataset, Split, as_int, check_labels, find_root, read_table

NAME = "cub"
TITLE = "CUB-200-2011"
OFFICIAL_COUNTS = {"num_classes": 200, "num_train": 5994, "num_test": 5794}


def display_name(folder_name: str) -> str:
    """``"001.Black_footed_Albatross"`` -> ``"Black footed Albatross"``."""
    return folder_name.split(".", 1)[-1].replace("_", " ").strip()


def load(root: Path | str) -> ImageDataset:
    """Load CUB-200-2011 from ``root`` (the ``CUB_200_2011`` folder or its parent)."""
    base = find_root(root, "images.txt", ["CUB_200_2011"], TITLE)
    class_names = [f[1] for f in sorted(read_table(base / "classes.txt", 2), key=lambda f: as_int(f[0], base / "classes.txt"))]
    paths = {f[0]: f[1] for f in read_table(base / "images.txt", 2)}
    labels = {f[0]: as_int(f[1], base / "image_class_labels.txt") - 1 for f in read_table(base / "image_class_labels.txt", 2)}
    check_labels(labels, len(class_names), base / "image_class_labels.txt")
    is_train = {f[0]: f[1] == "1" for f in read_table(base / "train_test_split.txt", 2)}
    missing = set(paths) - set(labels) | set(paths) - set(is_train)
    if missing:
        raise FewShotError(f"{base}: {len(missing)} images have no label or split entry. Re-extract the archive.")
    splits = {}
    for split, want in (("train", True), ("test", False)):
        ids = sorted((i for i in paths if is_train[i] == want), key=lambda i: as_int(i, base / "images.txt"))
        splits[split] = Split([base / "images" / paths[i] for i in ids], np.array([labels[i] for i in ids], np.int64))
    return ImageDataset(
        name=NAME,
        root=base,
        class_names=class_names,
        display_names=[display_name(c) for c in class_names],
        splits=splits,
        attributes=_load_attributes(base, len(class_names)),
    )


def _load_attributes(base: Path, num_classes: int) -> ClassAttributes | None:
    """Class-level attribute percentages, when the files are present."""
    values_file = base / "attributes" / "class_attribute_labels_continuous.txt"
    names_file = next((p for p in (base.parent / "attributes.txt", base / "attributes" / "attributes.txt") if p.is_file()), None)
    if not values_file.is_file() or names_file is None:
        return None
    names = [f[1] for f in sorted(read_table(names_file, 2), key=lambda f: as_int(f[0], names_file))]
    try:
        values = np.loadtxt(values_file, dtype=np.float32, ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        raise FewShotError(f"{values_file} is not a table of numbers ({e}). Re-extract the archive.") from e
    if values.shape != (num_classes, len(names)):
        raise FewShotError(f"{values_file} has shape {values.shape}, expected ({num_classes}, {len(names)}). Re-extract the archive.")
    return ClassAttributes(names=names, values=values)

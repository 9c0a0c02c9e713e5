"""Miniature layouts of torchvision's fine-grained sets and image-folder trees, built offline.

Each builder writes the files the torchvision class reads (annotation text, JSON and ``.mat`` files made
with scipy) and tiny JPEGs, and returns the folder to pass as --root plus what the loader should find.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.io import savemat

from .fixtures import write_image


def make_tree(root: Path, classes: dict[str, int], seed: int = 0) -> Path:
    """``root/<class>/<class>_<j>.jpg``: ``classes`` maps folder name -> image count."""
    for c, (name, count) in enumerate(classes.items()):
        for j in range(count):
            write_image(root / name / f"img_{j:03d}.jpg", seed=seed + 100 * c + j, size=24)
    return root


FLOWER_LABELS = {"train": [1, 1, 2, 2, 3, 3], "val": [1, 2, 3], "test": [1, 1, 2, 3, 3, 3, 2]}  # 1-based, per image in order


def make_flowers(root: Path) -> Path:
    """``flowers-102/{jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat}`` with 3 classes (ids 1..16)."""
    base = root / "flowers-102"
    labels, ids, next_id = [], {}, 1
    for split, split_labels in FLOWER_LABELS.items():
        ids[split] = list(range(next_id, next_id + len(split_labels)))
        next_id += len(split_labels)
        labels += split_labels
    for image_id in range(1, next_id):
        write_image(base / "jpg" / f"image_{image_id:05d}.jpg", seed=image_id, size=24)
    savemat(base / "imagelabels.mat", {"labels": np.array(labels, np.uint8)})
    savemat(base / "setid.mat", {"trnid": np.array(ids["train"]), "valid": np.array(ids["val"]), "tstid": np.array(ids["test"])})
    return root


AIRCRAFT_VARIANTS = ["707-320", "A300B4", "Cessna 172"]
AIRCRAFT_SPLITS = {"train": [0, 0, 1, 1, 2, 2], "val": [0, 1, 2], "test": [2, 1, 0, 0]}


def make_aircraft(root: Path) -> Path:
    """``fgvc-aircraft-2013b/data/{images/, variants.txt, images_variant_*.txt}``; ids are 7-digit numbers."""
    data = root / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("".join(f"{v}\n" for v in AIRCRAFT_VARIANTS))
    image_id = 1000000
    for split, labels in AIRCRAFT_SPLITS.items():
        lines = []
        for label in labels:
            image_id += 1
            write_image(data / "images" / f"{image_id}.jpg", seed=image_id, size=24)
            lines.append(f"{image_id} {AIRCRAFT_VARIANTS[label]}\n")
        (data / f"images_variant_{split}.txt").write_text("".join(lines))
    return root


FOOD_CLASSES = ["apple_pie", "baby_back_ribs", "beignets"]
FOOD_COUNTS = {"train": 3, "test": 2}


def make_food(root: Path) -> Path:
    """``food-101/{images/<class>/<id>.jpg, meta/train.json, meta/test.json}``."""
    base = root / "food-101"
    meta = {"train": {}, "test": {}}
    image_id = 100
    for name in FOOD_CLASSES:
        for split, count in FOOD_COUNTS.items():
            meta[split][name] = []
            for _ in range(count):
                image_id += 1
                write_image(base / "images" / name / f"{image_id}.jpg", seed=image_id, size=24)
                meta[split][name].append(f"{name}/{image_id}")
    (base / "meta").mkdir(parents=True)
    for split, content in meta.items():
        (base / "meta" / f"{split}.json").write_text(json.dumps(content))
    (base / "meta" / "classes.txt").write_text("".join(f"{n}\n" for n in FOOD_CLASSES))
    return root


DTD_CLASSES = ["banded", "blotchy", "braided"]
DTD_COUNTS = {"train": 2, "val": 1, "test": 2}


def make_dtd(root: Path) -> Path:
    """``dtd/dtd/{images/<class>/<class>_NNNN.jpg, labels/{train,val,test}1.txt}``."""
    data = root / "dtd" / "dtd"
    rows = {split: [] for split in DTD_COUNTS}
    for c, name in enumerate(DTD_CLASSES):
        j = 0
        for split, count in DTD_COUNTS.items():
            for _ in range(count):
                j += 1
                write_image(data / "images" / name / f"{name}_{j:04d}.jpg", seed=10 * c + j, size=24)
                rows[split].append(f"{name}/{name}_{j:04d}.jpg\n")
    (data / "labels").mkdir(parents=True)
    for split, lines in rows.items():
        (data / "labels" / f"{split}1.txt").write_text("".join(lines))
    return root


CAR_CLASSES = ["AM General Hummer SUV 2000", "Audi S4 Sedan 2007", "Audi S4 Sedan 2012"]
CAR_LABELS = {"train": [1, 2, 3, 1, 2], "test": [3, 3, 1, 2]}  # 1-based, as in the annotation files


def _car_annotations(labels: list[int]) -> np.ndarray:
    """A MATLAB struct array like the devkit's: bbox corners, class (1-based) and fname."""
    fields = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    rows = [(1, 1, 20, 20, label, f"{i + 1:05d}.jpg") for i, label in enumerate(labels)]
    return np.array(rows, dtype=fields)


def make_cars(root: Path) -> Path:
    """``stanford_cars/{cars_train/, cars_test/, devkit/cars_meta.mat, devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat}``."""
    base = root / "stanford_cars"
    (base / "devkit").mkdir(parents=True)
    savemat(base / "devkit" / "cars_meta.mat", {"class_names": np.array(CAR_CLASSES, dtype=object)})
    savemat(base / "devkit" / "cars_train_annos.mat", {"annotations": _car_annotations(CAR_LABELS["train"])})
    savemat(base / "cars_test_annos_withlabels.mat", {"annotations": _car_annotations(CAR_LABELS["test"])})
    for split, labels in CAR_LABELS.items():
        for i in range(len(labels)):
            write_image(base / f"cars_{split}" / f"{i + 1:05d}.jpg", seed=100 * len(split) + i, size=24)
    return root

"""torchvision's fine-grained sets as lab datasets: thin adapters over ``torchvision.datasets``.

torchvision reads each layout, downloads it, and checks its checksums; the adapter only asks it for
(path, label) pairs of every official split (by passing a ``loader`` that returns the path, so no image
is decoded), takes its class list, and gives readable display names. Validation splits that the
datasets define (Flowers102, FGVC-Aircraft, DTD) become the lab's fixed validation set.

``--root`` is the folder torchvision calls ``root`` (holding ``flowers-102/``, ``food-101/``, ...), or
the dataset folder itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FewShotError
from ..progress import ProgressFn, no_progress
from .base import ImageDataset, Split

# Errors torchvision raises for a missing, partial or corrupt layout ("Dataset not found or corrupted", a missing file, ...).
_LAYOUT_ERRORS = (RuntimeError, OSError, KeyError, ValueError, IndexError, TypeError)


def _path_only(path: Any) -> Path:
    """A torchvision ``loader`` that returns the image's path instead of decoding it."""
    return Path(path)


@dataclass(frozen=True)
class TorchvisionSet:
    """One torchvision dataset class, seen through the lab's dataset interface."""

    name: str  # registry name (--dataset)
    title: str
    folder: str  # where the dataset sits under torchvision's root ("flowers-102", "dtd/dtd")
    layout: str  # what that folder holds, for error messages
    splits: dict[str, str]  # lab split -> torchvision split
    official_counts: dict[str, int]
    image_dir: str  # where split-file paths start, relative to ``folder`` (CoOp's image_dir)
    create: Callable[..., Any]  # (root, split, download) -> the torchvision dataset, loader=_path_only
    display: Callable[[str], str] = str
    can_download: bool = True
    options: dict[str, Any] = field(default_factory=dict)  # fixed choices recorded in the provenance

    def load(self, root: Path | str) -> ImageDataset:
        """Read every official split through torchvision.

        Raises:
            FewShotError: when ``root`` does not hold the layout, naming what is expected.
        """
        parent = self._torchvision_root(root)
        parts = {split: self._open(parent, tv_split) for split, tv_split in self.splits.items()}
        classes = [str(c) for c in parts["train"].classes]
        for split, ds in parts.items():
            if [str(c) for c in ds.classes] != classes:
                raise FewShotError(f"{self.title}: the {split} split lists other classes than the train split. The label files look damaged.")
        splits = {split: self._read_split(ds) for split, ds in parts.items()}
        return ImageDataset(
            name=self.name,
            root=parent / self.folder,
            class_names=classes,
            display_names=[self.display(c) for c in classes],
            splits=splits,
            provenance={"reader": f"torchvision.datasets.{type(parts['train']).__name__}", **self.options},
        )

    def download(self, target: Path | str, on_progress: ProgressFn = no_progress) -> Path:
        """Download and extract with torchvision's own code into ``target`` (then pass it as --root)."""
        target = Path(target).expanduser()
        if not self.can_download:
            raise FewShotError(
                f"{self.title} can no longer be downloaded from its original site. Get a copy (e.g. from Kaggle), "
                f"arrange it as {self.folder}/ with {self.layout}, and pass its parent as --root."
            )
        on_progress(0, 1, f"downloading {self.title} with torchvision")
        target.mkdir(parents=True, exist_ok=True)
        try:
            self.create(target, next(iter(self.splits.values())), True)
        except _LAYOUT_ERRORS as e:
            raise FewShotError(f"Downloading {self.title} into {target} failed ({e}). Check the connection and disk space, then retry.") from e
        on_progress(1, 1, f"{self.title} ready in {target}")
        return target

    def _torchvision_root(self, root: Path | str) -> Path:
        """The folder holding ``self.folder``: ``root`` itself, or its ancestor when ``root`` is inside the dataset."""
        root = Path(root).expanduser()
        if not root.exists():
            raise FewShotError(f"The folder {root} does not exist. Point --root at the folder holding {self.folder}/ ({self.title}).")
        parts = Path(self.folder).parts
        candidates = [root] + [root.parents[d - 1] for d in range(len(parts), 0, -1) if root.parts[-d:] == parts[:d]]
        for candidate in candidates:
            if (candidate / self.folder).is_dir():
                return candidate.resolve()
        raise FewShotError(self._layout_message(root, f"no {self.folder}/ in it"))

    def _open(self, parent: Path, split: str):
        try:
            return self.create(parent, split, False)
        except _LAYOUT_ERRORS as e:
            raise FewShotError(self._layout_message(parent, f"torchvision says: {e}")) from e

    def _layout_message(self, root: Path, problem: str) -> str:
        fix = f"run `python -m fewshot_core download --dataset {self.name} --root DIR`" if self.can_download else "get a copy of the dataset"
        return (
            f"{root} does not hold {self.title} in torchvision's layout ({problem}). "
            f"Expected {self.folder}/ with {self.layout}; point --root at its parent, or {fix}."
        )

    @staticmethod
    def _read_split(ds) -> Split:
        """(path, label) of every item, in torchvision's order."""
        items = [ds[i] for i in range(len(ds))]
        return Split([Path(p) for p, _ in items], np.array([int(y) for _, y in items], np.int64))


def _flowers(root: Path, split: str, download: bool):
    from torchvision.datasets import Flowers102

    return Flowers102(root, split=split, download=download, loader=_path_only)


def _aircraft(root: Path, split: str, download: bool):
    from torchvision.datasets import FGVCAircraft

    return FGVCAircraft(root, split=split, annotation_level="variant", download=download, loader=_path_only)


def _food(root: Path, split: str, download: bool):
    from torchvision.datasets import Food101

    return Food101(root, split=split, download=download, loader=_path_only)


def _dtd(root: Path, split: str, download: bool):
    from torchvision.datasets import DTD

    return DTD(root, split=split, partition=1, download=download, loader=_path_only)


def _cars(root: Path, split: str, download: bool):
    from torchvision.datasets import StanfordCars

    return StanfordCars(root, split=split, download=download, loader=_path_only)


SETS = [
    TorchvisionSet(
        name="flowers102",
        title="Oxford Flowers-102",
        folder="flowers-102",
        layout="jpg/, imagelabels.mat and setid.mat",
        splits={"train": "train", "val": "val", "test": "test"},
        official_counts={"num_classes": 102, "num_train": 1020, "num_val": 1020, "num_test": 6149},
        image_dir="jpg",
        create=_flowers,
        display=lambda c: c.rstrip("?").strip(),  # torchvision spells one class "pink-yellow dahlia?"
    ),
    TorchvisionSet(
        name="fgvc-aircraft",
        title="FGVC-Aircraft (variants)",
        folder="fgvc-aircraft-2013b",
        layout="data/images/, data/variants.txt and data/images_variant_{train,val,test}.txt",
        splits={"train": "train", "val": "val", "test": "test"},
        official_counts={"num_classes": 100, "num_train": 3334, "num_val": 3333, "num_test": 3333},
        image_dir="data/images",
        create=_aircraft,
        options={"annotation_level": "variant"},
    ),
    TorchvisionSet(
        name="food101",
        title="Food-101",
        folder="food-101",
        layout="images/<class>/, meta/train.json and meta/test.json",
        splits={"train": "train", "test": "test"},
        official_counts={"num_classes": 101, "num_train": 75750, "num_test": 25250},
        image_dir="images",
        create=_food,
        display=lambda c: c.replace("_", " "),
    ),
    TorchvisionSet(
        name="dtd",
        title="Describable Textures (DTD)",
        folder="dtd/dtd",
        layout="images/<class>/ and labels/{train,val,test}1.txt",
        splits={"train": "train", "val": "val", "test": "test"},
        official_counts={"num_classes": 47, "num_train": 1880, "num_val": 1880, "num_test": 1880},
        image_dir="images",
        create=_dtd,
        options={"partition": 1},
    ),
    TorchvisionSet(
        name="stanford-cars",
        title="Stanford Cars",
        folder="stanford_cars",
        layout="cars_train/, cars_test/, devkit/cars_meta.mat, devkit/cars_train_annos.mat and cars_test_annos_withlabels.mat",
        splits={"train": "train", "test": "test"},
        official_counts={"num_classes": 196, "num_train": 8144, "num_test": 8041},
        image_dir="",
        create=_cars,
        can_download=False,
    ),
]

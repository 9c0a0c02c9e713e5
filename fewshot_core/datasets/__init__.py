"""Datasets: one module per dataset, all returning ``ImageDataset``."""

from __future__ import annotations

from pathlib import Path

from ..errors import FewShotError
from . import cub, demo, pets
from .base import ClassAttributes, ImageDataset, Split
from .sampling import FewShotSplit, sample_few_shot

# name -> module with NAME, TITLE, OFFICIAL_COUNTS and load(root)
_LOADERS = {m.NAME: m for m in (cub, pets, demo)}


def list_datasets() -> list[str]:
    """Names accepted by ``load_dataset``."""
    return sorted(_LOADERS)


def dataset_title(name: str) -> str:
    """The human title of a dataset name ("cub" -> "CUB-200-2011")."""
    return _module(name).TITLE


def official_counts(name: str) -> dict[str, int] | None:
    """The class and split sizes of the official release, if the dataset has one."""
    return getattr(_module(name), "OFFICIAL_COUNTS", None)


def load_dataset(name: str, root: Path | str | None) -> ImageDataset:
    """Load dataset ``name`` from ``root`` (the dataset folder itself or its parent).

    The demo needs no root: it is generated under the cache the first time.
    """
    if root is None and name != "demo":
        raise FewShotError(f"Dataset {name!r} needs a folder (--root).")
    return _module(name).load(root)


def _module(name: str):
    if name not in _LOADERS:
        raise FewShotError(f"Unknown dataset {name!r}; choose one of {', '.join(list_datasets())}.")
    return _LOADERS[name]


__all__ = [
    "ClassAttributes",
    "FewShotSplit",
    "ImageDataset",
    "Split",
    "dataset_title",
    "list_datasets",
    "load_dataset",
    "official_counts",
    "sample_few_shot",
]

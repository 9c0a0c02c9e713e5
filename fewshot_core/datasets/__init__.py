"""Datasets: one module per dataset, all returning ``ImageDataset``; the registry of names is here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..demo import dataset as demo
from ..errors import FewShotError
from ..layout import CacheLayout
from ..progress import ProgressFn
from . import cub, folder, pets, torchvision_sets
from .base import ClassAttributes, ImageDataset, Split
from .sampling import FewShotSplit, sample_few_shot


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset: what the CLI's --dataset, the app's picker and verify-dataset know of it."""

    name: str
    title: str
    load: Callable[[Path | str | None], ImageDataset]
    official_counts: dict[str, int] | None = None  # class and split sizes of the official release
    image_dir: str = ""  # where split-file paths start, relative to the dataset folder (CoOp's image_dir)
    needs_root: bool = True
    download: Callable[[Path | str, ProgressFn], Path] | None = None  # None: download.py's archives, if any


def _from_module(module, image_dir: str = "images", needs_root: bool = True) -> DatasetInfo:
    return DatasetInfo(module.NAME, module.TITLE, module.load, getattr(module, "OFFICIAL_COUNTS", None), image_dir, needs_root)


_REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _from_module(demo, image_dir="", needs_root=False),
        _from_module(cub),
        _from_module(pets),
        *(
            DatasetInfo(s.name, s.title, s.load, s.official_counts, s.image_dir, True, s.download if s.can_download else None)
            for s in torchvision_sets.SETS
        ),
        _from_module(folder, image_dir=folder.IMAGE_DIR),
    )
}


def list_datasets() -> list[str]:
    """Names accepted by ``load_dataset``, in the order the app and the CLI show them."""
    return list(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of a dataset name, with a clear error for an unknown one."""
    if name not in _REGISTRY:
        raise FewShotError(f"Unknown dataset {name!r}; choose one of {', '.join(list_datasets())}.")
    return _REGISTRY[name]


def dataset_title(name: str) -> str:
    """The human title of a dataset name ("cub" -> "CUB-200-2011")."""
    return dataset_info(name).title


def official_counts(name: str) -> dict[str, int] | None:
    """The class and split sizes of the official release, if the dataset has one."""
    return dataset_info(name).official_counts


def load_dataset(
    name: str, root: Path | str | None, split_file: Path | str | None = None, cache: CacheLayout | Path | str | None = None
) -> ImageDataset:
    """Load dataset ``name`` from ``root`` (the dataset folder itself or its parent).

    The demo needs no root: it is generated the first time under ``cache``'s ``CacheLayout.demo_data`` (None: the
    default cache), so every caller that names the same cache finds the same images (and their cached features).

    Args:
        split_file: a CoOp-format JSON split file whose train/val/test lists replace the dataset's splits.
    """
    info = dataset_info(name)
    if root is None and info.needs_root:
        raise FewShotError(f"Dataset {name!r} needs a folder (--root).")
    if root is None:
        root = (CacheLayout.of(cache) if cache else CacheLayout.resolve()).demo_data
    dataset = info.load(root)
    if split_file:
        from .split_file import apply_split_file

        dataset = apply_split_file(dataset, split_file, info.image_dir)
    return dataset


__all__ = [
    "ClassAttributes",
    "DatasetInfo",
    "FewShotSplit",
    "ImageDataset",
    "Split",
    "dataset_info",
    "dataset_title",
    "list_datasets",
    "load_dataset",
    "official_counts",
    "sample_few_shot",
]

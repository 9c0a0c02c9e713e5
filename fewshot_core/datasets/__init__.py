"""Datasets: one module per dataset, all returning ``ImageDataset``; the registry of names is here, with what the
rest of the lab knows of each dataset (its prompt noun, zero-shot templates, archives, attribute sentences)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..demo import dataset as demo
from ..errors import FewShotError
from ..layout import CacheLayout
from ..progress import ProgressFn
from . import cub, folder, pets, torchvision_sets
from .base import Archive, ClassAttributes, ImageDataset, Split
from .sampling import FewShotSplit, sample_few_shot

DEFAULT_TEMPLATES = ("a photo of a {}.",)  # CLIP's class-name prompt where a dataset has no own


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset: what the CLI's --dataset, the app's picker, verify-dataset, the prompts, zero-shot
    CLIP and the downloader know of it."""

    name: str
    title: str
    load: Callable[[Path | str | None], ImageDataset]
    official_counts: dict[str, int] | None = None  # class and split sizes of the official release
    image_dir: str = ""  # where split-file paths start, relative to the dataset folder (CoOp's image_dir)
    needs_root: bool = True  # False: made by the lab under the cache (the demo), no folder to give
    download: Callable[[Path | str, ProgressFn], Path] | None = None  # its own downloader (torchvision's); else ``archives``
    archives: tuple[Archive, ...] = ()  # official archives ``download.py`` fetches, checks and extracts
    noun: str = "object"  # what {dataset} in a description prompt becomes ("a type of bird")
    templates: tuple[str, ...] = DEFAULT_TEMPLATES  # zero-shot class-name prompts, {} = the class (the CLIP paper's per dataset)
    attribute_sentences: Callable[[ImageDataset, int], list[str]] | None = None  # (dataset, class) -> the attributes source's
    # sentences for it; None: one sentence per strong attribute
    offline_source: str | None = None  # a description source that needs no network, key or model (the demo: its
    # attributes): the app offers it first when there is no OpenAI key, and reproduce uses it when given no descriptions
    own_clip: Callable[[str], Any] | None = None  # device -> the BackboneConfig of its own CLIP (the demo's), used when
    # neither a model nor weights is given


def _demo_sentences(dataset: ImageDataset, c: int) -> list[str]:
    """The demo's varied sentences of class ``c``, from its colour, pattern and shape attributes."""
    from ..demo.words import class_descriptions

    attributes = dataset.attributes
    on = {n.partition("::")[0]: n.partition("::")[2] for n, v in zip(attributes.names, attributes.values[c]) if v >= 50}
    return class_descriptions(on["has_color"], on["has_pattern"], on["has_shape"])


def _from_module(module, image_dir: str = "images", needs_root: bool = True, **words) -> DatasetInfo:
    return DatasetInfo(module.NAME, module.TITLE, module.load, getattr(module, "OFFICIAL_COUNTS", None), image_dir, needs_root, **words)


def _typed(noun: str, templates: tuple[str, ...] | None = None) -> dict:
    """A dataset's prompt noun and zero-shot templates: by default the CLIP paper's "a photo of a {}, a type of <noun>."."""
    return {"noun": noun, "templates": templates or (f"a photo of a {{}}, a type of {noun}.",)}


_TORCHVISION_WORDS = {  # the CLIP paper's templates of torchvision's sets
    "flowers102": _typed("flower"),
    "fgvc-aircraft": _typed("aircraft"),
    "food101": _typed("food", ("a photo of {}, a type of food.",)),
    "dtd": _typed("texture", ("a photo of a {} texture.",)),
    "stanford-cars": _typed("car", DEFAULT_TEMPLATES),
}
_CUB_ARCHIVES = (Archive("https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz", "97eceeb196236b17998738112f37df78"),)
_PETS_ARCHIVES = (
    Archive("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c", "oxford-iiit-pet"),
    Archive("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f", "oxford-iiit-pet"),
)

_REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _from_module(
            demo,
            image_dir="",
            needs_root=False,
            noun="shape",
            attribute_sentences=_demo_sentences,
            offline_source="attributes",
            own_clip=demo.clip_config,
        ),
        _from_module(cub, archives=_CUB_ARCHIVES, **_typed("bird")),
        _from_module(pets, archives=_PETS_ARCHIVES, **_typed("pet")),
        *(
            replace(
                DatasetInfo(s.name, s.title, s.load, s.official_counts, s.image_dir, True, s.download if s.can_download else None),
                **_TORCHVISION_WORDS.get(s.name, {}),
            )
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


def is_generated(name: str) -> bool:
    """Whether ``name`` is a registered dataset the lab generates itself (no folder to give: the demo)."""
    return name in _REGISTRY and not _REGISTRY[name].needs_root


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

    A generated dataset (the demo) needs no root: it is made the first time under ``cache``'s
    ``CacheLayout.generated_data(name)`` (None: the default cache), so every caller that names the same cache finds the same images (and their cached features).

    Args:
        split_file: a CoOp-format JSON split file whose train/val/test lists replace the dataset's splits.
    """
    info = dataset_info(name)
    if root is None and info.needs_root:
        raise FewShotError(f"Dataset {name!r} needs a folder (--root).")
    if root is None:
        root = (CacheLayout.of(cache) if cache else CacheLayout.resolve()).generated_data(name)
    dataset = info.load(root)
    if split_file:
        from .split_file import apply_split_file

        dataset = apply_split_file(dataset, split_file, info.image_dir)
    return dataset


__all__ = [
    "Archive",
    "ClassAttributes",
    "DatasetInfo",
    "FewShotSplit",
    "ImageDataset",
    "Split",
    "dataset_info",
    "dataset_title",
    "is_generated",
    "list_datasets",
    "load_dataset",
    "official_counts",
    "sample_few_shot",
]

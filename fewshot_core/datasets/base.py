"""The dataset interface every loader returns: classes, display names, splits, image paths.

A new dataset is one module with a ``load(root) -> ImageDataset`` function registered in
``datasets/__init__.py`` (with its prompt noun, zero-shot templates and archives); nothing else in the code
needs to change (CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FewShotError

SPLITS = ("train", "test")  # every dataset has these; "val" is optional (an official or split-file validation list)


@dataclass(frozen=True)
class Archive:
    """One official archive: where it lives, its MD5, and the sub-folder it extracts into (``download.py`` fetches it)."""

    url: str
    md5: str
    subdir: str = ""  # extract into target/subdir (Pets archives go into oxford-iiit-pet/)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ClassAttributes:
    """Per-class attribute strengths (e.g. CUB's 312 attributes as percentages 0-100)."""

    names: list[str]  # (A,) human-readable attribute names, e.g. "has_bill_shape::curved"
    values: np.ndarray  # (C, A) float, rows in label order


@dataclass(frozen=True)
class Split:
    """Image paths and integer labels of one split, in a fixed order."""

    paths: list[Path]
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.paths)


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image classification dataset with official train/test splits."""

    name: str  # registry name: "cub", "pets", "demo", ...
    root: Path  # the resolved dataset folder
    class_names: list[str]  # raw names as the dataset spells them ("001.Black_footed_Albatross")
    display_names: list[str]  # the form shown to people and given to CLIP/LLMs
    splits: dict[str, Split]
    attributes: ClassAttributes | None = None
    notes: list[str] = field(default_factory=list)  # anything the loader wants the user to know
    provenance: dict[str, Any] = field(default_factory=dict)  # how the splits were made (split file and its SHA-256, folder split seed)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        """Return a split by name, with a clear error for an unknown one."""
        if name not in self.splits:
            raise FewShotError(f"Dataset {self.name!r} has no split {name!r}; use one of {sorted(self.splits)}.")
        return self.splits[name]


def read_table(path: Path, min_fields: int) -> list[list[str]]:
    """Read a whitespace-separated text table, skipping blank lines and ``#`` comments."""
    if not path.is_file():
        raise FewShotError(f"Missing file {path}. Is the dataset folder complete? Re-download or re-extract it.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FewShotError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start}). The file looks corrupt; re-extract the archive.") from e
    except OSError as e:
        raise FewShotError(f"Could not read {path} ({e.strerror or e}). Check the file's permissions.") from e
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < min_fields:
            raise FewShotError(f"{path}:{lineno}: expected {min_fields} fields, got {line!r}. The file looks corrupt.")
        rows.append(fields)
    return rows


def as_int(value: str, path: Path) -> int:
    """An integer field of an annotation file, with a clear error for anything else."""
    try:
        return int(value)
    except ValueError:
        raise FewShotError(f"{path}: {value!r} is not an integer id or label. The file looks corrupt; re-extract the archive.") from None


def check_labels(labels: dict[str, int], num_classes: int, path: Path) -> None:
    """Refuse 0-based labels outside ``0..num_classes-1`` (they would fail much later, obscurely)."""
    bad = next(((i, c) for i, c in labels.items() if not 0 <= c < num_classes), None)
    if bad is not None:
        raise FewShotError(
            f"{path}: image {bad[0]} has label {bad[1] + 1}, but there are only {num_classes} classes (1-{num_classes}). "
            "The file looks corrupt; re-extract the archive."
        )


def find_root(root: Path | str, marker: str, candidates: Iterable[str], dataset: str) -> Path:
    """Find the dataset folder: ``root`` itself or one of its named children, holding ``marker``.

    Raises:
        FewShotError: when no candidate holds ``marker``, naming what was looked for.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FewShotError(f"The folder {root} does not exist. Point --root at the {dataset} folder or its parent.")
    for folder in [root, *(root / c for c in candidates)]:
        if (folder / marker).exists():
            return folder
    raise FewShotError(
        f"{root} is not a {dataset} folder: no {marker!r} in it or in {', '.join(candidates)}. "
        f"Point --root at the extracted {dataset} folder (or its parent), or run "
        f"`python -m fewshot_core download --dataset ...` first."
    )


def check_class_sizes(labels: np.ndarray, val_idx: np.ndarray, class_names: list[str], given_val: bool = False) -> None:
    """Refuse, before any training, data a sweep cannot measure. Drawn validation (``sampling.validation_indices``)
    takes a third of each class, so there each class needs 3 training images: one to validate on (text counts
    and hyper-parameters are chosen there) and one to train on. A given validation list (a split file's ``val``)
    must not be empty, and each class needs an image outside it to train on.

    Args:
        labels: (N,) training labels; val_idx: (V,) the validation rows among them.
        given_val: the validation list came with the dataset, not from the draw.

    Raises:
        FewShotError: naming how many classes fall short, with examples and their image counts.
    """
    labels = np.asarray(labels, np.int64)
    total = np.bincount(labels, minlength=len(class_names))
    val = np.bincount(labels[np.asarray(val_idx, np.int64)], minlength=len(class_names))
    if given_val and not len(val_idx):
        raise FewShotError("The validation list is empty (none of its images could be read); give a split file whose val list has images.")
    short = np.flatnonzero((total - val < 1) if given_val else (val < 1) | (total - val < 1))
    if not len(short):
        return
    examples = ", ".join(f"{class_names[c]!r} ({total[c]} image(s), {val[c]} for validation)" for c in short[:3])
    need = "an image outside the validation list to train on" if given_val else "at least 3 training images (a third is held out for validation)"
    raise FewShotError(
        f"{len(short)} of {len(class_names)} classes cannot be trained and validated, e.g. {examples}: each class needs {need}. "
        "Add images to those classes or remove them."
    )

"""Split files in CoOp's format: the train/val/test lists published few-shot CLIP results use.

A split file is JSON ``{"train": [[relative_path, label, class_name], ...], "val": [...], "test": [...]}``
(CoOp's ``split_zhou_OxfordPets.json`` and friends). Its lists replace the dataset's own splits, and its
``val`` list replaces the lab's validation draw. Paths are resolved as CoOp does, relative to the
dataset's image folder (``images/`` for Pets and CUB, ``jpg/`` for Flowers102), else relative to the
dataset folder. Classes are matched to the dataset's by name (case, ``_`` and word order ignored, so
CoOp's ``"2000 AM General Hummer SUV"`` is Stanford Cars' ``"AM General Hummer SUV 2000"``); the file's
integer labels only have to be consistent with its class names. Paths must stay inside the dataset
folder: an absolute path, a ``..`` that climbs out of it or a NUL character is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import FewShotError
from ..storage import parse_json
from .base import ImageDataset, Split
from .folder import display_name

LISTS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitEntry:
    """One row of a split file."""

    path: str  # as written in the file
    label: int
    class_name: str


@dataclass(frozen=True)
class SplitFile:
    """A parsed split file and the SHA-256 of its bytes."""

    path: Path
    sha256: str
    lists: dict[str, list[SplitEntry]]  # "train", "val" (may be empty), "test"


def read_split_file(path: Path | str) -> SplitFile:
    """Parse and check a split file.

    Raises:
        FewShotError: for a missing file, bad JSON, missing ``train``/``test`` lists or malformed rows.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is not a regular file (a folder, named pipe or device)" if path.exists() else "does not exist"
        raise FewShotError(f"The split file {path} {what}. Pass a JSON file like CoOp's split_zhou_<Dataset>.json.")
    try:
        raw = path.read_bytes()
        data = parse_json(raw)  # strict: a repeated key, a lone surrogate or a 5000-digit number is refused
    except OSError as e:
        raise FewShotError(f"Could not read the split file {path} ({e.strerror or e}). Check its permissions.") from e
    except (ValueError, RecursionError) as e:
        raise FewShotError(f"The split file {path} is not valid JSON ({e}). Expected {{'train': [...], 'val': [...], 'test': [...]}}.") from e
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("train", "test")):
        raise FewShotError(f"The split file {path} needs 'train' and 'test' lists (and usually 'val') of [relative_path, label, class_name].")
    lists = {name: [_entry(path, name, i, row) for i, row in enumerate(data.get(name) or [])] for name in LISTS}
    if not lists["train"] or not lists["test"]:
        raise FewShotError(f"The split file {path} has an empty {'train' if not lists['train'] else 'test'} list.")
    return SplitFile(path.resolve(), hashlib.sha256(raw).hexdigest(), lists)


def _entry(path: Path, name: str, i: int, row) -> SplitEntry:
    """One ``[relative_path, label, class_name]`` row, checked."""
    ok = isinstance(row, (list, tuple)) and len(row) == 3 and isinstance(row[0], str) and isinstance(row[2], str)
    if ok and isinstance(row[1], int) and not isinstance(row[1], bool):
        if not _inside(row[0]):
            raise FewShotError(
                f"{path}: {name}[{i}] names {row[0]!r}, which is not inside the dataset folder. "
                "Split-file paths are relative to it (e.g. 'Abyssinian_1.jpg'), without a leading '/' or a '..' that climbs out."
            )
        return SplitEntry(row[0], row[1], row[2])
    raise FewShotError(f"{path}: {name}[{i}] is {row!r:.200}; every row must be [relative_path, integer label, class_name].")


def _inside(rel: str) -> bool:
    """Whether a split-file path stays inside the folder it is relative to (judged on the text: a link inside the
    dataset folder, e.g. images/ on another disk, is the user's own choice and is followed)."""
    if not rel or "\0" in rel or os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return False
    parts = os.path.normpath(rel).replace("\\", "/").split("/")
    return parts[0] != ".."


def name_keys(name: str) -> list[tuple[str, ...]]:
    """A class name reduced for matching (case, punctuation and word order ignored): as written, then without a numbering prefix."""
    keys = [tuple(sorted(re.findall(r"[a-z0-9]+", form.lower()))) for form in (name, display_name(name))]
    return keys if keys[0] != keys[1] else keys[:1]


def apply_split_file(dataset: ImageDataset, split_file: Path | str, image_dir: str = "") -> ImageDataset:
    """The dataset with its splits replaced by a split file's lists.

    Args:
        dataset: as its loader returned it (its class names are matched to the file's).
        split_file: a CoOp-format JSON file.
        image_dir: where the file's paths start, relative to ``dataset.root`` (CoOp's image_dir).

    Returns:
        A dataset with ``train``, ``test`` and (when the file has one) ``val`` splits, the classes the
        file uses (in the dataset's order), and the file's path and SHA-256 in its provenance.

    Raises:
        FewShotError: for a class the dataset does not have, one label with two names, or listed
            images that do not exist (counted per list, with examples).
    """
    sf = read_split_file(split_file)
    to_class = _match_classes(sf, dataset)
    kept = sorted(set(to_class.values()))
    new_label = {c: i for i, c in enumerate(kept)}
    paths = {name: [_resolve(dataset.root, image_dir, e.path) for e in entries] for name, entries in sf.lists.items()}
    _refuse_missing(sf, paths)
    splits = {
        name: Split(paths[name], np.array([new_label[to_class[e.label]] for e in entries], np.int64)) for name, entries in sf.lists.items() if entries
    }
    notes = list(dataset.notes)
    listed = [p for ps in paths.values() for p in ps]
    if len(set(listed)) < len(listed):
        notes.append(f"The split file lists {len(listed) - len(set(listed))} image(s) more than once (within or across lists).")
    if len(kept) < dataset.num_classes:
        notes.append(f"The split file uses {len(kept)} of the dataset's {dataset.num_classes} classes; the others are left out.")
    provenance = {
        **dataset.provenance,
        "split_file": str(sf.path),
        "split_file_sha256": sf.sha256,
        "split_file_counts": {name: len(entries) for name, entries in sf.lists.items()},
    }
    return replace(
        dataset,
        class_names=[dataset.class_names[c] for c in kept],
        display_names=[dataset.display_names[c] for c in kept],
        splits=splits,
        attributes=_keep_attributes(dataset, kept),
        notes=notes,
        provenance=provenance,
    )


def _match_classes(sf: SplitFile, dataset: ImageDataset) -> dict[int, int]:
    """``{file label: dataset class}``, matched by class name."""
    names: dict[int, str] = {}
    for entries in sf.lists.values():
        for e in entries:
            known = names.setdefault(e.label, e.class_name)
            if name_keys(known)[0] != name_keys(e.class_name)[0]:
                raise FewShotError(f"{sf.path}: label {e.label} is used for both {known!r} and {e.class_name!r}. The split file is inconsistent.")
    lookup: dict[tuple[str, ...], int] = {}
    for c, forms in enumerate(zip(dataset.class_names, dataset.display_names)):
        for key in (k for form in forms for k in name_keys(form)):
            lookup.setdefault(key, c)
    found = {label: next((lookup[k] for k in name_keys(n) if k in lookup), None) for label, n in names.items()}
    unknown = sorted({names[label] for label, c in found.items() if c is None})
    if unknown:
        raise FewShotError(
            f"{sf.path} names {len(unknown)} class(es) that dataset {dataset.name!r} does not have, e.g. {', '.join(map(repr, unknown[:3]))}. "
            "Is it the split file of another dataset?"
        )
    to_class = {label: int(c) for label, c in found.items()}
    if len(set(to_class.values())) < len(to_class):
        raise FewShotError(f"{sf.path}: two of its labels name the same class of {dataset.name!r}. The split file is inconsistent.")
    return to_class


def _resolve(root: Path, image_dir: str, rel: str) -> Path:
    """CoOp's resolution: ``root/image_dir/rel``, else ``root/rel`` (the first that exists; the first if neither does)."""
    first = root / image_dir / rel
    if first.is_file():
        return first
    second = root / rel
    return second if second.is_file() else first


def _refuse_missing(sf: SplitFile, paths: dict[str, list[Path]]) -> None:
    """Raise, counting per list, when listed images do not exist (never drop them silently)."""
    missing = {name: [e.path for e, p in zip(sf.lists[name], ps) if not p.is_file()] for name, ps in paths.items()}
    missing = {name: rows for name, rows in missing.items() if rows}
    if missing:
        counts = ", ".join(f"{len(rows)} of {len(sf.lists[name])} in {name}" for name, rows in missing.items())
        example = next(iter(missing.values()))[0]
        raise FewShotError(
            f"{sf.path} lists images that do not exist ({counts}; e.g. {example!r}). "
            "Is --root the dataset folder the split file was made for? Complete the dataset or fix the file."
        )


def _keep_attributes(dataset: ImageDataset, kept: list[int]):
    """Class attributes restricted to the kept classes."""
    if dataset.attributes is None or len(kept) == dataset.num_classes:
        return dataset.attributes
    return replace(dataset.attributes, values=dataset.attributes.values[kept])

"""Your own images: an ImageFolder-style tree, one subfolder per class.

Two layouts are read::

    ROOT/<class>/**/<image>                     one tree: a deterministic stratified split is made
    ROOT/{train,test[,val]}/<class>/**/<image>   the splits are given by the folders

Class folders may nest images in sub-folders (as torchvision's ``ImageFolder`` does). Image files are
recognised by torchvision's ``IMG_EXTENSIONS``; other files (notes, CSVs, ``.DS_Store``) are ignored and
counted, hidden folders are skipped. Unreadable images stay in the splits and are skipped and listed by
``verify-dataset`` and the feature encoder, as for every dataset.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FewShotError
from .base import ImageDataset, Split

NAME = "folder"
TITLE = "Your own image folder"
IMAGE_DIR = ""  # split-file paths are relative to the folder itself ("<class>/<image>", or "train/<class>/<image>")
SPLIT_FOLDERS = ("train", "val", "test")
# torchvision.datasets.folder.IMG_EXTENSIONS (what ImageFolder reads), written out: importing torchvision takes seconds
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class FolderSplitConfig:
    """How a tree without train/ and test/ folders is split (recorded in the dataset's provenance)."""

    test_fraction: float = 0.3  # share of each class's images that go to the test split (rounded, >= 1 when the class has 2+)
    seed: int = 0  # seed of the per-class shuffle; the same tree and seed give the same split


def display_name(folder_name: str) -> str:
    """A class folder's name as people read it: numbering prefix dropped, underscores as spaces, case kept.

    ``"001.Black_footed_Albatross"`` -> ``"Black footed Albatross"`` (as for CUB), ``"12 - golden_retriever"``
    -> ``"golden retriever"``, ``"St._Bernard"`` -> ``"St. Bernard"``.
    """
    name = re.sub(r"^\d+(\s*[.\-_)]\s*|\s+)-?\s*", "", folder_name.strip())  # "001.", "12 - ", "3) "; not "7up"
    name = re.sub(r"[_\s]+", " ", name.replace("_", " ")).strip()
    return name or folder_name.strip()


def load(root: Path | str, config: FolderSplitConfig | None = None) -> ImageDataset:
    """Read an image folder tree.

    Args:
        root: the tree's top folder (holding class folders, or train/ and test/).
        config: the stratified split used when the tree has no train/ and test/ folders.

    Raises:
        FewShotError: for a missing folder, an empty tree, a single class, a class folder without
            images, an image where a class folder should be, or clashing class names.
    """
    config = config or FolderSplitConfig()
    base = _check_root(root)
    split_dirs = {name: base / name for name in SPLIT_FOLDERS if (base / name).is_dir()}
    counter = _IgnoredFiles()
    if split_dirs:
        by_split, class_names, provenance = _read_split_folders(base, split_dirs, counter)
    else:
        files = _read_classes(base, counter)
        class_names = sorted(files)
        by_split = _stratified_split(files, class_names, config)
        provenance = {"folder_split": "stratified", "test_fraction": config.test_fraction, "split_seed": config.seed}
    display = _display_names(class_names)
    index = {name: i for i, name in enumerate(class_names)}
    splits = {}
    for split, files in by_split.items():
        pairs = [(p, index[c]) for c in class_names for p in files.get(c, [])]
        splits[split] = Split([p for p, _ in pairs], np.array([y for _, y in pairs], np.int64))
    provenance["ignored_files"] = counter.count
    provenance["content_id"] = _content_id(base, splits)
    untested = [display[c] for c in range(len(class_names)) if c not in set(splits["test"].labels.tolist())]
    notes = counter.notes() + (
        [f"No test images for {len(untested)} class(es), e.g. {untested[0]}; accuracy on them is not measured."] if untested else []
    )
    return ImageDataset(NAME, base, class_names, display, splits, notes=notes, provenance=provenance)


class _IgnoredFiles:
    """Counts the non-image files met while reading (a few kept as examples)."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, path: Path, base: Path) -> None:
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(str(path.relative_to(base)))

    def notes(self) -> list[str]:
        if not self.count:
            return []
        return [f"Ignored {self.count} non-image file(s), e.g. {', '.join(self.examples)}."]


def _check_root(root: Path | str) -> Path:
    """The tree's folder, resolved; a clear error for a missing path or a file."""
    base = Path(root).expanduser()
    if not base.exists():
        raise FewShotError(f"The folder {base} does not exist. Point --root at your image folder (one subfolder per class).")
    if not base.is_dir():
        raise FewShotError(f"{base} is a file, not a folder. Point --root at a folder with one subfolder per class (extract archives first).")
    return base.resolve()


def _is_image(path: Path | str) -> bool:
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def _read_classes(top: Path, counter: _IgnoredFiles, base: Path | None = None) -> dict[str, list[Path]]:
    """``{class folder name: sorted image paths}`` of one tree level; errors for stray images and empty classes."""
    base = base or top
    entries = sorted(p for p in top.iterdir() if not p.name.startswith("."))
    stray = [p for p in entries if p.is_file() and _is_image(p)]
    if stray:
        raise FewShotError(
            f"{stray[0]} is an image where a class folder should be ({len(stray)} such file(s) in {top}). Move images into one subfolder per class."
        )
    for p in entries:
        if p.is_file():
            counter.add(p, base)
    files = {p.name: _images_in(p, counter, base) for p in entries if p.is_dir()}
    if not files:
        raise FewShotError(f"{top} has no class folders. Put one subfolder per class in it, each holding that class's images.")
    empty = sorted(name for name, paths in files.items() if not paths)
    if empty:
        raise FewShotError(f"Class folder(s) {', '.join(empty[:5])} in {top} hold no images. Add images or remove the folder(s).")
    return files


def _images_in(folder: Path, counter: _IgnoredFiles, base: Path) -> list[Path]:
    """Image files anywhere under a class folder (hidden ones skipped), sorted; others counted."""
    images = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # sorted: the same examples on every system
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if _is_image(name):
                images.append(path)
            else:
                counter.add(path, base)
    return sorted(images)


def _read_split_folders(base: Path, split_dirs: dict[str, Path], counter: _IgnoredFiles):
    """The train/test[/val] layout: per-split class folders, classes the union over splits."""
    missing = [s for s in ("train", "test") if s not in split_dirs]
    if missing:
        raise FewShotError(f"{base} has {'/'.join(split_dirs)}/ but no {missing[0]}/ folder. Add it, or put the class folders directly in {base}.")
    others = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in SPLIT_FOLDERS)
    if others:
        raise FewShotError(f"{base} mixes split folders (train/, test/) with other folders ({', '.join(others[:5])}). Move those into a split.")
    for p in base.iterdir():
        if p.is_file() and not p.name.startswith("."):
            if _is_image(p):
                raise FewShotError(f"{p} is an image where the train/ and test/ folders should be. Move it into a class folder of a split.")
            counter.add(p, base)
    by_split = {split: _read_classes(folder, counter, base) for split, folder in split_dirs.items()}
    class_names = sorted(set().union(*by_split.values()))
    untrained = [c for c in class_names if c not in by_split["train"]]
    if untrained:
        raise FewShotError(f"Class(es) {', '.join(untrained[:5])} have test or val images but no train/ folder. Add training images for them.")
    if len(class_names) < 2:
        raise FewShotError(f"{base} has a single class ({class_names[0]}). Classification needs at least two class folders.")
    return by_split, class_names, {"folder_split": "folders", "split_folders": sorted(split_dirs)}


def _stratified_split(files: dict[str, list[Path]], class_names: list[str], config: FolderSplitConfig) -> dict[str, dict[str, list[Path]]]:
    """Per class: shuffle with (seed, class name) and put ``round(n * test_fraction)`` images in test."""
    if len(class_names) < 2:
        raise FewShotError(f"The folder has a single class ({class_names[0]}). Classification needs at least two class folders.")
    if not 0 < config.test_fraction < 1:
        raise FewShotError(f"test_fraction must be between 0 and 1, got {config.test_fraction}.")
    train, test = {}, {}
    for name in class_names:
        paths = files[name]
        n_test = min(max(round(len(paths) * config.test_fraction), 1), len(paths) - 1) if len(paths) > 1 else 0
        key = [config.seed, *name.encode("utf-8")]  # seeded by name: adding a class leaves the others' splits alone
        order = np.random.default_rng(key).permutation(len(paths))
        chosen = set(order[:n_test].tolist())
        test[name] = [p for i, p in enumerate(paths) if i in chosen]
        train[name] = [p for i, p in enumerate(paths) if i not in chosen]
    return {"train": train, "test": test}


def _content_id(base: Path, splits: dict[str, Split]) -> str:
    """SHA-256 over every image's relative path, size and modification time: another tree, or an edited one, gets new features."""
    h = hashlib.sha256()
    for path in sorted(p for split in splits.values() for p in split.paths):
        st = path.stat()
        h.update(f"{os.path.relpath(path, base)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _display_names(class_names: list[str]) -> list[str]:
    """Display names, refusing two folders that would show under one name (CLIP could not tell them apart)."""
    display = [display_name(c) for c in class_names]
    seen: dict[str, str] = {}
    for raw, shown in zip(class_names, display):
        other = seen.setdefault(shown.lower(), raw)
        if other != raw:
            raise FewShotError(f"Class folders {other!r} and {raw!r} both read as {shown!r}. Rename one so the classes have distinct names.")
    return display

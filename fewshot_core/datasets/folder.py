"""Your own images: an ImageFolder-style tree, one subfolder per class.

Two layouts are read::

    ROOT/<class>/**/<image>                     one tree: a deterministic stratified split is made
    ROOT/{train,test[,val]}/<class>/**/<image>   the splits are given by the folders

Class folders may nest images in sub-folders (as torchvision's ``ImageFolder`` does). Image files are
recognised by torchvision's ``IMG_EXTENSIONS``; other files (notes, CSVs, ``.DS_Store``) are ignored and
counted, hidden folders are skipped. Unreadable images stay in the splits and are skipped and listed by
``verify-dataset`` and the feature encoder, as for every dataset.

Symbolic links are followed inside the folder; a link to a folder outside it is refused unless asked
(``FolderSplitConfig.follow_outside_links``, or ``FEWSHOT_FOLLOW_LINKS=1`` in the environment), and so is
a link loop, a folder reached twice, a broken link, an image that is not a regular file (a named pipe
would block the reader forever) and a name that is not UTF-8: each stops with one ``error:`` line.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FewShotError
from ..storage import file_stamp
from .base import ImageDataset, Split

NAME = "folder"
TITLE = "Your own image folder"
IMAGE_DIR = ""  # split-file paths are relative to the folder itself ("<class>/<image>", or "train/<class>/<image>")
SPLIT_FOLDERS = ("train", "val", "test")
# torchvision.datasets.folder.IMG_EXTENSIONS (what ImageFolder reads), written out: importing torchvision takes seconds
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
ENV_FOLLOW_LINKS = "FEWSHOT_FOLLOW_LINKS"  # "1": follow symbolic links to folders outside the root (the CLI's and the app's way to ask)


@dataclass(frozen=True)
class FolderSplitConfig:
    """How a tree without train/ and test/ folders is split (recorded in the dataset's provenance)."""

    test_fraction: float = 0.3  # share of each class's images that go to the test split (rounded, >= 1 when the class has 2+)
    seed: int = 0  # seed of the per-class shuffle; the same tree and seed give the same split
    follow_outside_links: bool = False  # follow symbolic links to folders outside the root (else refused: a link to / walks everything)


def default_split_config() -> FolderSplitConfig:
    """The defaults, with ``follow_outside_links`` asked for by ``FEWSHOT_FOLLOW_LINKS=1``."""
    return FolderSplitConfig(follow_outside_links=os.environ.get(ENV_FOLLOW_LINKS) == "1")


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
            images, an image where a class folder should be, clashing class names, or a link loop, a
            folder reached twice, a link out of the root (unless followed), a broken link, an image that
            is not a regular file or a name that is not UTF-8.
    """
    config = config or default_split_config()
    base = _check_root(root)
    split_dirs = {name: base / name for name in SPLIT_FOLDERS if (base / name).is_dir()}
    counter = _IgnoredFiles()
    walker = _Walker(base, config.follow_outside_links, counter)
    if split_dirs:
        by_split, class_names, provenance = _read_split_folders(base, split_dirs, walker)
    else:
        files = _read_classes(base, walker)
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
            self.examples.append(_printable(os.path.relpath(path, base)))

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


def _printable(name: str) -> str:
    """A file name as text even when it is not UTF-8 (undecodable bytes shown as U+FFFD)."""
    return os.fsencode(name).decode("utf-8", "replace")


def _check_name(path: Path) -> None:
    """Refuse a file or folder name that is not UTF-8: names are stored as UTF-8 text (class names, run records)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise FewShotError(
            f"The name {_printable(path.name)!r} in {_printable(str(path.parent))} is not valid UTF-8 text. Rename it (e.g. with convmv)."
        ) from None


class _Walker:
    """Reads class folders safely: each folder once (no link loops, nothing counted twice), nothing outside the
    root unless asked, and only regular image files."""

    def __init__(self, base: Path, follow_outside: bool, counter: _IgnoredFiles) -> None:
        self.base, self.follow_outside, self.counter = base, follow_outside, counter
        self.seen: dict[tuple[int, int], Path] = {}
        self.enter(base)

    def enter(self, folder: Path) -> None:
        """Check a folder about to be read (directly or through a link) and remember it."""
        _check_name(folder)
        try:
            st, real = folder.stat(), folder.resolve(strict=True)
        except (OSError, RuntimeError) as e:  # RuntimeError: a link loop, on older Pythons
            raise FewShotError(f"{folder} cannot be read ({getattr(e, 'strerror', None) or e}). Fix or remove it.") from None
        if not self.follow_outside and not real.is_relative_to(self.base):
            raise FewShotError(
                f"{folder} is a symbolic link to {real}, outside {self.base}. Copy or move those images into the folder, "
                f"or set {ENV_FOLLOW_LINKS}=1 to follow links out of it."
            )
        other = self.seen.setdefault((st.st_dev, st.st_ino), folder)
        if other != folder:
            loop = folder.parent.resolve().is_relative_to(real)
            what = "a symbolic link loop: it leads back to" if loop else "the same folder, through a symbolic link, as"
            raise FewShotError(f"{folder} is {what} {other}; its images would be read again. Remove the link.")

    def check_image(self, path: Path) -> None:
        """Refuse an image that is a broken link or not a regular file (reading a named pipe never returns)."""
        _check_name(path)
        try:
            mode = os.stat(path).st_mode
        except OSError as e:
            if path.is_symlink():
                raise FewShotError(f"{path} is a broken symbolic link ({e.strerror}). Remove it or fix its target.") from None
            raise FewShotError(f"{path} cannot be read ({e.strerror}). Fix or remove it.") from None
        if not stat.S_ISREG(mode):
            raise FewShotError(f"{path} is not a regular file (a named pipe, socket or device), so it cannot be an image. Remove it.")

    def images_in(self, folder: Path) -> list[Path]:
        """Image files anywhere under a class folder (hidden ones skipped), sorted; others counted."""
        self.enter(folder)
        images = []
        for dirpath, dirnames, filenames in os.walk(folder, onerror=_refuse_unreadable, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # sorted: the same examples on every system
            for d in dirnames:
                self.enter(Path(dirpath, d))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath, name)
                if _is_image(name):
                    self.check_image(path)
                    images.append(path)
                else:
                    self.counter.add(path, self.base)
        return sorted(images)


def _refuse_unreadable(e: OSError) -> None:
    raise FewShotError(f"The folder {e.filename} cannot be read ({e.strerror}). Check its permissions.")


def _entries(top: Path) -> list[Path]:
    """The visible entries of a folder, sorted; a broken link among them is refused (a class folder that moved)."""
    entries = sorted(p for p in top.iterdir() if not p.name.startswith("."))
    for p in entries:
        _check_name(p)
        if p.is_symlink() and not p.exists():
            raise FewShotError(f"{p} is a broken symbolic link (to {_printable(os.readlink(p))}). Remove it or fix its target.")
    return entries


def _read_classes(top: Path, walker: _Walker) -> dict[str, list[Path]]:
    """``{class folder name: sorted image paths}`` of one tree level; errors for stray images and empty classes."""
    entries = _entries(top)
    stray = [p for p in entries if p.is_file() and _is_image(p)]
    if stray:
        raise FewShotError(
            f"{stray[0]} is an image where a class folder should be ({len(stray)} such file(s) in {top}). Move images into one subfolder per class."
        )
    for p in entries:
        if not p.is_dir():
            walker.counter.add(p, walker.base)
    files = {p.name: walker.images_in(p) for p in entries if p.is_dir()}
    if not files:
        raise FewShotError(f"{top} has no class folders. Put one subfolder per class in it, each holding that class's images.")
    empty = sorted(name for name, paths in files.items() if not paths)
    if empty:
        raise FewShotError(f"Class folder(s) {', '.join(empty[:5])} in {top} hold no images. Add images or remove the folder(s).")
    return files


def _read_split_folders(base: Path, split_dirs: dict[str, Path], walker: _Walker):
    """The train/test[/val] layout: per-split class folders, classes the union over splits."""
    missing = [s for s in ("train", "test") if s not in split_dirs]
    if missing:
        raise FewShotError(f"{base} has {'/'.join(split_dirs)}/ but no {missing[0]}/ folder. Add it, or put the class folders directly in {base}.")
    entries = _entries(base)
    others = sorted(p.name for p in entries if p.is_dir() and p.name not in SPLIT_FOLDERS)
    if others:
        raise FewShotError(f"{base} mixes split folders (train/, test/) with other folders ({', '.join(others[:5])}). Move those into a split.")
    for p in entries:
        if not p.is_dir():
            if _is_image(p):
                raise FewShotError(f"{p} is an image where the train/ and test/ folders should be. Move it into a class folder of a split.")
            walker.counter.add(p, base)
    by_split = {}
    for split, folder in split_dirs.items():
        walker.enter(folder)
        by_split[split] = _read_classes(folder, walker)
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
    """SHA-256 over every image's relative path and stamp (``storage.file_stamp``: size, mtime, inode, ctime):
    another tree, or an edited one, gets new features."""
    h = hashlib.sha256()
    for path in sorted(p for split in splits.values() for p in split.paths):
        h.update(f"{os.path.relpath(path, base)}\t{file_stamp(path)}\n".encode())
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

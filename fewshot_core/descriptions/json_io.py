"""Import of ``{"class name": ["sentence", ...]}`` description files (CuPL's format)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np

from ..datasets.base import ImageDataset
from ..errors import FewShotError
from ..layout import CacheLayout
from ..storage import atomic_path, parse_json, sha256_file
from .matching import MatchReport, match_class_names

MAX_FILE_BYTES = 50 * 2**20  # published description files (CuPL, DCLIP) are a few MB; refuse anything far larger


def load_description_json(path: Path | str) -> dict[str, list[str]]:
    """Read and validate a description file; clear errors for anything malformed.

    Strict (``storage.parse_json``): a class named twice is refused (the first one's sentences would be lost),
    and so is a lone surrogate escape or a number of thousands of digits; a UTF-8 byte-order mark is fine.
    """
    path = Path(path).expanduser()
    try:
        data = parse_json(_read_limited(path))
    except FileNotFoundError as e:
        raise FewShotError(f"Description file {path} does not exist.") from e
    except IsADirectoryError as e:
        raise FewShotError(f'{path} is a folder; give a JSON file {{"class name": ["sentence", ...]}} (or a stored set as --descriptions).') from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FewShotError(f'{path} is not valid JSON ({e}). Expected {{"class name": ["sentence", ...]}}.') from e
    except ValueError as e:  # parse_json's refusals
        raise FewShotError(f"{path} cannot be used: {e}.") from e
    except RecursionError as e:
        raise FewShotError(f'{path} is nested far too deeply to be a description file. Expected {{"class name": ["sentence", ...]}}.') from e
    except OSError as e:
        raise FewShotError(f"Could not read {path} ({e.strerror or e}). Check the path and its permissions.") from e
    if not isinstance(data, dict) or not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in data.values()):
        raise FewShotError(f'{path} must map each class name to a list of sentences: {{"class name": ["sentence", ...]}}.')
    return {k: [s.strip() for s in v if s.strip()] for k, v in data.items()}


def _read_limited(path: Path) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), refusing files over ``MAX_FILE_BYTES`` before reading them,
    and anything but a regular file (a named pipe would block the read forever)."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise FewShotError(f"{path} is not a regular file (a named pipe, socket or device); give a JSON file.")
    if info.st_size > MAX_FILE_BYTES:
        raise FewShotError(
            f"{path} is {info.st_size / 2**20:.0f} MB; description files are at most {MAX_FILE_BYTES // 2**20} MB "
            "(published ones are a few MB). Is it the right file?"
        )
    with open(path, encoding="utf-8-sig") as f:
        return f.read(MAX_FILE_BYTES + 1)


def descriptions_for_classes(
    mapping: dict[str, list[str]], folder_names: list[str], display_names: list[str]
) -> tuple[list[str], np.ndarray, MatchReport]:
    """Flatten matched descriptions into (texts, labels) in class order, with the match report."""
    report = match_class_names(list(mapping), folder_names, display_names)
    texts, labels = [], []
    for c in sorted(report.matched):
        for sentence in mapping[report.matched[c]]:
            texts.append(sentence)
            labels.append(c)
    return texts, np.array(labels, dtype=np.int64), report


def import_description_file(dataset: ImageDataset, path: Path | str, cache_root: Path | str) -> dict:
    """Store a JSON file's matched descriptions as a set; return the match report (by display name)."""
    from .store import DescriptionStore

    mapping = load_description_json(path)
    report = match_class_names(list(mapping), dataset.class_names, dataset.display_names)
    dset = DescriptionStore(cache_root).open(dataset.name, "json", {"file_sha256": sha256_file(Path(path).expanduser())})
    for c, key in report.matched.items():
        dset.save_generated(c, dataset.display_names[c], mapping[key], [])
    names = dataset.display_names
    return {
        "matched": {names[c]: key for c, key in sorted(report.matched.items())},
        "unmatched_keys": report.unmatched_keys,
        "ambiguous_keys": {k: [names[c] for c in v] for k, v in report.ambiguous_keys.items()},
        "classes_without_descriptions": [names[c] for c in report.classes_without_descriptions],
        "store": str(dset.path),
    }


def import_description_bytes(dataset: ImageDataset, data: bytes, cache_root: Path | str) -> dict:
    """Import an uploaded description file (as ``import_description_file``).

    The bytes are kept as ``<cache>/uploads/<sha256>.json``: the name comes from the content, never from
    the client, so no upload can land outside the cache.
    """
    if len(data) > MAX_FILE_BYTES:
        raise FewShotError(
            f"The file is {len(data) / 2**20:.0f} MB; description files are at most {MAX_FILE_BYTES // 2**20} MB. Is it the right file?"
        )
    path = CacheLayout.of(cache_root).uploads / f"{hashlib.sha256(data).hexdigest()}.json"
    if not path.is_file():
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return import_description_file(dataset, path, cache_root)


def load_descriptions(path: Path | str, display_names: list[str]) -> dict[str, list[str]]:
    """A JSON file, or a stored description set folder (its lines in effect, edits applied)."""
    from .store import DescriptionSet

    path = Path(path).expanduser()
    if path.is_dir():
        if not (path / "meta.json").is_file():
            raise FewShotError(f"{path} is not a description set folder (no meta.json).")
        return DescriptionSet(path).export(display_names)
    return load_description_json(path)

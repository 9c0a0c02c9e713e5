"""Safe on-disk storage: content keys, atomic writes, cross-process locks and strict JSON (the cache's folders: ``layout.py``)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from .errors import FewShotError
from .layout import CacheLayout, default_cache_root  # noqa: F401 - default_cache_root: a thin alias, the tests and the app ask for it

STALE_TMP_SECONDS = 3600  # an atomic write's temporary file untouched this long was left by a killed process
MAX_INT_DIGITS = 64  # no number in a file this tool reads is longer; Python's own limit (4300) gives an unclear message
# Errors a write can meet that the user fixes (space, quota, a read-only or forbidden folder), with their words.
WRITE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large for the file system",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of its path is a file, not a folder",
    errno.EEXIST: "a file stands where a folder should be",
}


def check_path_kind(path: Path | str, what: str, folder: bool) -> Path:
    """Refuse, before any work, a path that cannot become a ``folder`` (or a file): one that exists as the other
    kind, or lies under a file. Returns the path (``~`` expanded); creates nothing."""
    path = Path(path).expanduser()
    if path.exists():
        if path.is_dir() != folder:
            kind, want = ("a file", "a folder") if folder else ("a folder", "a file name")
            raise FewShotError(f"{what} {path} is {kind}; give {want}.")
        return path
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FewShotError(f"{what} {path} lies under {parent}, which is a file, not a folder. Choose another path.")
            break
    return path


def timestamp() -> str:
    """Local time with its UTC offset, as every record of the cache writes it (2026-11-27T14:05:00+0000)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def content_key(parts: dict[str, Any], length: int = 20) -> str:
    """A short SHA-256 over a canonical JSON form of ``parts`` (everything a result depends on)."""
    return canonical_sha256(parts)[:length]


def canonical_sha256(data: Any) -> str:
    """SHA-256 over the canonical JSON form of ``data`` (keys sorted, no spaces): what a record's checksum covers."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_stamp(path: Path | str) -> str:
    """``size:mtime_ns:inode:ctime_ns`` of a file, or ``missing``.

    Size and mtime alone miss a file replaced by another of the same size whose mtime was copied over
    (``cp -p``, ``touch -r``, an unpacked archive); the replacement is a new inode, or a write that moves
    the ctime, which no user call can set back. Hashing the files would be exact but reads every image
    on every lookup (the Data page asks on each render).
    """
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"


def write_error(e: BaseException, target: Path | str) -> FewShotError | None:
    """The one-line error for a write that failed for a reason the user fixes (full disk, read-only folder, ...), or
    None for any other failure. Recognises ``OSError`` and errors that only quote the OS error (safetensors')."""
    code = e.errno if isinstance(e, OSError) else None
    if code is None:
        found = re.search(r"os error (\d+)", str(e))
        code = int(found.group(1)) if found else None
    if code not in WRITE_ERRORS:
        return None
    room = code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    fix = "Free some space, or point" if room else "Point"
    return FewShotError(
        f"Could not write {target}: {WRITE_ERRORS[code]}. {fix} --cache (FEWSHOT_CACHE) or --run-dir at a folder you can write to"
        + (" with room" if room else "")
        + "; finished work is kept."
    )


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    Readers never see a half-written file, and a crash leaves the old file (or none) in place (a killed
    process's temporary is removed by ``remove_stale_tmp``). A full disk or a read-only folder raises
    ``FewShotError`` (one line), not a traceback.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise (write_error(e, target) or e) from e
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except Exception as e:
        error = write_error(e, target)
        if error is None:
            raise
        raise error from e
    finally:
        tmp_path.unlink(missing_ok=True)


def remove_stale_tmp(folder: Path | str, max_age: float = STALE_TMP_SECONDS) -> int:
    """Delete the temporaries of atomic writes (``.<name>.<random>.tmp``) under ``folder`` left more than ``max_age``
    seconds ago (by a killed process: a live write keeps its file's time fresh). Returns how many went."""
    removed, now = 0, time.time()
    for dirpath, _, filenames in os.walk(folder):  # symbolic links are not followed
        for name in filenames:
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            path = os.path.join(dirpath, name)
            try:
                if now - os.lstat(path).st_mtime > max_age:
                    os.unlink(path)
                    removed += 1
            except OSError:
                continue  # gone meanwhile, or a read-only cache: nothing to clean
    return removed


def clean_cache(cache: CacheLayout | Path | str) -> int:
    """``remove_stale_tmp`` over the folders of the cache that hold atomic writes (``CacheLayout.atomic_folders``)."""
    return sum(remove_stale_tmp(folder) for folder in CacheLayout.of(cache).atomic_folders)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (indented, UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def read_json(path: Path | str) -> Any:
    """Read a JSON file strictly (``parse_json``); ``ValueError`` for anything that is not clean JSON."""
    return parse_json(Path(path).read_bytes())


def parse_json(data: str | bytes) -> Any:
    """``json.loads``, refusing what it would silently accept: a key given twice (its first value would be lost),
    a lone surrogate (``"\\ud800"``: no UTF-8 text can hold it), an integer of more than ``MAX_INT_DIGITS`` digits.
    A UTF-8 byte-order mark is skipped.

    Raises:
        ValueError: (``json.JSONDecodeError``, ``UnicodeDecodeError`` or a plain one) saying what is wrong.
        RecursionError: for absurdly deep nesting.
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    value = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int)
    _refuse_lone_surrogates(value)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object (the first one's value would be lost); merge them")
        out[key] = value
    return out


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"it holds an integer of {len(digits.lstrip('-'))} digits; no value here needs more than {MAX_INT_DIGITS}")
    return int(digits)


def _refuse_lone_surrogates(value: Any) -> None:
    """Walk a parsed value (iteratively: it may be deep) and refuse strings no UTF-8 file could hold."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                shown = item.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:60]
                raise ValueError(f"the text {shown!r} holds a lone surrogate escape (\\ud800-\\udfff), which is not a character") from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def lock_for(path: Path, timeout: float = -1) -> FileLock:
    """A cross-process lock guarding ``path`` (held in a ``.lock`` file beside it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=timeout)


@contextmanager
def lock_if_writable(path: Path) -> Iterator[bool]:
    """Hold ``lock_for(path)`` and yield True; where its folder cannot be written (a read-only cache) hold nothing
    and yield False, so a caller may still read what is there (and refuse to write, with ``write_error``)."""
    lock: FileLock | None = lock_for(path) if _can_make_folder(Path(path).parent) else None
    try:
        if lock is not None:
            lock.acquire()
    except OSError as e:
        if write_error(e, path) is None:
            raise
        lock = None
    if lock is None:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _can_make_folder(folder: Path) -> bool:
    """Create ``folder`` (and its parents) if missing; False where the file system refuses (read-only, forbidden)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if write_error(e, folder) is None:
            raise
        return False
    return True

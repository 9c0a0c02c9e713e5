"""Download and extract the official dataset archives: resumable, checksummed, atomic, safe.

A partial download is resumed with an HTTP Range request; a checksum mismatch deletes the file and
retries once from scratch; extraction goes to a temporary folder (with tarfile's ``data`` filter,
which refuses absolute paths, ``..`` and links leaving the target) and is moved into place only
when complete, so an interrupted extraction never looks like a finished dataset.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import FewShotError
from ..progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress
from .base import Archive

CHUNK = 1 << 20


def downloadable_datasets() -> list[str]:
    """Names ``download_dataset`` can fetch: those with official archives (``DatasetInfo.archives``), and the
    torchvision sets that still download."""
    from . import dataset_info, list_datasets

    return [n for n in list_datasets() if dataset_info(n).archives or dataset_info(n).download is not None]


def download_dataset(
    name: str,
    target: Path | str,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
    archives: list[Archive] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download and extract dataset ``name`` into ``target``; returns ``target``.

    Finished steps are skipped on a re-run (verified archive, completed extraction).

    Args:
        name: a dataset with archives in its registry entry ("cub", "pets"), or a torchvision set (downloaded by torchvision's own code).
        target: folder to hold the dataset (pass it as ``--root`` afterwards).
        archives: override the official list (tests point this at a local server).
    """
    if archives is None:
        from . import dataset_info

        info = dataset_info(name)
        if info.download is not None:
            return info.download(target, on_progress)
        if not info.archives:
            raise FewShotError(
                f"No download is known for {info.title}; get the files yourself and pass --root. Downloadable: {', '.join(downloadable_datasets())}."
            )
        archives = list(info.archives)
    target = Path(target).expanduser()
    for archive in archives:
        marker = target / f".extracted-{archive.filename}"
        if marker.is_file() and marker.read_text().strip() == archive.md5:
            continue
        path = fetch_archive(archive, target / ".downloads", on_progress, should_cancel, timeout)
        extract_archive(path, target / archive.subdir, on_progress, should_cancel)
        marker.write_text(archive.md5)
    return target


def fetch_archive(archive: Archive, folder: Path, on_progress: ProgressFn, should_cancel: CancelFn, timeout: float) -> Path:
    """Download one archive into ``folder`` and verify its MD5, retrying once from scratch."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / archive.filename
    if final.is_file() and md5_file(final) == archive.md5:
        return final
    for _attempt in (1, 2):
        partial = folder / (archive.filename + ".part")
        _download(archive.url, partial, on_progress, should_cancel, timeout)
        digest = md5_file(partial)
        if digest == archive.md5:
            partial.replace(final)
            return final
        partial.unlink()  # corrupt: the next attempt starts clean
    raise FewShotError(
        f"{archive.filename} failed its checksum twice (got {digest}, expected {archive.md5}). "
        "The server may be serving a different file; try again later or download it by hand into "
        f"{folder}."
    )


def _download(url: str, partial: Path, on_progress: ProgressFn, should_cancel: CancelFn, timeout: float) -> None:
    """Stream ``url`` into ``partial``, resuming from its current size when the server allows."""
    start = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = start and response.status == 206
            done = start if resumed else 0
            length = int(response.headers.get("Content-Length") or 0)
            total = done + length if length else 0
            with open(partial, "ab" if resumed else "wb") as out:
                while block := response.read(CHUNK):
                    check_cancel(should_cancel, f"Downloading {url}")
                    out.write(block)
                    done += len(block)
                    on_progress(done, total, f"downloading {partial.name.removesuffix('.part')}")
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # already complete: the checksum decides
            return
        raise FewShotError(f"The server refused {url} (HTTP {e.code}). Try again later or download it by hand.") from e
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise FewShotError(
            f"Could not download {url} ({reason}). Check your internet connection and run the same "
            f"command again to resume ({partial.stat().st_size if partial.exists() else 0} bytes kept), "
            "or download the archive by hand, extract it, and pass its folder with --root."
        ) from e


def extract_archive(path: Path, dest: Path, on_progress: ProgressFn = no_progress, should_cancel: CancelFn = never_cancel) -> None:
    """Extract a tar archive into ``dest`` atomically, refusing members that would escape it."""
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            for i, member in enumerate(members, 1):
                check_cancel(should_cancel, f"Extracting {path.name}")
                try:
                    tar.extract(member, staging, filter="data")
                except tarfile.FilterError as e:
                    raise FewShotError(
                        f"{path.name} contains an unsafe entry ({e}); refusing to extract it. Delete the "
                        "archive and download it again from the official source."
                    ) from e
                if i % 500 == 0 or i == len(members):
                    on_progress(i, len(members), f"extracting {path.name}")
        for entry in staging.iterdir():
            _move_into(entry, dest / entry.name)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise FewShotError(f"Could not extract {path} ({e}). Delete it and run the download again.") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(src: Path, dst: Path) -> None:
    """Move an extracted entry into place, merging into an existing folder of the same name.

    Never follows a symbolic link already in the target (that would write outside it) and never deletes
    a folder to make room for a file: both stop with a message instead.
    """
    if dst.is_symlink():
        raise FewShotError(
            f"{dst} is a symbolic link; refusing to extract through it (that could write outside {dst.parent}). "
            "Move the link away, or extract into an empty folder."
        )
    if src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _move_into(child, dst / child.name)
        return
    if dst.exists() and src.is_dir() != dst.is_dir():
        kind, other = ("a folder", "a file") if dst.is_dir() else ("a file", "a folder")
        raise FewShotError(f"{dst} is {kind} but the archive holds {other} of that name; refusing to replace it. Move it away and run again.")
    src.replace(dst)


def md5_file(path: Path) -> str:
    """MD5 of a file (the checksum the dataset authors publish)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()

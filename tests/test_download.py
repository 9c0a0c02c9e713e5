import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.datasets.download import Archive, download_dataset, extract_archive

from .fixtures import make_cub


class _Files(BaseHTTPRequestHandler):
    """Serves ``files`` with Range support; ``cut`` truncates the first response (a dropped connection)."""

    files: dict[str, bytes] = {}
    cut: dict[str, int] = {}
    ranges: list[str] = []

    def do_GET(self):  # noqa: N802
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng := self.headers.get("Range"):
            self.ranges.append(rng)
            start = int(rng.split("=")[1].split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        end = self.cut.pop(self.path, len(data))
        self.wfile.write(data[start:end])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.files, _Files.cut, _Files.ranges = {}, {}, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def _tar_of(folder) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=child.name)
    return buf.getvalue()


def _archive(server, name: str, data: bytes, md5: str | None = None) -> Archive:
    _Files.files[f"/{name}"] = data
    return Archive(f"http://127.0.0.1:{server.server_port}/{name}", md5 or hashlib.md5(data).hexdigest())


def test_download_extract_and_load(server, tmp_path):
    archive = _archive(server, "CUB_200_2011.tgz", _tar_of(make_cub(tmp_path / "src")))
    progress = []
    root = download_dataset("cub", tmp_path / "data", on_progress=lambda d, t, m: progress.append((d, t, m)), archives=[archive])
    assert load_dataset("cub", root).num_classes == 3
    downloads = [p for p in progress if p[2].startswith("downloading")]
    assert downloads[-1][:2] == (len(_Files.files["/CUB_200_2011.tgz"]),) * 2
    assert progress[-1][0] == progress[-1][1] and progress[-1][2].startswith("extracting")
    assert not list((tmp_path / "data").glob(".extract-*"))  # staging folder removed


def test_second_run_is_a_no_op(server, tmp_path):
    archive = _archive(server, "a.tgz", _tar_of(make_cub(tmp_path / "src")))
    download_dataset("cub", tmp_path / "data", archives=[archive])
    del _Files.files["/a.tgz"]  # a re-run must not need the server
    download_dataset("cub", tmp_path / "data", archives=[archive])


def test_interrupted_download_resumes(server, tmp_path):
    data = _tar_of(make_cub(tmp_path / "src"))
    archive = _archive(server, "b.tgz", data)
    partial = tmp_path / "data" / ".downloads" / "b.tgz.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(data[:1000])  # what a dropped connection leaves behind
    download_dataset("cub", tmp_path / "data", archives=[archive])
    assert _Files.ranges == ["bytes=1000-"]
    assert load_dataset("cub", tmp_path / "data").num_classes == 3


def test_corrupt_partial_is_retried_from_scratch(server, tmp_path):
    data = _tar_of(make_cub(tmp_path / "src"))
    archive = _archive(server, "c.tgz", data)
    partial = tmp_path / "data" / ".downloads" / "c.tgz.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"garbage" * 100)
    download_dataset("cub", tmp_path / "data", archives=[archive])
    assert load_dataset("cub", tmp_path / "data").num_classes == 3


def test_wrong_checksum_fails_clearly(server, tmp_path):
    archive = _archive(server, "d.tgz", b"not the archive", md5="0" * 32)
    with pytest.raises(FewShotError, match="failed its checksum twice"):
        download_dataset("cub", tmp_path / "data", archives=[archive])
    assert not (tmp_path / "data" / ".downloads" / "d.tgz").exists()


def test_offline_is_a_clear_message(tmp_path):
    with socket_closed_port() as port:
        archive = Archive(f"http://127.0.0.1:{port}/x.tgz", "0" * 32)
        with pytest.raises(FewShotError, match="Check your internet connection"):
            download_dataset("cub", tmp_path, archives=[archive], timeout=5)


def test_escaping_members_are_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    (tmp_path / "evil.tgz").write_bytes(buf.getvalue())
    with pytest.raises(FewShotError, match="unsafe entry"):
        extract_archive(tmp_path / "evil.tgz", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_official_archives_are_listed():
    from fewshot_core.datasets import dataset_info

    assert dataset_info("cub").archives[0].md5 == "97eceeb196236b17998738112f37df78"
    assert [a.filename for a in dataset_info("pets").archives] == ["images.tar.gz", "annotations.tar.gz"]


class socket_closed_port:
    """A localhost port with nothing listening on it."""

    def __enter__(self):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        return False


def _tar_with(tmp_path, name: str, entries: dict[str, bytes | None]) -> Path:
    """A .tgz holding files (bytes) and folders (None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    (tmp_path / name).write_bytes(buf.getvalue())
    return tmp_path / name


def test_a_file_in_the_archive_never_deletes_a_folder_of_that_name(tmp_path):
    target = tmp_path / "out"
    (target / "images").mkdir(parents=True)
    (target / "images" / "mine.jpg").write_bytes(b"keep me")
    archive = _tar_with(tmp_path, "a.tgz", {"images": b"a file named like the folder"})
    with pytest.raises(FewShotError, match="is a folder but the archive holds a file"):
        extract_archive(archive, target)
    assert (target / "images" / "mine.jpg").read_bytes() == b"keep me"


def test_extraction_never_writes_through_a_symlink_in_the_target(tmp_path):
    outside, target = tmp_path / "outside", tmp_path / "out"
    outside.mkdir()
    target.mkdir()
    (target / "images").symlink_to(outside, target_is_directory=True)
    archive = _tar_with(tmp_path, "b.tgz", {"images": None, "images/x.jpg": b"data"})
    with pytest.raises(FewShotError, match="is a symbolic link; refusing to extract through it"):
        extract_archive(archive, target)
    assert list(outside.iterdir()) == []
    file_link = target / "classes.txt"
    file_link.symlink_to(outside / "victim.txt")
    (outside / "victim.txt").write_text("original")
    with pytest.raises(FewShotError, match="symbolic link"):
        extract_archive(_tar_with(tmp_path, "c.tgz", {"classes.txt": b"replaced"}), target)
    assert (outside / "victim.txt").read_text() == "original"


def test_merging_into_an_existing_folder_still_works(tmp_path):
    target = tmp_path / "out"
    (target / "images").mkdir(parents=True)
    (target / "images" / "old.jpg").write_bytes(b"old")
    extract_archive(_tar_with(tmp_path, "d.tgz", {"images": None, "images/new.jpg": b"new"}), target)
    assert sorted(p.name for p in (target / "images").iterdir()) == ["new.jpg", "old.jpg"]

"""Hostile inputs, as a table: each broken input must end in its exit status and one `error:` line saying what to do.

The CLI runs in-process (``main(argv)``); only the Ctrl-C test needs a real process and a signal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fewshot_core.cli import main

from .fixtures import make_cub, make_pets
from .hostile_integrity import INTEGRITY_CASES
from .hostile_world import DESCRIBE, DESCRIPTIONS, FEATURES, IMPORT, NOTHING, REPRODUCE, TINY, VERIFY_CUB, World, _descriptions, _write

ROOT = Path(__file__).resolve().parents[1]


def _replace_line(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line_no] = text
    path.write_text("\n".join(lines) + "\n")


def _big_file(w: World) -> None:
    with open(w.tmp / "big.json", "wb") as f:
        f.truncate(51 * 2**20)  # sparse: 51 MB on paper, nothing on disk


def _no_images(w: World) -> None:
    for image in (w.base / "images").rglob("*.jpg"):
        image.unlink()
    (w.tmp / "d.json").write_text(json.dumps(DESCRIPTIONS))


def _garbage_checkpoint(w: World) -> None:
    (w.tmp / "garbage.pt").write_bytes(os.urandom(4096))


def _cached_features(w: World) -> None:
    assert main(["features", "--dataset", "cub", "--root", str(w.cub), *TINY, "--cache", str(w.tmp / "c"), "--splits", "test"]) == 0


def _captions_folder(w: World) -> None:
    (w.tmp / "captions" / "text_c10" / "999.Nobody").mkdir(parents=True)


# (id, setup, argv, exit status, fragment of the one stderr line; of stdout when the status is 0)
CASES = [
    # datasets
    ("cub-label-not-an-integer", lambda w: _replace_line(w.base / "image_class_labels.txt", 0, "1 one"), VERIFY_CUB, 2, "'one' is not an integer"),
    (
        "cub-class-id-not-an-integer",
        lambda w: _replace_line(w.base / "classes.txt", 1, "two 002.Laysan_Albatross"),
        VERIFY_CUB,
        2,
        "is not an integer",
    ),
    ("cub-image-id-not-an-integer", lambda w: _replace_line(w.base / "images.txt", 0, "x1 a/b.jpg"), VERIFY_CUB, 2, "no label or split entry"),
    ("cub-classes-not-utf8", lambda w: (w.base / "classes.txt").write_bytes(b"1 \xff\xfeAlbatross\n"), VERIFY_CUB, 2, "is not UTF-8 text"),
    ("cub-label-99-of-3", lambda w: _replace_line(w.base / "image_class_labels.txt", 0, "1 99"), VERIFY_CUB, 2, "has label 99, but there are only 3"),
    ("cub-label-0", lambda w: _replace_line(w.base / "image_class_labels.txt", 0, "1 0"), VERIFY_CUB, 2, "has label 0, but there are only 3"),
    ("cub-short-line", lambda w: _replace_line(w.base / "images.txt", 2, "3"), VERIFY_CUB, 2, "expected 2 fields"),
    ("cub-missing-split-file", lambda w: (w.base / "train_test_split.txt").unlink(), VERIFY_CUB, 2, "Missing file"),
    (
        "cub-attributes-not-numbers",
        lambda w: (w.base / "attributes" / "class_attribute_labels_continuous.txt").write_text("a b c\n"),
        VERIFY_CUB,
        2,
        "is not a table of numbers",
    ),
    (
        "pets-class-id-not-an-integer",
        lambda w: _replace_line(w.pets / "oxford-iiit-pet/annotations/test.txt", 0, "Abyssinian_1 x 1 1"),
        ["verify-dataset", "--dataset", "pets", "--root", "{pets}"],
        2,
        "'x' is not an integer",
    ),
    ("root-does-not-exist", NOTHING, ["verify-dataset", "--dataset", "cub", "--root", "{tmp}/nowhere"], 2, "does not exist"),
    ("root-is-a-file", _write("f.txt", "x"), ["verify-dataset", "--dataset", "cub", "--root", "{tmp}/f.txt"], 2, "is not a CUB-200-2011 folder"),
    ("unknown-dataset", NOTHING, ["verify-dataset", "--dataset", "imagenet", "--root", "{tmp}"], 2, "Unknown dataset 'imagenet'"),
    ("no-download-for-dataset", NOTHING, ["download", "--dataset", "demo", "--root", "{tmp}/d"], 2, "No download is known"),
    # description files
    ("json-nested-200000-deep", _write("deep.json", "[" * 200_000 + "]" * 200_000), [*IMPORT, "{tmp}/deep.json"], 2, "nested far too deeply"),
    ("json-file-is-a-folder", NOTHING, [*IMPORT, "{tmp}"], 2, "is a folder"),
    ("json-over-the-size-limit", _big_file, [*IMPORT, "{tmp}/big.json"], 2, "description files are at most 50 MB"),
    ("json-not-json", _write("bad.json", "{'a': ['b']}"), [*IMPORT, "{tmp}/bad.json"], 2, "is not valid JSON"),
    ("json-not-utf8", _write("latin.json", b'{"Sooty Albatross": ["gr\xe9y"]}'), [*IMPORT, "{tmp}/latin.json"], 2, "is not valid JSON"),
    ("json-a-list", _write("list.json", '["a", "b"]'), [*IMPORT, "{tmp}/list.json"], 2, "must map each class name"),
    ("json-numbers-not-sentences", _write("n.json", '{"Sooty Albatross": [1, 2]}'), [*IMPORT, "{tmp}/n.json"], 2, "must map each class name"),
    ("json-missing", NOTHING, [*IMPORT, "{tmp}/missing.json"], 2, "does not exist"),
    # describe
    (
        "describe-batch-size-0",
        NOTHING,
        [*DESCRIBE, "--source", "attributes", "--batch-size", "0"],
        2,
        "batch size (classes per round) must be a whole number of at least 1",
    ),
    ("describe-samples-0", NOTHING, [*DESCRIBE, "--source", "attributes", "--samples", "0"], 2, "samples per class must be"),
    ("describe-max-tokens-0", NOTHING, [*DESCRIBE, "--source", "local", "--max-tokens", "0"], 2, "maximum number of tokens must be"),
    ("describe-negative-temperature", NOTHING, [*DESCRIBE, "--source", "local", "--temperature", "-1"], 2, "temperature must be between 0 and 2"),
    (
        "describe-negative-retries",
        NOTHING,
        [*DESCRIBE, "--source", "attributes", "--retries", "-1"],
        2,
        "retries must be a whole number of at least 0",
    ),
    ("describe-timeout-0", NOTHING, [*DESCRIBE, "--source", "openai", "--timeout", "0"], 2, "argument --timeout: must be a positive number"),
    ("describe-timeout-text", NOTHING, [*DESCRIBE, "--source", "openai", "--timeout", "soon"], 2, "'soon' is not a number"),
    (
        "describe-deadline-negative",
        NOTHING,
        [*DESCRIBE, "--source", "openai", "--deadline", "-5"],
        2,
        "argument --deadline: must be a positive number",
    ),
    ("describe-no-base-url", NOTHING, [*DESCRIBE, "--source", "openai-compatible"], 2, "needs a base URL"),
    ("describe-prompt-without-class", NOTHING, [*DESCRIBE, "--source", "local", "--prompt", "Describe a bird."], 2, "must contain {class_name}"),
    ("describe-unknown-class", NOTHING, [*DESCRIBE, "--source", "attributes", "--classes", "Dodo"], 2, "Unknown classes: Dodo"),
    ("describe-captions-no-folder", NOTHING, [*DESCRIBE, "--source", "captions"], 2, "needs the folder of Reed et al.'s captions"),
    (
        "describe-captions-wrong-folder",
        _captions_folder,
        [*DESCRIBE, "--source", "captions", "--captions-root", "{tmp}/captions"],
        2,
        "No caption folders",
    ),
    ("describe-unknown-source", NOTHING, [*DESCRIBE, "--source", "gpt5"], 2, "argument --source: invalid choice"),
    # features and weights
    ("features-batch-size-0", NOTHING, [*FEATURES, *TINY, "--batch-size", "0"], 2, "batch size must be a whole number of at least 1"),
    (
        "features-workers-negative",
        NOTHING,
        [*FEATURES, "--model", "fewshot-tiny", "--pretrained", "", "--workers", "-1"],
        2,
        "number of workers must be 0 or more",
    ),
    ("features-batch-size-0-on-a-cache-hit", _cached_features, [*FEATURES, *TINY, "--batch-size", "0"], 2, "batch size must be"),
    (
        "features-workers-negative-on-a-cache-hit",
        _cached_features,
        [*FEATURES, "--model", "fewshot-tiny", "--pretrained", "", "--workers", "-1"],
        2,
        "workers must be 0 or more",
    ),
    (
        "pretrained-garbage-file",
        _garbage_checkpoint,
        [*FEATURES, "--model", "fewshot-tiny", "--pretrained", "{tmp}/garbage.pt"],
        2,
        "garbage.pt is not a usable fewshot-tiny checkpoint",
    ),
    (
        "pretrained-missing-file",
        NOTHING,
        [*FEATURES, "--model", "fewshot-tiny", "--pretrained", "{tmp}/missing.pt"],
        2,
        "neither a pretrained tag of fewshot-tiny nor an existing file",
    ),
    ("unknown-model", NOTHING, [*FEATURES, "--model", "ViT-Nope"], 2, "Unknown CLIP model 'ViT-Nope'"),
    ("unknown-device", NOTHING, [*FEATURES, *TINY[:4], "--device", "tpu"], 2, "Unknown device 'tpu'"),
    ("unknown-precision", NOTHING, [*FEATURES, *TINY, "--precision", "int3"], 2, "Unknown precision 'int3'"),
    ("unknown-split", NOTHING, [*FEATURES[:-1], "val", *TINY], 2, "has no split 'val'"),
    ("batch-size-not-a-number", NOTHING, [*FEATURES, *TINY, "--batch-size", "many"], 2, "argument --batch-size: invalid int value"),
    # reproduce
    ("reproduce-all-images-missing", _no_images, [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/d.json"], 2, "None of the 3 train images"),
    ("reproduce-seeds-0", _descriptions, [*REPRODUCE, "--descriptions", "{tmp}/d.json", "--seeds", "0"], 2, "argument --seeds: must be at least 1"),
    (
        "reproduce-qformer-epochs-0",
        _descriptions,
        [*REPRODUCE, "--descriptions", "{tmp}/d.json", "--qformer-epochs", "0"],
        2,
        "argument --qformer-epochs: must be at least 1",
    ),
    ("reproduce-no-descriptions", NOTHING, REPRODUCE, 2, "--descriptions"),
    ("reproduce-descriptions-folder-not-a-set", NOTHING, [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}"], 2, "is not a description set folder"),
    ("reproduce-unknown-method", NOTHING, [*REPRODUCE, "--methods", "magic"], 2, "argument --methods: invalid choice"),
    # the command line itself
    ("no-command", NOTHING, [], 2, "the following arguments are required: COMMAND"),
    ("unknown-command", NOTHING, ["train-everything"], 2, "invalid choice: 'train-everything'"),
]


CASES += INTEGRITY_CASES


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path, make_cub(tmp_path / "cub", per_class=2, train_per_class=1), make_pets(tmp_path / "pets", per_class=2, odd_images=False))


def test_the_table_is_large_and_ids_are_unique():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)
    assert len(INTEGRITY_CASES) >= 60


@pytest.mark.parametrize(("setup", "argv", "status", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input(world, capsys, setup, argv, status, fragment):
    if setup is not None:
        setup(world)
        capsys.readouterr()
    code = main([world.fill(a) for a in argv])
    out, err = capsys.readouterr()
    lines = [line.strip() for line in re.split(r"[\r\n]+", err) if line.strip()]  # progress bars redraw with \r
    assert code == status, err
    assert "\r" not in err  # stderr is not a terminal here: progress comes as whole lines, never as redrawn frames
    if status == 0:  # the stated safe behaviour: it works, and says nothing went wrong
        assert "Traceback" not in err and not any(line.startswith("error:") for line in lines) and fragment in out, err
        return
    assert "Traceback" not in err and [line for line in lines if line.startswith("error: ")] == lines[-1:], err  # one error line, last
    assert fragment.replace("{tmp}", str(world.tmp)) in lines[-1]


# --- a server that accepts connections and never answers ----------------------------------------------------------


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __enter__(self) -> SilentServer:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def _describe_silent(cub: Path, server: SilentServer, tmp: Path, *extra: str) -> list[str]:
    return ["describe", "--dataset", "cub", "--root", str(cub), "--cache", str(tmp / "c"), "--source", "openai-compatible"] + [
        "--base-url",
        server.base_url,
        "--model",
        "m",
        *extra,
    ]


def test_timeout_and_retries_are_announced_and_bounded(cub_root, tmp_path, capsys, caplog):
    caplog.set_level(logging.WARNING)
    with SilentServer() as server:
        start = time.monotonic()
        code = main(_describe_silent(cub_root, server, tmp_path, "--timeout", "0.5", "--retries", "1", "--classes", "1"))
        took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2 and took < 5, (took, err)  # 2 tries of 0.5 s and a 0.5 s pause, not 60 s x 5
    assert "prompt 1: no answer within 0.5 s; trying again in 0.5 s (retry 1 of 1)" in caplog.messages  # the CLI prints warnings
    assert "error: Could not reach http://127.0.0.1" in err and "2 tries of up to 0.5 s" in err


def test_deadline_stops_the_whole_run(cub_root, tmp_path, capsys):
    with SilentServer() as server:
        start = time.monotonic()
        code = main(_describe_silent(cub_root, server, tmp_path, "--timeout", "30", "--deadline", "1"))
        took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2 and took < 4, (took, err)
    assert "error: Stopped at the deadline of 1 s with 0 of 3 classes done (kept)" in err


def test_ctrl_c_exits_130_within_two_seconds(cub_root, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "sk-test"}
    with SilentServer() as server:
        argv = _describe_silent(cub_root, server, tmp_path)
        proc = subprocess.Popen([sys.executable, "-m", "fewshot_core", *argv], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert server.accepted.wait(120), "the CLI never sent a request"
            time.sleep(0.3)  # the requests are in flight, waiting on a server that never answers
            start = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=10)
            took = time.monotonic() - start
        finally:
            proc.kill()
        err = proc.stderr.read()
    assert code == 130 and took < 2.0, (code, took, err)
    assert "interrupted; finished work is kept" in err and "Traceback" not in err

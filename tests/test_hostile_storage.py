"""Hostile storage: a read-only or full cache, a cache root that cannot be a folder, damaged app settings,
temporaries left by a killed process, progress in logs, links out of a folder dataset and classes too small
to validate on. Each ends in its stated safe behaviour, or exit 2 with one ``error:`` line (issue 23)."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.cli import main

from .fixtures import write_image
from .hostile_world import TINY

FEATURES = ["features", "--dataset", "cub", *TINY, "--splits", "test"]


def _one_error(capsys, code: int) -> str:
    """Check exit 2, one ``error:`` line (the last), no traceback; return that line."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err and "\r" not in err, err
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], err
    return lines[-1]


@contextmanager
def read_only(folder: Path):
    """``folder`` read-only for this process: a read-only bind mount as root (permissions do not stop root), else chmod."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode:
        pytest.skip("no bind mounts here (root without CAP_SYS_ADMIN)")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_read_only_cache_serves_what_it_holds_and_refuses_the_rest_in_one_line(cub_root, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main([*FEATURES, "--root", str(cub_root), "--cache", str(cache)]) == 0
    capsys.readouterr()
    with read_only(cache):
        assert main([*FEATURES, "--root", str(cub_root), "--cache", str(cache)]) == 0  # fully cached: works, as before
        assert json.loads(capsys.readouterr().out)["test"]["cache_hit"] is True
        code = main([*FEATURES[:-1], "train", "--root", str(cub_root), "--cache", str(cache)])
        line = _one_error(capsys, code)
    assert "is read-only and holds no images/cub features" in line and "--cache" in line


def test_a_read_only_run_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    with read_only(tmp_path / "runs"):
        code = main(
            ["reproduce", "--dataset", "synthetic", "--shots", "1", "--texts", "0", "--seeds", "1", "--run-dir", str(tmp_path / "runs" / "r")]
        )
        line = _one_error(capsys, code)
    assert re.search(r"Could not write .*runs/r.*: (the file system is read-only|permission denied)", line), line


def test_a_full_disk_while_caching_features_is_one_line(cub_root, tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    import fewshot_core.feature_cache as feature_cache

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")  # what safetensors says

    monkeypatch.setattr(feature_cache, "save_file", full)
    line = _one_error(capsys, main([*FEATURES, "--root", str(cub_root), "--cache", str(tmp_path / "c")]))
    assert "the disk is full. Free some space" in line
    assert not [p for p in (tmp_path / "c").rglob("*.tmp")]  # no temporary left behind


def test_a_full_disk_during_a_sweep_is_one_line_and_keeps_finished_units(tmp_path, capsys, monkeypatch):
    real, calls = np.savez_compressed, []

    def full_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "savez_compressed", full_on_the_second)
    run = tmp_path / "r"
    code = main(["reproduce", "--dataset", "synthetic", "--shots", "1", "2", "--texts", "0", "--seeds", "1", "--run-dir", str(run)])
    assert "the disk is full" in _one_error(capsys, code)
    assert sorted(p.name for p in (run / "units").iterdir()) == ["zeroshot.json", "zeroshot.npz"]  # the finished unit is kept, whole


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_disk_is_one_line(cub_root, tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with open(disk / "filler", "wb", buffering=0) as f, pytest.raises(OSError):  # fill it up
            while True:
                f.write(b"\0" * 4096)
        line = _one_error(capsys, main([*FEATURES, "--root", str(cub_root), "--cache", str(disk)]))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
    assert "the disk is full" in line


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: os.symlink(p.parent / "gone", p), "is a symbolic link to"),
        (lambda p: os.symlink(p, p), "Too many levels of symbolic links"),
        (lambda p: p.write_text("x"), "is a file, not a folder"),
    ],
    ids=["dangling-link", "link-loop", "a-file"],
)
def test_fewshot_cache_that_cannot_be_a_folder_is_one_line(cub_root, tmp_path, capsys, monkeypatch, make, fragment):
    make(tmp_path / "cache")
    monkeypatch.setenv("FEWSHOT_CACHE", str(tmp_path / "cache"))
    line = _one_error(capsys, main([*FEATURES, "--root", str(cub_root)]))
    assert f"$FEWSHOT_CACHE {tmp_path / 'cache'}" in line and fragment in line


@pytest.mark.parametrize("content", ["[]", '"demo"', "null", '{"seeds": "five", "device": "tpu", "dataset": 3, "executor": "ray", "model": 1}'])
def test_damaged_app_settings_fall_back_to_defaults_per_value(tmp_path, content):
    from fewshot_core.settings import LabSettings, load_settings

    path = tmp_path / "app_settings.json"
    path.write_text(content)
    expected = LabSettings(executor="ray") if "executor" in content else LabSettings()  # the one valid value is kept
    assert load_settings(path) == expected


def test_seeds_out_of_the_sidebars_range_or_a_bool_fall_back(tmp_path):
    from fewshot_core.settings import MAX_SEEDS, LabSettings, load_settings

    path = tmp_path / "s.json"
    for seeds in (0, MAX_SEEDS + 1, True, 2.5):
        path.write_text(json.dumps({"seeds": seeds, "dataset": "cub"}))
        assert load_settings(path) == LabSettings(dataset="cub")


@pytest.mark.parametrize("page", ["data", "descriptions", "train", "results"])
def test_every_page_loads_with_app_settings_holding_a_list(page):
    from fewshot_core.storage import default_cache_root

    from .apppage import open_page

    default_cache_root().mkdir(parents=True, exist_ok=True)
    (default_cache_root() / "app_settings.json").write_text("[]")
    app = open_page(page)
    assert not app.exception, app.exception
    assert app.title[0].value.startswith(page.title())


def test_temporaries_of_killed_writes_are_removed_when_the_cache_opens(tmp_path):
    from fewshot_core.features import FeatureCache
    from fewshot_core.runs import MARKER, RunFolder

    old, fresh = time.time() - 2 * 3600, time.time() - 60
    files = {
        "features/images/cub/.abc.safetensors.k1l2.tmp": old,  # left by a SIGKILL two hours ago
        "descriptions/cub/s/classes/.0001.json.x.tmp": old,
        "features/texts/.def.safetensors.m3n4.tmp": fresh,  # a write in progress (another process): kept
        "features/texts/keep.safetensors": old,  # not a temporary
        "demo-data/.user-file.tmp": old,  # outside the folders the cache writes atomically
    }
    for rel, mtime in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
        os.utime(tmp_path / rel, (mtime, mtime))
    FeatureCache(tmp_path)
    kept = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert kept == sorted(set(files) - {"features/images/cub/.abc.safetensors.k1l2.tmp", "descriptions/cub/s/classes/.0001.json.x.tmp"})
    run = tmp_path / "elsewhere" / "run"
    (run / "units").mkdir(parents=True)
    (run / MARKER).write_text("{}")  # a run this tool made, killed mid-write
    (run / "units" / ".01-0.json.q.tmp").write_text("x")
    os.utime(run / "units" / ".01-0.json.q.tmp", (old, old))
    RunFolder(run).start({"key": "k"})
    assert not (run / "units" / ".01-0.json.q.tmp").exists()  # a run folder outside the cache is cleaned when it starts


def test_progress_is_whole_lines_when_stderr_is_not_a_terminal(monkeypatch):
    import fewshot_core.cli.io as cli_io

    err = io.StringIO()
    monkeypatch.setattr(cli_io.sys, "stderr", err)
    update = cli_io.tqdm_progress("features")
    for done in range(1, 1001):
        update(done, 1000, f"encoded {done}/1000 images")
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue() and lines == ["features: 1/1000 encoded 1/1000 images", "features: 1000/1000 encoded 1000/1000 images"]


def test_a_full_events_file_ends_the_command_with_one_line(cub_root, tmp_path, capsys, monkeypatch):
    from fewshot_core.progress import EventLog

    real = EventLog.write

    def full(self, kind, **data):
        if kind == "progress":
            raise FewShotError(f"Could not append to the events file {self.path} (No space left on device). Free some space or choose another path.")
        real(self, kind, **data)

    monkeypatch.setattr(EventLog, "write", full)
    code = main(["--events", str(tmp_path / "e.jsonl"), *FEATURES, "--root", str(cub_root), "--cache", str(tmp_path / "c")])
    assert "Could not append to the events file" in _one_error(capsys, code)


def _tree(root: Path, outside: Path) -> Path:
    for c, name in enumerate(("cat", "dog")):
        for j in range(4):
            write_image(root / name / f"{j}.jpg", seed=10 * c + j)
            write_image(outside / f"{j}.jpg", seed=50 + j)
    os.symlink(outside, root / "eel")
    return root


def test_a_link_out_of_the_folder_is_followed_only_when_asked(tmp_path, monkeypatch):
    from fewshot_core.datasets import folder, load_dataset

    tree = _tree(tmp_path / "tree", tmp_path / "elsewhere")
    with pytest.raises(FewShotError, match="set FEWSHOT_FOLLOW_LINKS=1 to follow links out of it"):
        load_dataset("folder", tree)
    asked = folder.load(tree, folder.FolderSplitConfig(follow_outside_links=True))
    assert asked.class_names == ["cat", "dog", "eel"] and sum(len(s) for s in asked.splits.values()) == 12
    monkeypatch.setenv("FEWSHOT_FOLLOW_LINKS", "1")
    assert load_dataset("folder", tree).class_names == ["cat", "dog", "eel"]


def test_ten_thousand_classes_of_two_images_are_refused_before_any_training(monkeypatch, tmp_path):
    import fewshot_core.sweep as sweep
    import fewshot_core.units as units
    from fewshot_core.datasets.base import check_class_sizes
    from fewshot_core.datasets.sampling import validation_indices
    from fewshot_core.synthetic import SyntheticSpec, make_synthetic

    labels = np.repeat(np.arange(10_000), 2)
    with pytest.raises(FewShotError, match=r"^10000 of 10000 classes cannot be trained and validated, e.g. 'c0' \(2 image\(s\), 0 for validation\)"):
        check_class_sizes(labels, validation_indices(labels, 4), [f"c{i}" for i in range(10_000)])
    check_class_sizes(np.repeat(np.arange(3), 3), validation_indices(np.repeat(np.arange(3), 3), 4), ["a", "b", "c"])  # 3 each: fine
    bundle = make_synthetic(SyntheticSpec(num_classes=4, dim=16, train_per_class=2, test_per_class=2, descriptions_per_class=2))
    monkeypatch.setattr(units, "_unit_rows", lambda *a: pytest.fail("trained before refusing"))
    with pytest.raises(FewShotError, match="4 of 4 classes cannot be trained"):
        sweep.run_sweep(bundle, sweep.SweepConfig(shots=[1], text_counts=[0], seeds=[0], device="cpu"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_text_features_in_cache_entries_match_one_pass_and_report_progress(tiny_backbone, tmp_path, monkeypatch):
    import fewshot_core.features as features
    from fewshot_core.encode import encode_texts

    texts = [f"a photo of bird number {i}" for i in range(7)]
    whole = encode_texts(tiny_backbone, texts)
    monkeypatch.setattr(features, "TEXT_CHUNK", 3)
    seen = []
    got = features.text_features(features.FeatureCache(tmp_path), tiny_backbone, texts, on_progress=lambda d, t, m: seen.append((d, t)))
    assert np.allclose(got["pooled"], whole, atol=1e-5) and seen[-1] == (7, 7) and all(t == 7 for _, t in seen)
    assert len(list((tmp_path / "features" / "texts").glob("*.safetensors"))) == 3  # 3 + 3 + 1 texts
    again = features.text_features(features.FeatureCache(tmp_path), tiny_backbone, texts)
    assert np.array_equal(again["pooled"], got["pooled"])

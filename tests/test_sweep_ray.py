"""The Ray executor against a local Ray instance (``ray.init(num_cpus=2)``): the same run folder and
numbers as the local executor, a worker killed mid-sweep, cancel and resume, errors from tasks."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.cli import main
from fewshot_core.executors import LOCAL, RayExecutor
from fewshot_core.progress import Cancelled
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.ray_cluster import init_ray
from fewshot_core.runs import RunFolder
from fewshot_core.sweep import PROTOCOLS, SweepConfig, run_sweep

FAST = dict(shots=[1, 4], text_counts=[0, 2, 8], seeds=[0, 1], qformer_train=QFormerTrainConfig(epochs=3, lr=3e-3), device="cpu")


@pytest.fixture(scope="module")
def local_ray():
    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def _same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same rows and the same stored test predictions."""
    ta, tb = RunFolder(a).results(), RunFolder(b).results()
    assert ta.equals(tb)
    for unit in sorted(p.stem for p in (a / "units").glob("*.json")):
        pa, pb = RunFolder(a).predictions(unit), RunFolder(b).predictions(unit)
        assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa), unit


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ray_gives_the_local_numbers(local_ray, small_bundle, tmp_path, protocol):
    cfg = SweepConfig(**FAST, protocol=protocol)
    run_sweep(small_bundle, cfg, tmp_path / "local", qformer_cache=tmp_path / "qa")
    steps = []
    run_sweep(
        small_bundle, cfg, tmp_path / "ray", qformer_cache=tmp_path / "qr", executor=RayExecutor(), on_progress=lambda d, t, m: steps.append((d, t))
    )
    _same_run(tmp_path / "local", tmp_path / "ray")
    assert steps[-1] == (5, 5) and [d for d, _ in steps] == sorted(d for d, _ in steps)
    record = json.loads((tmp_path / "ray" / "units" / "04-1.json").read_text())
    assert record["executor"] == "ray" and record["device"] == "cpu" and record["worker"]
    qformers = 2 if protocol == "train-split" else 4  # one per seed, or one per (shots, seed)
    assert len(list((tmp_path / "qr" / "qformers").glob("*.safetensors"))) == qformers  # written by the workers, as locally


def _kill_one_running_unit(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running a sweep unit (its process title is ray::_unit_task)."""
    while not stop.is_set() and not killed:
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::_unit_task"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.005)


def test_a_worker_killed_mid_sweep_changes_nothing(local_ray, small_bundle, tmp_path):
    cfg = SweepConfig(**{**FAST, "seeds": [0, 1, 2]})
    run_sweep(small_bundle, cfg, tmp_path / "local")
    killed, stop = [], threading.Event()
    watcher = threading.Thread(target=_kill_one_running_unit, args=(killed, stop), daemon=True)
    watcher.start()
    try:
        run_sweep(small_bundle, cfg, tmp_path / "ray", executor=RayExecutor())
    finally:
        stop.set()
        watcher.join()
    assert killed, "no Ray worker was seen running a unit"
    _same_run(tmp_path / "local", tmp_path / "ray")


def test_cancel_keeps_finished_units_and_either_executor_resumes(local_ray, small_bundle, tmp_path):
    cfg = SweepConfig(**FAST)
    run_sweep(small_bundle, cfg, tmp_path / "local")
    done = []
    with pytest.raises(Cancelled):
        run_sweep(
            small_bundle,
            cfg,
            tmp_path / "ray",
            executor=RayExecutor(),
            on_progress=lambda d, t, m: done.append(d),
            should_cancel=lambda: len(done) >= 2,
        )
    finished = sorted(p.stem for p in (tmp_path / "ray" / "units").glob("*.json"))
    assert "zeroshot" in finished and 2 <= len(finished) < 5
    run_sweep(small_bundle, cfg, tmp_path / "ray", executor=LOCAL)  # resume the rest here...
    _same_run(tmp_path / "local", tmp_path / "ray")
    (tmp_path / "ray" / "units" / "01-0.json").unlink()  # ...or on Ray
    run_sweep(small_bundle, cfg, tmp_path / "ray", executor=RayExecutor())
    _same_run(tmp_path / "local", tmp_path / "ray")


def test_a_user_error_inside_a_task_comes_back_as_itself(local_ray, small_bundle, tmp_path):
    cfg = SweepConfig(**{**FAST, "seeds": [0], "shots": [1], "qformer_text_input": "tokens"})  # the bundle has no per-token features
    with pytest.raises(FewShotError, match="per-token description features"):
        run_sweep(small_bundle, cfg, tmp_path / "ray", executor=RayExecutor())


def test_a_gpu_sweep_needs_a_cluster_with_gpus(local_ray, small_bundle, tmp_path):
    with pytest.raises(FewShotError, match="the Ray cluster has none"):
        run_sweep(small_bundle, SweepConfig(**{**FAST, "device": "cuda"}), tmp_path / "ray", executor=RayExecutor())


def test_cli_reproduce_on_ray(local_ray, tmp_path, capsys):
    args = ["reproduce", "--dataset", "synthetic", "--methods", "adapter", "--shots", "1", "--texts", "0", "1", "--seeds", "1"]
    args += ["--translations", "mean-shift", "--device", "cpu", "--cache", str(tmp_path / "c"), "--json"]
    assert main([*args, "--run-dir", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    ray_json = capsys.readouterr().out.strip().splitlines()[-1]
    assert main([*args, "--run-dir", str(tmp_path / "local")]) == 0
    assert json.loads(ray_json) == json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "extra, message",
    [(["--ray-address", "auto"], "--ray-address only applies with --executor ray"), (["--executor", "dask"], "invalid choice")],
)
def test_cli_executor_errors(tmp_path, capsys, extra, message):
    assert main(["reproduce", "--dataset", "synthetic", "--cache", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1

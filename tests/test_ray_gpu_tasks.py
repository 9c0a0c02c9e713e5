"""GPU tasks on a Ray cluster that offers GPUs: a local instance declaring one (``num_gpus=1``).

This machine has no CUDA, so a task given the GPU still computes on the CPU (device ``auto``); what is
checked is the scheduling: units ask for the GPU exactly when the device allows one, Ray hands it to
them (their records name it), and the numbers are the local executor's.
"""

from __future__ import annotations

import json

import pytest

from fewshot_core.executors import RayExecutor
from fewshot_core.sweep import SweepConfig, run_sweep

from .test_sweep_ray import FAST, _same_run


@pytest.fixture(scope="module")
def ray_with_a_gpu():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("device, gpu_ids", [("auto", ["0"]), ("cpu", [])])
def test_units_take_the_gpu_only_where_the_device_allows(ray_with_a_gpu, small_bundle, tmp_path, device, gpu_ids):
    cfg = SweepConfig(**{**FAST, "device": device, "shots": [1], "protocol": "train-split"})
    run_sweep(small_bundle, cfg, tmp_path / "local")
    run_sweep(small_bundle, cfg, tmp_path / "ray", executor=RayExecutor())
    _same_run(tmp_path / "local", tmp_path / "ray")
    records = [json.loads(p.read_text()) for p in (tmp_path / "ray" / "units").glob("[0-9]*.json")]
    assert len(records) == 2 and all(r["gpu_ids"] == gpu_ids and r["device"] == "cpu" for r in records)

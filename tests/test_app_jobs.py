"""Durable jobs: real `python -m fewshot_core` processes started, watched, cancelled and found again."""

import time

import pytest

import app_jobs
from app_jobs import JobRegistry
from fewshot_core import FewShotError
from fewshot_core.storage import default_cache_root

LONG_SWEEP = ["reproduce", "--dataset", "synthetic", "--shots", "1", "2", "3", "4", "5", "10", "15", "--texts", "0", "1", "--seeds", "5"]
LONG_SWEEP += ["--qformer-size", "tiny", "--qformer-epochs", "200"]


def _until(check, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_describe_job_reports_classes_and_its_result(cub_root):
    registry = JobRegistry(default_cache_root())
    job = registry.start(
        "describe", ["describe", "--dataset", "cub", "--root", cub_root, "--source", "attributes"], {"source": "attributes"}, "attributes"
    )
    _until(lambda: not job.running)
    assert job.status == "finished", job.error
    assert job.result["classes_done"] == 3 and job.params == {"source": "attributes"}
    assert job.progress("classes")["total"] == 3
    again = JobRegistry(default_cache_root()).get("describe", "attributes")  # a restarted app: found from the folder alone
    assert again is not None and again.status == "finished" and again.result == job.result


def test_a_sweep_job_streams_structured_loss_and_cancels_within_5_s(monkeypatch):
    registry = JobRegistry(default_cache_root())
    job = registry.start("train", LONG_SWEEP, {"shots": [1, 2]})
    _until(lambda: len(job.metric_series("qformer_loss")) >= 2)
    assert job.last("run_dir")["units"] == 7 * 5 + 1
    with pytest.raises(FewShotError, match="already running"):
        registry.start("train", LONG_SWEEP)  # one slot per kind: never a second sweep, never a silent attach
    monkeypatch.setattr(app_jobs, "_CHILDREN", {})  # a restarted server did not start it: found through /proc
    restarted = JobRegistry(default_cache_root()).get("train")
    assert restarted.running and restarted.status == "running"
    start = time.monotonic()
    assert restarted.cancel()
    assert time.monotonic() - start < 5.0
    assert restarted.status == "cancelled" and not restarted.running
    assert all(isinstance(x, float) for x in restarted.metric_series("qformer_loss"))


def test_a_failing_job_says_why(tmp_path):
    registry = JobRegistry(default_cache_root())
    job = registry.start("describe", ["describe", "--dataset", "cub", "--root", tmp_path / "nothing", "--source", "attributes"], slot="attributes")
    _until(lambda: not job.running)
    assert job.status == "failed" and "CUB" in job.error

"""Durable jobs: real `python -m fewshot_core` processes started, watched, cancelled and found again."""

import time

import pytest

from fewshot_app import jobs as app_jobs
from fewshot_app.jobs import JobRegistry
from fewshot_core import FewShotError
from fewshot_core.config import QFormerTrainConfig, SweepConfig
from fewshot_core.descriptions.generate import DescribeRequest
from fewshot_core.jobspec import DatasetSpec, DescribeSpec, ReproduceSpec
from fewshot_core.storage import default_cache_root

LONG_SWEEP = ReproduceSpec(
    DatasetSpec("synthetic"),
    sweep=SweepConfig(shots=[1, 2, 3, 4, 5, 10, 15], text_counts=[0, 1], seeds=list(range(5)), qformer_train=QFormerTrainConfig(epochs=200)),
)


def attributes_job(root) -> DescribeSpec:
    """Describe the CUB at ``root`` from its attributes (offline, instant)."""
    return DescribeSpec(DatasetSpec("cub", str(root)), DescribeRequest("attributes"))


def _until(check, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_describe_job_reports_classes_and_its_result(cub_root):
    registry = JobRegistry(default_cache_root())
    job = registry.start("describe", attributes_job(cub_root), "attributes")
    _until(lambda: not job.running)
    assert job.status == "finished", job.error
    assert job.result["classes_done"] == 3 and job.spec == attributes_job(cub_root)
    assert job.description.startswith("source attributes") and "all classes" in job.description
    assert job.progress("classes")["total"] == 3
    again = JobRegistry(default_cache_root()).get("describe", "attributes")  # a restarted app: found from the folder alone
    assert again is not None and again.status == "finished" and again.result == job.result


def test_a_sweep_job_streams_structured_loss_and_cancels_within_5_s(monkeypatch):
    registry = JobRegistry(default_cache_root())
    job = registry.start("train", LONG_SWEEP)
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
    job = registry.start("describe", attributes_job(tmp_path / "nothing"), slot="attributes")
    _until(lambda: not job.running)
    assert job.status == "failed" and "CUB" in job.error


def test_eta_from_the_rate_of_a_step(tmp_path):
    import json

    from fewshot_app.jobs import Job

    now = time.time()
    events = [
        {"event": "progress", "step": "sweep", "done": 1, "total": 5, "time": now - 10},
        {"event": "progress", "step": "qformer", "done": 7, "total": 20, "time": now - 6},
        {"event": "progress", "step": "sweep", "done": 3, "total": 5, "time": now},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"event": "progr')  # a line still being written
    eta = Job(tmp_path).eta_seconds("sweep")
    assert eta is not None and abs(eta - 10.0) < 0.5  # 2 units in 10 s: 5 s a unit, 2 left
    assert Job(tmp_path).eta_seconds("classes") is None


def test_a_job_killed_without_a_report_is_failed_and_a_cancelled_one_cancelled(tmp_path):
    import json
    import signal
    import subprocess
    import sys

    from fewshot_app.jobs import Job, record_process

    folder = tmp_path / "jobs" / "train"
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(folder)], start_new_session=True)
    record_process(folder, sleeper.pid)
    (folder / "job.json").write_text(json.dumps({"started": time.time()}))
    job = Job(folder)
    assert job.status == "running"
    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()
    assert job.status == "failed" and "without a report" in job.error
    assert job.cancel() and job.status == "cancelled"  # asked to stop: a missing report then means cancelled

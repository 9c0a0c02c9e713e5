"""Job control: a job is its pid *and* its start time; Cancel never signals anything it cannot prove is the job.

Every hostile ``pid`` file below must leave the job "not running", and Cancel must send no signal at all: the
live processes involved (and this test's own process group) are checked afterwards, and every ``os.kill`` /
``os.killpg`` call is recorded (calls aimed at this test's own process or group are recorded, never made).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fewshot_app import jobs as app_jobs
from fewshot_app.jobs import Job, JobRegistry, record_process
from fewshot_core.descriptions.generate import DescribeRequest
from fewshot_core.jobspec import DatasetSpec, DescribeSpec
from fewshot_core.processes import parse_pid, start_token
from fewshot_core.storage import default_cache_root


@pytest.fixture
def signals(monkeypatch):
    """Every signal sent through os.kill / os.killpg during the test, as (function, target, signal)."""
    sent, real_kill, real_killpg = [], os.kill, os.killpg
    ours = {0, -1, os.getpid(), os.getpgrp()}

    def kill(pid, sig):
        sent.append(("kill", pid, sig))
        if pid not in ours and sig != 0:
            real_kill(pid, sig)

    def killpg(pgid, sig):
        sent.append(("killpg", pgid, sig))
        if pgid not in ours:
            real_killpg(pgid, sig)

    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(os, "killpg", killpg)
    return sent


@pytest.fixture
def canary():
    """A process in this test's own process group: alive at the end means no signal reached the group."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def _job_folder(tmp_path: Path, name: str = "describe-openai") -> Path:
    folder = tmp_path / "jobs" / name
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"kind": "describe", "started": time.time()}))
    return folder


def _spawn(*argv: str) -> subprocess.Popen:
    """An unrelated process in its own session (like a job, so that a wrong Cancel could reach it)."""
    process = subprocess.Popen(list(argv), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 10
    while start_token(process.pid) is None and time.time() < end:
        time.sleep(0.01)
    return process


@pytest.mark.parametrize("text", ["0", "-1", "1", "12345678901234567890", "abc", "", " ", "4194305", "0x1f", "1e3", "\x00"])
def test_a_pid_file_that_names_no_job_process_is_not_running_and_cancel_signals_nothing(tmp_path, signals, canary, text):
    folder = _job_folder(tmp_path)
    (folder / "pid").write_text(text)
    (folder / "pid_start").write_text(start_token(os.getpid()) or "x")  # even a matching-looking start cannot help a bad pid
    job = Job(folder)
    assert job.pid is None and not job.running and job.status == "failed"
    assert job.cancel() and job.status == "cancelled"
    assert signals == [] and canary.poll() is None
    assert JobRegistry(tmp_path).jobs()[0].status == "cancelled"  # the Data page's list: no crash on a 20-digit pid


def test_a_process_naming_the_job_folder_is_not_the_job(tmp_path, signals):
    """``tail -f <job>/stderr.log`` has the folder in its command line; it is not the job, and Cancel leaves it."""
    folder = _job_folder(tmp_path)
    (folder / "stderr.log").write_text("")
    tail = _spawn("tail", "-f", str(folder / "stderr.log"))
    try:
        (folder / "pid").write_text(str(tail.pid))  # a pid file pointing at it, with no recorded start (or a wrong one)
        for recorded in (None, "proc:some-other-boot:12345", "ps:Mon Jan  1 00:00:00 2001"):
            if recorded is None:
                (folder / "pid_start").unlink(missing_ok=True)
            else:
                (folder / "pid_start").write_text(recorded)
            job = Job(folder)
            assert not job.running and job.cancel()
        assert signals == [] and tail.poll() is None
    finally:
        tail.kill()
        tail.wait()


def test_describe_openai_is_not_taken_for_describe_openai_compatible(tmp_path, signals):
    """A live compatible-source job; the openai slot's stale pid file names the same pid (reused) with its own start."""
    compatible = _job_folder(tmp_path, "describe-openai-compatible")
    process = _spawn(sys.executable, "-c", "import time; time.sleep(60)", str(compatible / "events.jsonl"))
    try:
        record_process(compatible, process.pid)
        stale = _job_folder(tmp_path, "describe-openai")
        (stale / "pid").write_text(str(process.pid))
        (stale / "pid_start").write_text(start_token(process.pid) + "0")  # the earlier process that had this pid
        assert Job(compatible).running and not Job(stale).running
        assert Job(stale).cancel() and signals == [] and process.poll() is None
        assert Job(compatible).running
    finally:
        process.kill()
        process.wait()


def test_a_reused_pid_is_not_the_job(tmp_path, signals):
    """The job ended; its pid now belongs to a new process (same pid, another start time): not running, not signalled."""
    folder = _job_folder(tmp_path)
    newcomer = _spawn("sleep", "60")
    try:
        ticks = start_token(newcomer.pid)
        (folder / "pid").write_text(str(newcomer.pid))
        (folder / "pid_start").write_text(ticks.rsplit(":", 1)[0] + ":" + str(int(ticks.rsplit(":", 1)[1]) - 100))
        job = Job(folder)
        assert not job.running and job.status == "failed"
        assert job.cancel() and signals == [] and newcomer.poll() is None
    finally:
        newcomer.kill()
        newcomer.wait()


def test_the_real_job_is_stopped(tmp_path, signals):
    """The positive case: pid and start time recorded at launch, Cancel stops its process group (and only it)."""
    folder = _job_folder(tmp_path)
    process = _spawn("sleep", "60")
    record_process(folder, process.pid)
    job = Job(folder)
    assert job.running and job.pid == process.pid and job.pid_start == start_token(process.pid)
    assert job.cancel(grace=2.0)
    assert process.wait(timeout=5) != 0 and signals == [("killpg", process.pid, signal.SIGINT)]


def test_a_fifo_or_a_huge_pid_file_does_not_hang_or_break(tmp_path, signals):
    folder = _job_folder(tmp_path)
    os.mkfifo(folder / "pid")  # reading it would block forever
    assert Job(folder).pid is None and Job(folder).cancel()
    (folder / "pid").unlink()
    (folder / "pid").write_text("7" * 1_000_000)
    assert Job(folder).pid is None and Job(folder).status == "cancelled" and signals == []  # (cancel was asked above)


@pytest.mark.skipif(shutil.which("ps") is None, reason="the portable fallback needs ps")
def test_the_portable_start_token_tells_processes_apart():
    """Where there is no /proc (macOS), ``ps -o lstart=`` gives the start time: stable for one process, none once gone."""
    from fewshot_core.processes import _ps_token

    process = _spawn("sleep", "60")
    token = _ps_token(process.pid)
    assert token and token.startswith("ps:") and _ps_token(process.pid) == token and _ps_token(os.getpid()) != token
    process.kill()
    process.wait()
    assert _ps_token(process.pid) is None


def test_pid_parsing():
    assert [parse_pid(t) for t in ("42", " 42\n", "2", "4194304")] == [42, 42, 2, 4194304]
    assert [parse_pid(t) for t in ("0", "1", "-1", "+5", "4194305", "9" * 20, "4 2", "٤٢")] == [None] * 8  # (Arabic-Indic digits too)


def test_bad_numbers_in_a_job_folder_are_skipped(tmp_path):
    """Non-numeric ``started`` and event values: jobs() still lists and sorts, ETA and metric series skip them."""
    root = tmp_path / "cache"
    for name, started in (("a", '"yesterday"'), ("b", "NaN"), ("c", "1e999"), ("d", "[1]"), ("e", str(time.time())), ("f", "true")):
        folder = root / "jobs" / name
        folder.mkdir(parents=True)
        (folder / "job.json").write_text('{"started": ' + started + "}")
    jobs = JobRegistry(root).jobs()
    assert jobs[0].name == "e" and sorted(j.name for j in jobs) == list("abcdef") and all(j.started == 0.0 for j in jobs[1:])
    now = time.time()
    events = [
        {"event": "progress", "step": "sweep", "done": 1, "total": 5, "time": now - 10, "metrics": {"loss": 2.0}},
        {"event": "progress", "step": "sweep", "done": "two", "total": 5, "time": now - 5, "metrics": {"loss": "high"}},
        {"event": "progress", "step": "sweep", "done": 2, "total": None, "time": "noon", "metrics": ["loss"]},
        {"event": "progress", "step": "sweep", "done": 3, "total": 5, "time": now, "metrics": {"loss": 1.5}},
        {"event": "progress", "step": "sweep", "done": 3, "total": 5, "time": True, "metrics": {"loss": None}},
    ]
    folder = root / "jobs" / "e"
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"event": "progress", "time": 1e999}\n')
    job = Job(folder)
    assert job.metric_series("loss") == [2.0, 1.5]
    eta = job.eta_seconds("sweep")  # from the two good reports: 2 units in 10 s, 2 left
    assert eta is not None and abs(eta - 10.0) < 0.5


def test_a_launched_job_records_its_start(tmp_path):
    spec = DescribeSpec(DatasetSpec("cub", str(tmp_path)), DescribeRequest("attributes"))
    job = JobRegistry(default_cache_root()).start("describe", spec)
    assert job.pid_start and job.pid_start == start_token(job.pid) and job.pid_start.startswith(("proc:", "ps:"))
    app_jobs._CHILDREN[job.pid].wait(timeout=120)
    assert not job.running and start_token(job.pid) is None  # ended and reaped: no process has that start any more

"""Run states (complete, running, failed, cancelled, interrupted, partial), seeds per shot count, the run opened
first, unique names, and the settings diff: what the Results page and its run history say about each run."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fewshot_core.errors import FewShotError
from fewshot_core.names import unique_run_labels
from fewshot_core.run_catalog import default_run, read_outcome, run_state, seeds_phrase, settings_diff, track_run


def _run(tmp_path, name: str, units: list[str], shots=(1, 2), seeds=(0, 1), created="2026-01-01T00:00:00") -> dict:
    """A list_runs entry whose folder holds empty unit files named like the sweep's (only names are read)."""
    path = tmp_path / name
    (path / "units").mkdir(parents=True)
    for unit in units:
        (path / "units" / f"{unit}.json").write_text("{}")
    config = {"dataset": "synthetic", "created": created, "sweep": {"shots": list(shots), "seeds": list(seeds), "protocol": "support"}}
    return {"path": str(path), "name": name, "config": config, "units": len(units)}


def _sweep(reports: int, error: BaseException | None = None):
    """A stand-in for run_sweep: reports progress ``reports`` times, then raises ``error`` or returns "done"."""

    def sweep(run_dir, on_progress=None):
        for i in range(reports):
            on_progress(i + 1, 3, "unit done", step="sweep", metrics={"x": 1.0})
        if error is not None:
            raise error
        return "done"

    return sweep


def test_a_tracked_sweep_records_how_it_ended(tmp_path):
    seen = []
    assert track_run(tmp_path, _sweep(2))(tmp_path, on_progress=lambda d, t, m, step="", metrics=None: seen.append((d, step, metrics))) == "done"
    assert read_outcome(tmp_path)["status"] == "finished" and seen == [(1, "sweep", {"x": 1.0}), (2, "sweep", {"x": 1.0})]  # passed through
    with pytest.raises(FewShotError):
        track_run(tmp_path, _sweep(1, FewShotError("46 classes have images but no descriptions")))(tmp_path)
    assert read_outcome(tmp_path) == {
        "status": "failed",
        "message": "46 classes have images but no descriptions",
        "time": read_outcome(tmp_path)["time"],
    }
    with pytest.raises(KeyboardInterrupt):
        track_run(tmp_path, _sweep(1, KeyboardInterrupt()))(tmp_path)
    assert read_outcome(tmp_path)["status"] == "cancelled"


def test_a_sweep_refused_before_it_started_writes_nothing(tmp_path):
    """e.g. --run-dir holds another run: its folder must not be marked failed."""
    with pytest.raises(FewShotError):
        track_run(tmp_path, _sweep(0, FewShotError("holds a run with other settings")))(tmp_path)
    assert read_outcome(tmp_path) == {} and not (tmp_path / "outcome.json").exists()


def test_run_states(tmp_path):
    complete = _run(tmp_path, "complete", ["zeroshot", "01-0", "01-1", "02-0", "02-1"])
    assert run_state(complete).status == "complete" and run_state(complete).summary() == "complete"
    partial = _run(tmp_path, "partial", ["zeroshot", "01-0", "02-0", "01-1"])
    state = run_state(partial)
    assert (state.status, state.units, state.expected, state.seeds_done) == ("partial", 4, 5, {1: 2, 2: 1})
    assert state.summary() == "partial: 1–2 of 2 seeds done: 2 at 1 shot, 1 at 2 shots"
    failed = _run(tmp_path, "failed", ["zeroshot"])
    with pytest.raises(FewShotError):
        track_run(failed["path"], _sweep(1, FewShotError("no descriptions for Ant")))(failed["path"])
    assert run_state(failed).summary() == "failed: no few-shot results (no descriptions for Ant)" and run_state(failed).empty


def test_running_and_interrupted_runs_by_their_process(tmp_path):
    import json

    run = _run(tmp_path, "r", ["zeroshot", "01-0"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "fewshot_core"])  # a process of the lab
    try:
        deadline = time.time() + 10
        while b"fewshot_core" not in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes() and time.time() < deadline:
            time.sleep(0.01)  # until the child has exec'd: before that its command line is still pytest's
        (tmp_path / "r" / "outcome.json").write_text(json.dumps({"status": "running", "pid": sleeper.pid}))
        assert run_state(run).status == "running" and run_state(run).summary() == "running: 2 of 5 units"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert run_state(run).status == "interrupted"  # killed: it never wrote how it ended


def test_seeds_phrase_by_hand():
    assert seeds_phrase(20, None) == "20 seeds" and seeds_phrase(1, {1: 1}) == "1 seed"
    assert seeds_phrase(20, {1: 20, 2: 20}) == "20 seeds"
    assert seeds_phrase(20, {1: 3, 2: 3, 4: 3}) == "3 of 20 seeds done"
    assert seeds_phrase(20, {1: 3, 2: 1}) == "1–3 of 20 seeds done: 3 at 1 shot, 1 at 2 shots"
    assert seeds_phrase(5, {}) == "0 of 5 seeds done"


def test_the_run_opened_first(tmp_path):
    older_complete = _run(tmp_path, "a", ["zeroshot", "01-0", "01-1", "02-0", "02-1"], created="2026-01-01T00:00:00")
    newer_partial = _run(tmp_path, "b", ["zeroshot", "01-0"], created="2026-02-01T00:00:00")
    newest_empty = _run(tmp_path, "c", ["zeroshot"], created="2026-03-01T00:00:00")
    runs = [newest_empty, newer_partial, older_complete]  # list_runs: newest first
    states = {r["path"]: run_state(r) for r in runs}
    assert default_run(runs, states) == older_complete["path"]
    assert default_run(runs, states, live=newest_empty["path"]) == newest_empty["path"]  # a sweep is running into it
    assert default_run(runs[:2], states) == newer_partial["path"]  # no complete run: the newest with few-shot results
    assert default_run(runs[:1], states) == newest_empty["path"] and default_run([], {}) is None


def test_run_names_are_unique_and_name_the_description_set(tmp_path):
    from fewshot_core.names import run_label, write_label

    good = _run(tmp_path, "good", [], created="2026-01-01T10:00:00")
    failed = _run(tmp_path, "failed", [], created="2026-01-01T10:00:30")  # same settings, same minute
    labels = unique_run_labels([failed, good])
    assert labels[good["path"]] == "synthetic · 1-2 shots · support · 2026-01-01 10:00" and labels[failed["path"]] == labels[good["path"]] + " (2)"
    described = _run(tmp_path, "d", [])
    described["config"]["features"] = {"descriptions": str(tmp_path / "cub_descriptions.json")}
    assert run_label(described) == "synthetic · cub_descriptions.json · 1-2 shots · support · 2026-01-01 00:00"
    made_with_it = tmp_path / "set"  # a description set made in the run's own minute (reproduce on the demo): one date
    made_with_it.mkdir()
    (made_with_it / "meta.json").write_text(json.dumps({"source": "attributes", "created": "2026-01-01T00:00:40"}))
    described["config"]["features"] = {"descriptions": str(made_with_it)}
    assert run_label(described) == "synthetic · attributes · 1-2 shots · support · 2026-01-01 00:00"
    (made_with_it / "meta.json").write_text(json.dumps({"source": "attributes", "created": "2025-12-31T09:00:00"}))
    assert run_label(described) == "synthetic · attributes · 2025-12-31 09:00 · 1-2 shots · support · 2026-01-01 00:00"
    write_label(good["path"], "mine")
    write_label(failed["path"], "mine")
    assert set(unique_run_labels([good, failed]).values()) == {"mine", "mine (2)"}


def test_settings_diff_lists_only_what_differs():
    a = {"key": "x1", "created": "t1", "dataset": "cub", "sweep": {"shots": [1, 2], "adapter": {"lr": 0.001, "steps": 150}}}
    b = {"key": "x2", "created": "t2", "dataset": "cub", "sweep": {"shots": [1, 2], "adapter": {"lr": 0.01, "steps": 150}, "protocol": "support"}}
    diff = settings_diff({"run a": a, "run b": b})
    assert diff.to_dict("records") == [
        {"setting": "sweep.adapter.lr", "run a": "0.001", "run b": "0.01"},
        {"setting": "sweep.protocol", "run a": "-", "run b": "support"},
    ]
    assert settings_diff({"run a": a, "same": a}).empty


def test_a_folder_that_cannot_take_the_record_costs_only_the_record(tmp_path, monkeypatch):
    from fewshot_core import run_catalog

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_catalog, "write_json", full)
    assert track_run(tmp_path, _sweep(2))(tmp_path) == "done"  # the sweep is not stopped by its record
    with pytest.raises(FewShotError, match="the real error"):
        track_run(tmp_path, _sweep(1, FewShotError("the real error")))(tmp_path)  # nor is its error replaced

"""The Descriptions, Train and Results pages, driven by AppTest with the offline sources."""

import os
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fewshot_core.jobspec import EstimateSpec, ExecutorSpec
from fewshot_core.settings import LabSettings, save_settings

from .apppage import open_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def fresh_registry():
    st.cache_resource.clear()  # no job leaks from one test to the next
    yield
    st.cache_resource.clear()


def _open(page: str) -> AppTest:
    """Open a page and check it rendered (see apppage.open_page)."""
    app = open_page(page)
    assert not app.exception, app.exception
    assert app.title[0].value.startswith(page.title()), app.title[0].value
    return app


def _by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


def _wait(app: AppTest, done, timeout: float = 240) -> AppTest:
    """Re-run the page until ``done(app)`` (the job runs in its own process)."""
    end = time.time() + timeout
    while time.time() < end:
        app.run()
        assert not app.exception, app.exception
        if done(app):
            return app
        time.sleep(1)
    raise AssertionError(f"timed out; errors: {[e.value for e in app.error]}")


def test_descriptions_page_generates_and_edits(cub_root):
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    app = _open("descriptions")
    _by_label(app.selectbox, "Source").set_value("attributes").run()
    _by_label(app.button, "Generate").click().run()
    app = _wait(app, lambda a: any("classes, 4 descriptions" in s.value for s in a.success))
    assert any("Black footed Albatross" in str(sb.options) for sb in app.selectbox)


def test_descriptions_page_refuses_a_bad_prompt(cub_root):
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    app = _open("descriptions")
    _by_label(app.selectbox, "Source").set_value("local").run()
    _by_label(app.text_area, "Prompt").set_value("Describe a bird.").run()
    assert any("must contain {class_name}" in e.value for e in app.error)


def _synthetic_form(app: AppTest, shots: tuple[int, int], texts: tuple[int, int], epochs: int) -> AppTest:
    """The Train form on synthetic features with a tiny Q-Former."""
    _by_label(app.radio, "Features").set_value("synthetic (CUB-sized, no download)").run()
    _by_label(app.select_slider, "Shots per class").set_value(shots).run()
    _by_label(app.select_slider, "Texts per class (0 = image only)").set_value(texts).run()
    _by_label(app.selectbox, "Q-Former size").set_value("tiny").run()
    _by_label(app.number_input, "Q-Former epochs").set_value(epochs).run()
    return app


def test_train_then_results_on_synthetic_features():
    save_settings(LabSettings(seeds=1))
    app = _synthetic_form(_open("train"), shots=(1, 1), texts=(0, 2), epochs=1)
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("Done:" in s.value for s in a.success))
    assert any(
        "synthetic · shots 1 · texts 0–2 · 1 seeds" in c.value.replace("\\", "") for c in app.caption
    )  # the job's own settings, from its folder
    assert "zero-shot CLIP" in app.code[0].value
    _job_holds_the_forms_spec()
    results = _open("results")
    chart = results.get("plotly_chart")[1]  # after the headline's gains figure
    assert "image only" in chart.proto.spec and "Figure 4" in chart.proto.spec
    assert len(results.dataframe) + len(results.table) >= 3  # Table 1, confusions, history
    assert len(results.get("plotly_chart")) == 4  # gains ("Does text help?"), Figure 4, zero vs few, worst classes
    per_class = _by_label(results.selectbox, "Classifier").options  # every baseline the run trained, by its registry label
    assert {"linear probe", "Tip-Adapter", "GDA", "LP++"} <= set(per_class) and "Tip-Adapter-F" not in per_class
    _by_label(results.multiselect, "Compare runs").set_value([results.multiselect[0].options[0]]).run()
    assert len(results.get("plotly_chart")) == 5 and not results.exception


def _job_holds_the_forms_spec() -> None:
    """The Train job's job.json holds the form's settings as a spec that reads back equal (and so does the file it
    ran, and the run folder, which names itself); the run's config records that very sweep."""
    import json
    from dataclasses import asdict

    from fewshot_app.context import job_registry
    from fewshot_core.config import QFormerTrainConfig, SweepConfig
    from fewshot_core.jobspec import DatasetSpec, ReproduceSpec, resolve_backbone
    from fewshot_core.storage import default_cache_root

    sweep = SweepConfig(shots=[1], text_counts=[0, 1, 2], seeds=[0], qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=1))
    form = ReproduceSpec(DatasetSpec("synthetic"), resolve_backbone("synthetic"), str(default_cache_root()), None, sweep)
    job = job_registry().get("train")
    record = json.loads((job.folder / "job.json").read_text())
    assert ReproduceSpec.from_json(json.dumps(record["spec"])) == form == job.spec
    assert ReproduceSpec.from_json((job.folder / "spec.json").read_text()) == form
    assert record["description"] == form.describe() and "{" not in record["description"]
    run_dir = Path(job.result["run_dir"])
    kept = ReproduceSpec.from_json((run_dir / "spec.json").read_text())
    assert kept.sweep == form.sweep and kept.run_dir == str(run_dir) and kept.cache == form.cache
    assert json.loads((run_dir / "config.json").read_text())["sweep"] == asdict(form.sweep)


def test_the_time_estimate_runs_as_a_job_and_answers_only_for_its_settings():
    save_settings(LabSettings(seeds=2, device="cpu"))
    app = _synthetic_form(_open("train"), shots=(1, 2), texts=(0, 1), epochs=2)
    _by_label(app.button, "Estimate the time").click().run()
    app = _wait(app, lambda a: any("Estimated time" in c.value for c in a.caption))
    estimate = next(c.value for c in app.caption if "Estimated time" in c.value)
    assert "for 4 units and 4 Q-Former trainings" in estimate and "200 classes" in estimate  # support: a Q-Former per unit
    from fewshot_app.context import job_registry

    job = job_registry().get("estimate")
    assert isinstance(job.spec, EstimateSpec) and job.spec.sweep.shots == [1, 2] and job.pid != os.getpid()  # timed in the job's process
    _by_label(app.select_slider, "Shots per class").set_value((1, 4)).run()  # another grid: the estimate no longer applies
    assert not any("Estimated time" in c.value for c in app.caption)


def test_texts_without_a_translation_are_refused_on_the_form():
    save_settings(LabSettings(seeds=1))
    app = _synthetic_form(_open("train"), shots=(1, 1), texts=(0, 2), epochs=1)
    _by_label(app.multiselect, "Translations (texts into image features)").set_value([]).run()
    assert any("need at least one translation" in e.value for e in app.error)
    assert _by_label(app.button, "Train").disabled  # the job would have run every translation (no --translations)


def test_the_form_asks_for_tip_adapter_f_only_when_ticked():
    save_settings(LabSettings(seeds=1))
    app = _synthetic_form(_open("train"), shots=(1, 1), texts=(0, 2), epochs=1)
    form = lambda a: next(c.value for c in a.caption if c.value.startswith("This form trains:"))  # noqa: E731
    assert "tip-adapter-f" not in form(app)
    _by_label(app.checkbox, "Also Tip-Adapter-F").check().run()
    assert "methods adapter, zeroshot, description-zeroshot, linear-probe, tip-adapter, gda, lp++, tip-adapter-f" in form(app)


def test_train_on_ray_from_the_sidebar():
    """The sidebar's executor reaches the job: `reproduce --executor ray` on a local Ray instance."""
    save_settings(LabSettings(seeds=1, device="cpu"))
    app = _open("train")
    _by_label(app.sidebar.selectbox, "Executor").set_value("ray").run()
    assert not _by_label(app.sidebar.text_input, "Ray address").disabled
    _by_label(app.radio, "Features").set_value("synthetic (CUB-sized, no download)").run()
    _by_label(app.select_slider, "Shots per class").set_value((1, 1)).run()
    _by_label(app.select_slider, "Texts per class (0 = image only)").set_value((0, 1)).run()
    _by_label(app.multiselect, "Translations (texts into image features)").set_value(["mean-shift"]).run()
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("Done:" in s.value for s in a.success))
    assert any("ray executor" in c.value for c in app.caption)
    from fewshot_app.context import job_registry

    job = job_registry().get("train")
    assert job.spec.executor == ExecutorSpec("ray")
    assert job.result and all(u["executor"] == "ray" for u in _unit_records(Path(job.result["run_dir"])))


def _unit_records(run_dir: Path) -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in (run_dir / "units").glob("[0-9]*.json")]


def test_results_page_without_runs():
    app = _open("results")
    assert any("No runs yet" in i.value for i in app.info)


def test_train_on_a_dataset_folder_with_the_tiny_clip(cub_root):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.storage import default_cache_root

    describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root())
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu", seeds=1))
    app = _open("train")
    _by_label(app.select_slider, "Shots per class").set_value((1, 1)).run()
    _by_label(app.select_slider, "Texts per class (0 = image only)").set_value((0, 1)).run()
    _by_label(app.selectbox, "Q-Former size").set_value("tiny").run()
    _by_label(app.number_input, "Q-Former epochs").set_value(2).run()
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("Done:" in s.value for s in a.success) or any("failed" in e.value for e in a.error))
    assert not app.error and "zero-shot CLIP" in app.code[0].value


def test_missing_clip_weights_are_an_error_message(cub_root):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.storage import default_cache_root

    describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root())
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="RN50", pretrained="openai", device="cpu", seeds=1))
    app = _open("train")
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("failed" in e.value for e in a.error))
    assert any("Could not download" in e.value and "local checkpoint" in e.value for e in app.error)


def _hand_made_run(units: list[str], dataset: str = "synthetic", class_names: tuple[str, ...] = ("ant", "bee", "cat"), features=None) -> None:
    """A train-split run folder of 2 shot counts x 2 seeds with every translation, holding only ``units``."""
    import numpy as np

    from fewshot_core.runs import RunFolder
    from fewshot_core.storage import default_cache_root, write_json

    run = RunFolder(default_cache_root() / "runs" / f"{dataset}-handmade")
    config = {"dataset": dataset, "key": "k", "created": "2026-01-01T00:00:00", "qformer_images_per_class": 26}
    config |= {
        "features": features or {"model": "ViT-B-32", "weights_tag": "openai"},
        "sweep": {"shots": [1, 4], "seeds": [0, 1], "protocol": "train-split"},
    }
    run.start(config)
    labels = np.repeat(np.arange(3), 4)
    write_json(run.path / "test_index.json", {"class_names": list(class_names), "labels": labels.tolist(), "paths": None})
    rng = np.random.default_rng(0)

    def row(method, translation, shots, texts, seed, acc):
        protocol = "train-split" if method == "adapter" else ""
        return {"dataset": "synthetic", "method": method, "protocol": protocol, "shots": shots, "texts": texts, "seed": seed} | {
            "val_acc": acc,
            "test_acc": acc,
            "chosen": "{}",
            "translation": translation,
            "head": "zeroshot" if method == "adapter" else "",
        }

    for unit in units:
        if unit == "zeroshot":
            run.save_unit(unit, [row("zeroshot", "", 0, 0, 0, 0.4)], predictions={"zeroshot": rng.integers(0, 3, 12)})
            continue
        k, s = int(unit[:2]), int(unit[3:])
        rows = [row("adapter", "none", k, 0, s, 0.5 + 0.01 * s), row("linear-probe", "", k, 0, s, 0.45)]
        rows += [row("adapter", tr, k, 5, s, 0.55 + 0.01 * i + 0.01 * s) for i, tr in enumerate(("raw", "mean-shift", "qformer"))]
        keys = ["adapter-0", "adapter-raw-5", "adapter-mean-shift-5", "adapter-qformer-5", "linear-probe"]
        run.save_unit(unit, rows, predictions={key: rng.integers(0, 3, 12) for key in keys})


@pytest.fixture
def translation_column(monkeypatch):
    """Results tables keep the ``translation`` column (a no-op once runs.RESULT_COLUMNS has it)."""
    from fewshot_core import runs

    if "translation" not in runs.RESULT_COLUMNS:
        monkeypatch.setattr(runs, "RESULT_COLUMNS", [*runs.RESULT_COLUMNS, "translation"])


def test_results_page_on_a_half_finished_run_with_translations(translation_column):
    _hand_made_run(["zeroshot", "01-0", "01-1"])
    app = _open("results")
    assert any("Partial run: 3 of 5 units done" in i.value for i in app.info)
    gains = app.table[0].value.set_index("translation")  # the headline "Does text help?": one row per shot count and translation
    assert list(gains["shots"]) == [1, 1, 1] and gains.loc["raw", "gain over image only [95% CI]"] == "+5.00 [+5.00, +5.00]*"
    table = app.table[1].value  # Table 1's accuracies
    assert list(table.shots) == [1] and table["pooled Q-Former text (texts)"].iloc[0] == "57.50 ± 0.71 (5)"
    assert gains.loc["pooled Q-Former", "gain over image only [95% CI]"] == "+7.00 [+7.00, +7.00]*"
    assert app.dataframe[0].value["+ pooled Q-Former text gain [95% CI]"].iloc[0] == "+7.00 [+7.00, +7.00]*"  # every column, in the expander
    assert any("pooled Q-Former trained on 26 labelled images per class (train-split protocol)" in c.value for c in app.caption)
    spec = app.get("plotly_chart")[1].proto.spec  # Figure 4, after the gains figure
    assert "image + mean-shift text" in spec and "train-split protocol" in spec
    assert len(app.get("plotly_chart")) == 4  # gains, Figure 4, zero vs few, worst classes of the val-selected raw-text adapter


def test_results_page_when_only_zero_shot_is_done(translation_column):
    _hand_made_run(["zeroshot"])
    app = _open("results")
    assert any("Partial run: 1 of 5 units done" in i.value for i in app.info)
    assert any("No few-shot results yet. Zero-shot CLIP: 40.00%" in i.value for i in app.info)
    assert "zero-shot CLIP 40.0%" in app.get("plotly_chart")[0].proto.spec
    assert len(app.get("plotly_chart")) == 3  # Figure 4 (the zero-shot line), zero vs few, zero-shot per class


def test_results_page_splits_a_demo_run_into_seen_and_held_out_classes(translation_column):
    import json

    from fewshot_core.demo.clip import DEMO_WEIGHTS
    from fewshot_core.feature_status import weights_identity

    held = json.loads(DEMO_WEIGHTS.with_suffix(".json").read_text())["held_out_classes"][:1]
    features = {"model": "demo", "weights_sha256": weights_identity(str(DEMO_WEIGHTS))["weights_sha256"]}
    _hand_made_run(["zeroshot", "01-0", "01-1", "04-0", "04-1"], "demo", ("a seen class", "another seen class", *held), features)
    app = _open("results")
    charts = [c.proto.spec for c in app.get("plotly_chart")]
    assert len(charts) == 5 and any("Figure 4 by class group" in c and "held-out classes (1)" in c and "train-split protocol" in c for c in charts)
    assert any("Seen: the 2 classes" in c.value for c in app.caption)


PAGES = ["data", "descriptions", "train", "results"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_cache(page):
    app = _open(page)
    assert not app.error


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_a_damaged_run_folder_and_job_folder(page, translation_column):
    from fewshot_core.storage import default_cache_root

    _hand_made_run(["zeroshot", "01-0"])
    cache = default_cache_root()
    (cache / "runs" / "synthetic-handmade" / "units" / "01-1.json").write_text("{not json")  # a unit cut off mid-write
    (cache / "runs" / "broken").mkdir(parents=True)
    (cache / "runs" / "broken" / "config.json").write_text("[1, 2")
    for name in ("train", "features", "describe-attributes"):
        (cache / "jobs" / name).mkdir(parents=True)
        damaged = (
            '{"spec": {"command": "reproduce", "sweep": {"shots": "many"}}, "description": null}' if name == "train" else '{"spec": "not a dict"}'
        )
        (cache / "jobs" / name / "job.json").write_text(damaged)
        (cache / "jobs" / name / "events.jsonl").write_text('{"event": "progress", "done": 1\n[]\n')
    app = _open(page)
    if page == "results":  # never read as if whole: the page says what to do instead
        assert any("damaged" in w.value and "run the sweep again" in w.value for w in app.warning)


def _fake_running_job(kind: str, events: list[dict]):
    """A job folder whose process (a sleeper that names the folder, as a real job's command line does) runs."""
    import json
    import subprocess
    import sys
    import time as clock

    from fewshot_app.jobs import Job, record_process
    from fewshot_core.storage import default_cache_root

    folder = default_cache_root() / "jobs" / kind
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(folder)], start_new_session=True)
    deadline = clock.time() + 10
    while str(folder) not in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes().decode(errors="replace") and clock.time() < deadline:
        clock.sleep(0.01)  # until the child has exec'd: before that its command line is still pytest's
    spec = {"command": "reproduce", "dataset": {"name": "synthetic"}, "sweep": {"shots": [1, 4]}}
    (folder / "job.json").write_text(json.dumps({"kind": kind, "spec": spec, "description": "synthetic · shots 1, 4", "started": clock.time()}))
    record_process(folder, sleeper.pid)  # its pid and start time, as a launched job's
    (folder / "events.jsonl").write_text("".join(json.dumps({"time": clock.time(), **e}) + "\n" for e in events))
    return Job(folder), sleeper


def test_results_page_follows_a_running_sweep(translation_column):
    """Half a run on disk and a running training job writing into it: the page opens it and says so."""
    from fewshot_core.storage import default_cache_root

    _hand_made_run(["zeroshot", "01-0"])
    run_dir = default_cache_root() / "runs" / "synthetic-handmade"
    events = [
        {"event": "run_dir", "path": str(run_dir), "units": 5},
        {"event": "progress", "step": "sweep", "done": 2, "total": 5, "message": "1-shot seed 0 done"},
    ]
    job, sleeper = _fake_running_job("train", events)
    try:
        assert job.running
        app = _open("results")
        assert any("Partial run: 2 of 5 units done" in i.value for i in app.info)
        assert any("Training is running into this run: 1-shot seed 0 done (2/5 units)" in c.value for c in app.caption)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_default_description_source_follows_availability(cub_root, monkeypatch):
    app = _open("descriptions")  # the demo: its attribute sentences, instant and offline
    assert _by_label(app.selectbox, "Source").value == "attributes"
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = _open("descriptions")
    assert _by_label(app.selectbox, "Source").value == "local"  # no key: never openai
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    app = _open("descriptions")
    assert _by_label(app.selectbox, "Source").value == "openai"


def test_train_page_asks_before_replacing_a_running_job():
    save_settings(LabSettings(seeds=5))
    app = _open("train")
    _by_label(app.radio, "Features").set_value("synthetic (CUB-sized, no download)").run()
    _by_label(app.number_input, "Q-Former epochs").set_value(200).run()
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("Training:" in p.proto.text for p in a.get("progress")), timeout=60)
    fresh = _open("train")  # another browser session (or a refresh): the running job's settings, not the form's defaults
    assert any("Running training job's settings" in c.value and "200 epochs" in c.value for c in fresh.caption)
    _by_label(fresh.radio, "Features").set_value("synthetic (CUB-sized, no download)").run()
    _by_label(fresh.button, "Train").click().run()
    assert any("already running" in w.value for w in fresh.warning)
    _by_label(fresh.button, "Keep the running job").click().run()
    assert not any("already running" in w.value for w in fresh.warning)
    _by_label(fresh.button, "Cancel training").click().run()
    assert any("Cancelled in" in i.value for i in fresh.info)


def test_data_page_shows_the_steps_and_whether_features_are_cached():
    app = _open("data")
    assert [link.proto.label for link in app.get("page_link")] == ["1 · Data", "2 · Descriptions", "3 · Train", "4 · Results"]
    assert any("Features not cached yet" in c.value for c in app.caption)


def test_flagged_descriptions_are_removed_in_one_click_and_restored(cub_root):
    """A finished judge job (its folder as the CLI leaves it): sorted and filtered table, removal kept as edits."""
    import json
    import time as clock

    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.store import DescriptionSet
    from fewshot_core.storage import default_cache_root

    summary = describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root())
    dset = DescriptionSet(Path(summary.store))
    bad, good = dset.lines(0)[0], dset.lines(1)[0]
    records = [
        {
            "class": "Black footed Albatross",
            "class_index": 0,
            "text": bad,
            "cos_raw": 0.1,
            "cos_translated": 0.2,
            "rank": 2,
            "nearest_other": "x",
            "flagged": True,
        },
        {
            "class": "Laysan Albatross",
            "class_index": 1,
            "text": good,
            "cos_raw": 0.3,
            "cos_translated": 0.6,
            "rank": 1,
            "nearest_other": "y",
            "flagged": False,
        },
    ]
    folder = default_cache_root() / "jobs" / f"judge-{dset.path.name}"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"kind": "judge", "started": clock.time()}))
    events = [{"event": "result", "descriptions": 2, "flagged": 1, "records": records}, {"event": "end", "exit_code": 0}]
    (folder / "events.jsonl").write_text("".join(json.dumps({"time": clock.time(), **e}) + "\n" for e in events))
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    app = _open("descriptions")
    assert any("2 lines judged, 1 flagged" in c.value for c in app.caption)
    shown = next(d.value for d in app.dataframe if "cos_translated" in d.value)
    assert list(shown.text) == [bad]  # only the flagged line, by default
    _by_label(app.toggle, "Only flagged").set_value(False).run()
    shown = next(d.value for d in app.dataframe if "cos_translated" in d.value)
    assert list(shown.text) == [bad, good]  # sorted by translated cosine, lowest first
    _by_label(app.button, "Remove the 1 flagged line").click().run()
    assert bad not in dset.lines(0) and bad in dset.record(0)["generated"]  # an edit: the generated text is kept
    _by_label(app.button, "Restore them (1 line)").click().run()
    assert bad in dset.lines(0)

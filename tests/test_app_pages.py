"""The Descriptions, Train and Results pages, driven by AppTest with the offline sources."""

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_jobs import JobRegistry
from fewshot_core.progress import check_cancel
from fewshot_core.settings import LabSettings, save_settings

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def fresh_registry():
    st.cache_resource.clear()  # no job leaks from one test to the next
    yield
    st.cache_resource.clear()


def _open(page: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page(f"pages/{page}.py").run()
    assert not app.exception, app.exception
    return app


def _by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


def _wait(app: AppTest, done, timeout: float = 240) -> AppTest:
    """Re-run the page until ``done(app)`` (the job runs in a background thread)."""
    end = time.time() + timeout
    while time.time() < end:
        app.run()
        assert not app.exception, app.exception
        if done(app):
            return app
        time.sleep(1)
    raise AssertionError(f"timed out; errors: {[e.value for e in app.error]}")


def test_job_registry_runs_one_job_per_name():
    registry = JobRegistry()
    release = []

    def work(on_progress, should_cancel):
        while not release:
            check_cancel(should_cancel, "work")
            time.sleep(0.01)
        on_progress(1, 1, "done")
        return 42

    first, started = registry.start("train", work)
    second, started_again = registry.start("train", work)
    assert started and not started_again and second is first  # a second click joins the first job
    release.append(1)
    for _ in range(200):
        if not first.running:
            break
        time.sleep(0.01)
    assert first.status == "finished" and first.result == 42 and first.fraction == 1.0
    third, _ = registry.start("train", lambda p, c: check_cancel(lambda: True, "work"))
    time.sleep(0.2)
    assert third.status == "cancelled"


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


def test_train_then_results_on_synthetic_features():
    save_settings(LabSettings(seeds=1))
    app = _open("train")
    _by_label(app.radio, "Features").set_value("synthetic (CUB-sized, no download)").run()
    _by_label(app.multiselect, "Shots per class").set_value([1]).run()
    _by_label(app.multiselect, "Texts per class (0 = image only)").set_value([0, 2]).run()
    _by_label(app.selectbox, "Q-Former size").set_value("tiny").run()
    _by_label(app.number_input, "Q-Former epochs").set_value(1).run()
    _by_label(app.button, "Train").click().run()
    app = _wait(app, lambda a: any("Done:" in s.value for s in a.success))
    assert "zero-shot CLIP" in app.code[0].value
    results = _open("results")
    chart = results.get("plotly_chart")[0]
    assert "image only" in chart.proto.spec and "Figure 4" in chart.proto.spec
    assert len(results.dataframe) >= 3  # Table 1, confusions, history
    assert len(results.get("plotly_chart")) == 3  # Figure 4, zero vs few, worst classes
    _by_label(results.multiselect, "Compare runs").set_value([results.multiselect[0].options[0]]).run()
    assert len(results.get("plotly_chart")) == 4 and not results.exception


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
    _by_label(app.multiselect, "Shots per class").set_value([1]).run()
    _by_label(app.multiselect, "Texts per class (0 = image only)").set_value([0, 1]).run()
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
    assert not app.exception
    assert any("Could not download" in e.value and "local checkpoint" in e.value for e in app.error)


def _hand_made_run(units: list[str]) -> None:
    """A train-split run folder of 2 shot counts x 2 seeds with every translation, holding only ``units``."""
    import numpy as np

    from fewshot_core.runs import RunFolder
    from fewshot_core.storage import default_cache_root, write_json

    run = RunFolder(default_cache_root() / "runs" / "synthetic-handmade")
    config = {"dataset": "synthetic", "key": "k", "created": "2026-01-01T00:00:00", "qformer_images_per_class": 26}
    config |= {"features": {"model": "ViT-B-32", "weights_tag": "openai"}, "sweep": {"shots": [1, 4], "seeds": [0, 1], "protocol": "train-split"}}
    run.start(config)
    labels = np.repeat(np.arange(3), 4)
    write_json(run.path / "test_index.json", {"class_names": ["ant", "bee", "cat"], "labels": labels.tolist(), "paths": None})
    rng = np.random.default_rng(0)

    def row(method, translation, shots, texts, seed, acc):
        protocol = "train-split" if method == "adapter" else ""
        return {"dataset": "synthetic", "method": method, "protocol": protocol, "shots": shots, "texts": texts, "seed": seed} | {
            "val_acc": acc,
            "test_acc": acc,
            "chosen": "{}",
            "translation": translation,
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
    table = app.dataframe[0].value
    assert list(table.shots) == [1] and table["+ raw text gain [95% CI]"].iloc[0] == "+5.00 [+5.00, +5.00]*"
    assert table["+ Q-Former (texts)"].iloc[0] == "57.50 ± 0.50 (5)" and table["+ Q-Former gain [95% CI]"].iloc[0] == "+7.00 [+7.00, +7.00]*"
    assert any("Q-Former trained on 26 labelled images per class (train-split protocol)" in c.value for c in app.caption)
    spec = app.get("plotly_chart")[0].proto.spec
    assert "image + mean-shift text" in spec and "train-split protocol" in spec
    assert len(app.get("plotly_chart")) == 3  # Figure 4, zero vs few, worst classes of the val-selected raw-text adapter


def test_results_page_when_only_zero_shot_is_done(translation_column):
    _hand_made_run(["zeroshot"])
    app = _open("results")
    assert any("Partial run: 1 of 5 units done" in i.value for i in app.info)
    assert any("No few-shot results yet. Zero-shot CLIP: 40.00%" in i.value for i in app.info)
    assert "zero-shot CLIP 40.0%" in app.get("plotly_chart")[0].proto.spec
    assert len(app.get("plotly_chart")) == 3  # Figure 4 (the zero-shot line), zero vs few, zero-shot per class

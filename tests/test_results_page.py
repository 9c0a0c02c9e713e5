"""The Results page, driven by AppTest on hand-made run folders: the headline "Does text help?", the run opened
first, run states and names, downloads (one zip per run), the compare view, the top confusion's gallery, the
glossary; and the Train page's Q-Former loss chart."""

import json

import numpy as np
import pytest
import streamlit as st
from PIL import Image

from fewshot_core.report import table1, table_verdict
from fewshot_core.runs import RunFolder
from fewshot_core.storage import default_cache_root, write_json

from .apppage import open_page

LABELS = np.repeat(np.arange(3), 4)  # 3 classes x 4 test images
# every classifier: ant images 0-2 taken for bee, cat image 8 for ant -> the top confusion is ant -> bee (3 per seed)
PREDICTIONS = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 2, 2, 2])


@pytest.fixture(autouse=True)
def fresh_registry():
    st.cache_resource.clear()
    st.cache_data.clear()  # each test's runs are read afresh
    yield
    st.cache_resource.clear()


def _make_run(name: str, units: list[str], created: str, outcome: dict | None = None, paths: list[str] | None = None, **config) -> RunFolder:
    """A train-split run folder of 2 shot counts (1, 4) x 2 seeds with every translation, holding only ``units``.

    Per seed s: image only 50 + s %, raw / mean-shift / Q-Former 55 / 56 / 57 + s % (5 texts), linear probe 45 %.
    """
    run = RunFolder(default_cache_root() / "runs" / name)
    base = {"dataset": "synthetic", "key": name, "created": created, "qformer_images_per_class": 26}
    base |= {"features": {"model": "ViT-B-32", "weights_tag": "openai"}, "sweep": {"shots": [1, 4], "seeds": [0, 1], "protocol": "train-split"}}
    run.start(base | config)
    write_json(run.path / "test_index.json", {"class_names": ["ant", "bee", "cat"], "labels": LABELS.tolist(), "paths": paths})

    def row(method, translation, shots, texts, seed, acc):
        head = "zeroshot" if method == "adapter" else ""
        protocol = "train-split" if method == "adapter" else ""
        return {"dataset": "synthetic", "method": method, "protocol": protocol, "shots": shots, "texts": texts, "seed": seed} | {
            "val_acc": acc,
            "test_acc": acc,
            "chosen": "{}",
            "translation": translation,
            "head": head,
        }

    for unit in units:
        if unit == "zeroshot":
            run.save_unit(unit, [row("zeroshot", "", 0, 0, 0, 0.4)], predictions={"zeroshot": PREDICTIONS})
            continue
        k, s = int(unit[:2]), int(unit[3:])
        rows = [row("adapter", "none", k, 0, s, 0.5 + 0.01 * s), row("linear-probe", "", k, 0, s, 0.45)]
        rows += [row("adapter", tr, k, 5, s, 0.55 + 0.01 * i + 0.01 * s) for i, tr in enumerate(("raw", "mean-shift", "qformer"))]
        keys = ["adapter-0", "adapter-raw-5", "adapter-mean-shift-5", "adapter-qformer-5", "linear-probe"]
        run.save_unit(unit, rows, predictions={key: PREDICTIONS for key in keys})
    if outcome is not None:
        write_json(run.path / "outcome.json", outcome)
    return run


COMPLETE = ["zeroshot", "01-0", "01-1", "04-0", "04-1"]


def _open(page: str = "results"):
    app = open_page(page)
    assert not app.exception, app.exception
    return app


def _run_box(app):
    return next(s for s in app.selectbox if s.label == "Run")


def test_the_headline_panel_answers_does_text_help_above_figure_4():
    run = _make_run("complete", COMPLETE, "2026-01-01T10:00:00", {"status": "finished"})
    app = _open()
    headings = [h.value for h in app.subheader]
    assert headings[:3] == ["Does text help?", "Figure 4", "Table 1"]
    verdict = table_verdict(table1(run.results()))
    # every translation helped at both shot counts, and beat the strongest baseline (image only) too
    assert verdict.startswith("Text helps here: every translation at every shot count beats image only") and "also beats the strongest" in verdict
    assert any(m.value.replace("\\", "") == f"**{verdict}**" for m in app.markdown)  # the verdict in plain words (markdown-escaped)
    gains = app.table[0].value
    assert len(gains) == 6 and set(gains.translation) == {"raw", "mean-shift", "pooled Q-Former"}  # 2 shot counts x 3 translations
    q = gains[(gains.shots == 4) & (gains.translation == "pooled Q-Former")].iloc[0]
    assert q["gain over image only [95% CI]"] == "+7.00 [+7.00, +7.00]*" and q["strongest baseline"] == "image only (50.5 %)"
    assert q["gain over the strongest baseline [95% CI]"] == "+7.00 [+7.00, +7.00]*"  # image only is the strongest here
    charts = app.get("plotly_chart")
    assert "over the strongest baseline" in charts[0].proto.spec and "Figure 4" in charts[1].proto.spec
    assert not any("Partial run" in i.value for i in app.info)  # a complete run says nothing about being partial


def test_results_opens_the_latest_complete_run_not_a_newer_partial_one():
    complete = _make_run("complete", COMPLETE, "2026-01-01T10:00:00", {"status": "finished"})
    partial = _make_run("partial", ["zeroshot", "01-0", "04-0"], "2026-02-01T10:00:00", {"status": "cancelled"})
    failed = _make_run("failed", ["zeroshot"], "2026-03-01T10:00:00", {"status": "failed", "message": "2 classes have no descriptions: ant, bee"})
    app = _open()
    box = _run_box(app)
    assert box.value == str(complete.path)
    assert box.options == [
        "synthetic · 1-4 shots · train-split · 2026-03-01 10:00 · failed: no few-shot results (2 classes have no descriptions: ant, bee)",
        "synthetic · 1-4 shots · train-split · 2026-02-01 10:00 · cancelled: 1 of 2 seeds done",
        "synthetic · 1-4 shots · train-split · 2026-01-01 10:00 · complete",
    ]
    history = app.table[-1].value
    assert [state.replace("\\", "") for state in history.state] == [  # shown Markdown-escaped
        "failed: no few-shot results (2 classes have no descriptions: ant, bee)",
        "cancelled: 1 of 2 seeds done",
        "complete",
    ]
    box.set_value(str(partial.path)).run()
    assert any("Partial run: 3 of 5 units done (zero-shot, then one per shot count and seed); it was cancelled" in i.value for i in app.info)
    assert "1 of 2 seeds done" in app.get("plotly_chart")[1].proto.spec  # Figure 4's subtitle: how many seeds its points have
    _run_box(app).set_value(str(failed.path)).run()
    assert any("This run failed (2 classes have no descriptions: ant, bee)" in w.value.replace("\\", "") for w in app.warning)


def test_downloads_offer_the_report_files_and_one_zip(monkeypatch):
    from fewshot_core import publish

    _make_run("complete", COMPLETE, "2026-01-01T10:00:00")
    monkeypatch.setattr(publish, "find_browser", lambda: "/usr/bin/true")
    labels = [b.proto.label for b in _open().get("download_button")]
    assert sorted(labels[:7]) == ["figure4.html", "figure4.png", "figure4.svg", "gains.png", "summary.json", "table1.csv", "table1.tex"]
    assert "Everything as one zip (complete.zip: config, results, figures, tables)" in labels
    monkeypatch.setattr(publish, "find_browser", lambda: None)
    app = _open()
    labels = [b.proto.label for b in app.get("download_button")]
    assert "figure4.png" not in labels and any("zip" in label for label in labels)
    assert any("PNG and SVG are not offered here: kaleido needs Chrome or Chromium and none was found" in c.value for c in app.caption)


def test_compare_runs_names_the_run_it_cannot_draw_and_lists_the_settings_that_differ():
    _make_run("complete", COMPLETE, "2026-01-01T10:00:00", {"status": "finished"})
    _make_run("failed", ["zeroshot"], "2026-03-01T10:00:00", {"status": "failed", "message": "no descriptions"}, qformer_images_per_class=12)
    app = _open()
    compare = next(m for m in app.multiselect if m.label == "Compare runs")
    compare.set_value(list(compare.options)).run()
    assert any(
        "Not drawn, no few-shot results to draw: synthetic · 1-4 shots · train-split · 2026-03-01 10:00 (failed: no few-shot results "
        "(no descriptions))" in text
        for text in (i.value.replace("\\", "") for i in app.info)
    )
    diff = app.dataframe[-1].value
    assert diff.to_dict("records") == [
        {
            "setting": "qformer_images_per_class",
            "synthetic · 1-4 shots · train-split · 2026-03-01 10:00": "12",
            "synthetic · 1-4 shots · train-split · 2026-01-01 10:00": "26",
        }
    ]


def test_the_gallery_shows_the_top_confusions_images(tmp_path):
    paths = []
    for i in range(len(LABELS)):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(paths[-1])
    _make_run("complete", COMPLETE, "2026-01-01T10:00:00", {"status": "finished"}, paths=paths)
    app = _open()
    assert any(m.value == "##### Top confusion: ant taken for bee" for m in app.markdown)
    images = app.get("image")
    captions = [img.proto.imgs[0].caption for img in images]
    assert captions == ["ant → bee"] * 3  # images 0, 1 and 2: the ant images taken for a bee (both seeds agree)
    assert any(m.value == "##### Most frequent confusions" for m in app.markdown)


def test_the_glossary_is_on_every_page():
    for page in ("data", "train", "results"):
        app = _open(page)
        assert any(e.label == "Glossary" for e in app.sidebar.expander), page
        glossary = next(e for e in app.sidebar.expander if e.label == "Glossary")
        text = glossary.markdown[0].value
        assert all(f"**{term}**" in text for term in ("support protocol", "train-split protocol", "oracle", "executor", "Holm", "label budget"))


def test_train_sliders_list_the_grid_values_they_include():
    app = _open("train")
    captions = [c.value for c in app.caption]
    assert "Trains 1, 2, 3, 4, 5, 10, 15 (every grid value from 1 to 15; the grid: 1, 2, 3, 4, 5, 10, 15)." in captions
    shots = next(s for s in app.select_slider if s.label == "Shots per class")
    shots.set_range(2, 5).run()
    assert "Trains 2, 3, 4, 5 (every grid value from 2 to 5; the grid: 1, 2, 3, 4, 5, 10, 15)." in [c.value for c in app.caption]


def test_train_page_draws_one_loss_line_per_qformer_training():
    folder = default_cache_root() / "jobs" / "train"
    folder.mkdir(parents=True)
    spec = {"command": "reproduce", "dataset": {"name": "synthetic"}}
    spec["sweep"] = {"shots": [1, 4], "seeds": [0], "qformer_train": {"loss": "infonce", "epochs": 2}}
    (folder / "job.json").write_text(json.dumps({"kind": "train", "spec": spec, "started": 1.0}))
    epochs = [(1, 0.9, 3), (2, 0.7, 6), (1, 0.8, 5), (2, 0.6, 10)]  # two trainings of 2 epochs
    events = [
        {"event": "progress", "step": "qformer", "done": d, "total": 2, "message": "", "metrics": {"qformer_loss": x, "qformer_step": s}}
        for d, x, s in epochs
    ]
    events.append({"event": "end", "exit_code": 0})
    (folder / "events.jsonl").write_text("".join(json.dumps({"time": 1.0, **e}) + "\n" for e in events))
    spec = json.loads(next(c for c in _open("train").get("plotly_chart") if "qformer" in c.proto.id.lower() or "Q-Former" in c.proto.spec).proto.spec)
    assert [t["name"] for t in spec["data"]] == ["training 1", "training 2"] and spec["data"][1]["x"] == [5, 10]
    assert spec["layout"]["xaxis"]["title"]["text"] == "optimizer step"
    assert spec["layout"]["yaxis"]["title"]["text"] == "pooled Q-Former infonce loss (mean over an epoch)"

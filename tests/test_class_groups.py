"""Seen vs held-out accuracy from a run folder's stored predictions, checked by hand."""

import json

import numpy as np
import pytest

from fewshot_core.demo.class_groups import demo_held_out, format_group_accuracy, group_accuracy
from fewshot_core.demo.clip import DEMO_WEIGHTS
from fewshot_core.feature_status import weights_identity
from fewshot_core.runs import ResultRow, RunFolder


def _run(tmp_path):
    """3 classes, 6 test images (2 each); class 2 is held out. Two seeds of 1 shot."""
    run = RunFolder(tmp_path / "run")
    labels = np.array([0, 0, 1, 1, 2, 2])
    (run.path).mkdir(parents=True)
    (run.path / "test_index.json").write_text(json.dumps({"class_names": ["a", "b", "c"], "labels": labels.tolist(), "paths": None}))
    run.save_unit("zeroshot", [ResultRow("demo", "zeroshot", 0, 0, 0, 0.5, 0.5).record()], predictions={"zeroshot": np.array([0, 1, 1, 1, 0, 0])})
    for seed, image_only in ((0, [0, 0, 1, 1, 2, 0]), (1, [0, 0, 1, 0, 2, 2])):
        rows = [ResultRow("demo", "adapter", 1, 0, seed, 0.5, 0.5, "support", translation="none", head="zeroshot").record()]
        run.save_unit(f"01-{seed}", rows, predictions={"adapter-0": np.array(image_only)})
    return run


def test_group_accuracy_by_hand(tmp_path):
    run = _run(tmp_path)
    table = group_accuracy(run.path, run.results(), np.array([False, False, True])).set_index(["shots", "setting"])
    zs = table.loc[(0, "zeroshot")]  # right: images 0, 2, 3 -> seen 3/4, held-out 0/2
    assert zs["seen"] == pytest.approx(75.0) and zs["held_out"] == pytest.approx(0.0) and zs["all"] == pytest.approx(50.0)
    io = table.loc[(1, "image_only")]  # seen: seed 0 4/4, seed 1 3/4 -> 87.5; held-out: 1/2 and 2/2 -> 75
    assert io["seen"] == pytest.approx(87.5) and io["held_out"] == pytest.approx(75.0) and io["all"] == pytest.approx(100 * 10 / 12)
    assert list(table.index) == [(0, "zeroshot"), (1, "image_only")]  # no translation ran: no row for one
    text = format_group_accuracy(table.reset_index())
    assert " 87.50 /  75.00" in text and "seen / held-out" in text


def test_group_accuracy_sample_sd_over_seeds_by_hand(tmp_path):
    run = _run(tmp_path)
    io = group_accuracy(run.path, run.results(), np.array([False, False, True])).set_index(["shots", "setting"]).loc[(1, "image_only")]
    assert io["seen_std"] == pytest.approx(12.5 * 2**0.5)  # seen: 100 % and 75 % -> sample SD 17.68
    assert io["held_out_std"] == pytest.approx(25 * 2**0.5)  # held-out: 50 % and 100 % -> 35.36


def test_figure4_by_group_draws_each_group_in_its_panel(tmp_path):
    from fewshot_core.plots import group_figure

    run = _run(tmp_path)
    fig = group_figure(group_accuracy(run.path, run.results(), np.array([False, False, True])), (2, 1))
    seen, held = (t for t in fig.data if t.name.startswith("image only"))
    assert (seen.xaxis, list(seen.y), seen.showlegend) == ("x", [87.5], True) and (held.xaxis, list(held.y), held.showlegend) == ("x2", [75.0], False)
    assert sorted(shape.y0 for shape in fig.layout.shapes) == [0.0, 75.0]  # zero-shot: held-out 0 %, seen 75 %
    assert [a.text for a in fig.layout.annotations][:2] == ["seen classes (2)", "held-out classes (1)"]


def test_demo_held_out_only_for_the_committed_demo_clip():
    names = [f"class {i}" for i in range(48)]
    demo = {"dataset": "demo", "features": {"weights_sha256": weights_identity(str(DEMO_WEIGHTS))["weights_sha256"]}}
    record = json.loads(DEMO_WEIGHTS.with_suffix(".json").read_text())
    real = [*record["held_out_classes"][:3], "not a demo class"]
    assert demo_held_out(demo, real).tolist() == [True, True, True, False]
    assert demo_held_out({**demo, "dataset": "cub"}, names) is None
    assert demo_held_out({**demo, "features": {"weights_sha256": "0" * 64}}, names) is None  # other weights saw other classes

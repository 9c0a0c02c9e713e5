"""The offline demo end to end with the committed demo CLIP: zero-shot, Q-Former, the whole pipeline."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from fewshot_core.assemble import build_bundle
from fewshot_core.demo.class_groups import demo_held_out, group_accuracy
from fewshot_core.demo.clip import DEMO_WEIGHTS, DemoClipConfig, demo_backbone_config, demo_report, held_out_classes
from fewshot_core.plots import figure4
from fewshot_core.qformer import QFormerTrainConfig, load_qformer_config
from fewshot_core.report import table1
from fewshot_core.sweep import SweepConfig, run_sweep

from .alignment import held_out_alignment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def demo_bundle(demo_cache):
    return build_bundle("demo", demo_cache / "demo-data", demo_backbone_config("cpu"), None, demo_cache)


@pytest.fixture(scope="module")
def report(demo_bundle, demo_cache):
    """The committed demo CLIP's figures, from the features the bundle cached."""
    return demo_report("cpu", DEMO_WEIGHTS, demo_cache / "demo-data", demo_cache)


def _seen_held(fig: dict) -> str:
    return f"{fig['all']:.1%} (seen classes {fig['seen']:.1%}, held-out classes {fig['held_out']:.1%})"


def test_committed_weights_are_small_and_described():
    assert DEMO_WEIGHTS.is_file() and DEMO_WEIGHTS.stat().st_size <= 16 * 2**20
    record = json.loads(DEMO_WEIGHTS.with_suffix(".json").read_text())
    assert record["config"]["seed"] == 0 and len(record["held_out_classes"]) == 24 and not record.get("stopped_early")
    assert record["config"] == {**record["config"], "steps": record["steps_done"]}
    # `demo train-clip` with no options re-creates them: the recorded config is DemoClipConfig's defaults
    assert record["config"] == asdict(DemoClipConfig())
    assert record["held_out_classes"] == [" ".join(k) for k in held_out_classes(DemoClipConfig())]


def test_committed_weights_are_the_candidate_the_validation_rule_picks():
    record = json.loads(DEMO_WEIGHTS.with_suffix(".json").read_text())
    chosen = record["chosen_on_validation"]
    table, rule = chosen["candidates"], chosen["rule"]
    assert "validation" in rule and "test not used" in rule and len(table) >= 2
    # the rule as recorded: meet every target by >= 2 points; prefer 15-shot >= 1-shot + 8 points; lowest 1-shot
    ok = {n: r for n, r in table.items() if r["margin"] >= 0.02}
    roomy = {n: r for n, r in ok.items() if r["adapter_15_shot"] - r["adapter_1_shot"] >= 0.08} or ok
    assert chosen["chosen"] == min(roomy, key=lambda n: (roomy[n]["adapter_1_shot"], roomy[n]["steps"]))
    assert table[chosen["chosen"]]["steps"] == record["config"]["steps"]
    assert chosen["validation"]["adapter_1_shot"]["all"] == pytest.approx(table[chosen["chosen"]]["adapter_1_shot"], abs=1e-4)


def test_demo_zero_shot_is_imperfect_but_far_above_chance(report):
    zs = report["zero_shot"]
    assert 3 / 48 <= zs["all"] <= 0.70, f"zero-shot {_seen_held(zs)} is outside [6.25 %, 70 %]"
    recorded = json.loads(DEMO_WEIGHTS.with_suffix(".json").read_text())["test"]["zero_shot"]
    assert zs == pytest.approx(recorded, abs=0.01), f"zero-shot {_seen_held(zs)} differs from the recorded {_seen_held(recorded)}"


def test_demo_image_features_carry_the_classes(report):
    zs, probe = report["zero_shot"], report["probe_all_train"]
    message = f"probe on all train features {_seen_held(probe)} vs zero-shot {_seen_held(zs)}"
    assert probe["all"] >= 0.85 and probe["all"] >= zs["all"] + 0.15, message


def test_demo_few_shot_beats_zero_shot(report):
    zs, adapter = report["zero_shot"], report["adapter_15_shot"]
    message = f"15-shot image-only adapter (default settings) {_seen_held(adapter)} vs zero-shot {_seen_held(zs)}"
    assert adapter["all"] >= zs["all"] + 0.10, message
    assert adapter["held_out"] >= zs["held_out"] + 0.10, message


def test_demo_leaves_few_shot_headroom(report):
    """v3's point: one labelled image per class does not already saturate the demo (v2: 97.7 % at 1 shot), so
    the curve over shots rises and text has room to help at 1-4 shots (measured on CPU: 74.8 / 82.4 / 86.4 %)."""
    zs, one, four, fifteen = (report[k]["all"] for k in ("zero_shot", "adapter_1_shot", "adapter_4_shot", "adapter_15_shot"))
    message = f"image-only adapter 1/4/15 shots {one:.1%} / {four:.1%} / {fifteen:.1%}, zero-shot {zs:.1%}"
    assert zs < one <= 0.85, message
    assert one < four < fifteen and fifteen >= one + 0.08, message


def test_demo_report_command_shows_seen_and_held_out(report, demo_cache, capsys):
    from fewshot_core.cli import main

    assert main(["demo", "report", "--cache", str(demo_cache)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["weights"].endswith("demo-clip.safetensors") and "how" in out
    for key in ("zero_shot", "probe_all_train", "adapter_1_shot", "adapter_4_shot", "adapter_15_shot"):
        assert out[key] == pytest.approx(report[key]) and set(out[key]) == {"all", "seen", "held_out"}


def test_trained_qformer_maps_held_out_demo_descriptions_closer(demo_bundle):
    report = held_out_alignment(demo_bundle, load_qformer_config("tiny"), QFormerTrainConfig(epochs=30, lr=3e-3), held_out_per_class=1)
    assert report["trained"]["cosine_error"] < report["untrained"]["cosine_error"]
    assert report["trained"]["retrieval_acc"] > 3 / 48


def test_full_pipeline_on_the_demo(demo_bundle, tmp_path):
    cfg = SweepConfig(shots=[1, 2, 4], text_counts=[0, 1, 3], seeds=[0, 1], qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=20, lr=3e-3))
    results = run_sweep(demo_bundle, cfg, tmp_path / "run")
    t = table1(results)
    assert t.shots.tolist() == [1, 2, 4] and np.isfinite(t.image_only).all() and np.isfinite(t.qformer).all()
    # The adapter starts from a text classifier; 4 labelled shots must not make it worse than zero-shot.
    assert t.image_only.iloc[-1] >= t.zero_shot.iloc[0]
    fig = figure4(results, "demo")
    assert len(fig.data) >= 2 and list(fig.data[0].x) == [1, 2, 4]
    assert (t.qformer_gain_low <= t.qformer_gain).all() and t.qformer_texts.between(
        1, 3
    ).all()  # 2 seeds: intervals exist; texts: median of per-seed picks
    # Seen vs held-out classes: the committed demo CLIP's 24 held-out classes, and the groups add up to Table 1.
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    held = demo_held_out(config, demo_bundle.class_names)
    assert held is not None and held.sum() == 24
    groups = group_accuracy(tmp_path / "run", results, held).set_index(["shots", "setting"])
    assert groups.loc[(1, "image_only"), "all"] == pytest.approx(t.image_only.iloc[0], abs=0.01)
    assert groups.loc[(0, "zeroshot"), "all"] == pytest.approx(t.zero_shot.iloc[0], abs=0.01)

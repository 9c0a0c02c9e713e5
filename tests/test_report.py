"""Table 1 per translation, paired gains with t-intervals, the text and JSON forms: on hand-made results."""

import json

import numpy as np
import pandas as pd
import pytest

from fewshot_core.report import format_table1, paired_gain, summary_json, t_interval, table1, table1_display, text_helped, with_translation

COLUMNS = ["dataset", "method", "protocol", "shots", "texts", "seed", "val_acc", "test_acc", "chosen", "translation"]


def results(rows, translation=True):
    """A results table from (method, translation, shots, texts, seed, val, test) tuples."""
    df = pd.DataFrame(
        [
            {"dataset": "x", "method": m, "protocol": "support" if m == "adapter" else "", "shots": k, "texts": t, "seed": s}
            | {"val_acc": v, "test_acc": a, "chosen": "{}", "translation": tr}
            for m, tr, k, t, s, v, a in rows
        ],
        columns=COLUMNS,
    )
    return df if translation else df.drop(columns="translation")


# 1 shot, 3 seeds. Image only 50/60/70 %. raw (2 texts): +3/+4/+5 points. qformer: 4 texts wins on validation
# (+2/+4/+2 points on test), 8 texts wins on test (the oracle). mean-shift: 1 text only, -1/0/+1.
THREE_SEEDS = [
    *[("adapter", "none", 1, 0, s, 0.5, a) for s, a in enumerate((0.50, 0.60, 0.70))],
    *[("adapter", "raw", 1, 2, s, 0.6, a) for s, a in enumerate((0.53, 0.64, 0.75))],
    *[("adapter", "qformer", 1, 4, s, 0.7, a) for s, a in enumerate((0.52, 0.64, 0.72))],
    *[("adapter", "qformer", 1, 8, s, 0.6, a) for s, a in enumerate((0.60, 0.70, 0.80))],
    *[("adapter", "mean-shift", 1, 1, s, 0.6, a) for s, a in enumerate((0.49, 0.60, 0.71))],
    *[("linear-probe", "", 1, 0, s, 0.4, a) for s, a in enumerate((0.40, 0.42, 0.44))],
    ("zeroshot", "", 0, 0, 0, 0.3, 0.31),
]


def test_t_interval_by_hand():
    mean, low, high = t_interval([2.0, 4.0, 2.0])
    # mean 8/3, sd sqrt(4/3), se 2/3, t(0.975, 2 df) = 4.302653
    assert (
        mean == pytest.approx(8 / 3)
        and low == pytest.approx(8 / 3 - 4.302653 * 2 / 3, abs=1e-5)
        and high == pytest.approx(8 / 3 + 2.868435, abs=1e-5)
    )
    assert np.isnan(t_interval([5.0])[1]) and np.isnan(t_interval([5.0])[2]) and t_interval([5.0])[0] == 5.0  # one seed: no interval


def test_table1_three_seeds_by_hand():
    t = table1(results(THREE_SEEDS)).set_index("shots")
    r = t.loc[1]
    assert r.seeds == 3 and r.protocol == "support"
    assert r.image_only == pytest.approx(60.0) and r.image_only_std == pytest.approx(np.std([50, 60, 70]))
    assert r.raw_texts == 2 and r.raw == pytest.approx(64.0) and r.raw_gain == pytest.approx(4.0)
    assert r.raw_gain_low == pytest.approx(4 - 4.302653 / np.sqrt(3), abs=1e-4) and r.raw_gain_high == pytest.approx(4 + 2.484138, abs=1e-4)
    assert r.qformer_texts == 4 and r.qformer_gain == pytest.approx(8 / 3)  # chosen on validation, not test
    assert r.qformer_gain_low == pytest.approx(-0.201768, abs=1e-4) and r.qformer_gain_high == pytest.approx(5.535102, abs=1e-4)
    assert r.qformer_oracle_texts == 8 and r.qformer_oracle == pytest.approx(70.0)
    assert r.mean_shift_texts == 1 and r.mean_shift_gain == pytest.approx(0.0) and r.mean_shift_gain_low < 0 < r.mean_shift_gain_high
    assert r.linear_probe == pytest.approx(42.0) and r.zero_shot == pytest.approx(31.0)
    table = t.reset_index()
    # qformer's mean gain is positive, but its interval reaches below 0: text did not (yet) demonstrably help
    assert text_helped(table) == {1: False} and text_helped(table, translation="raw") == {1: True}
    assert text_helped(table, translation="mean-shift") == {1: False}


def test_gains_pair_by_seed():
    # seed 1 is much harder for both: unpaired std is huge, the paired difference is exactly +2 each time
    rows = [("adapter", "none", 2, 0, s, 0.5, a) for s, a in enumerate((0.80, 0.40, 0.60))]
    rows += [("adapter", "raw", 2, 3, s, 0.6, a + 0.02) for s, a in enumerate((0.80, 0.40, 0.60))]
    g = paired_gain(results(rows), 2, "raw", 3)
    assert g.seeds == 3 and g.mean == pytest.approx(2.0) and g.low == pytest.approx(2.0) and g.high == pytest.approx(2.0)


def test_interval_covers_the_true_gain_about_95_percent_of_the_time():
    """400 simulated 5-seed experiments with a known paired gain of +3 points and seed-to-seed noise."""
    rng = np.random.default_rng(0)
    true_gain, covered, helped = 3.0, 0, 0
    for _ in range(400):
        seeds = range(5)
        base = 0.6 + rng.normal(0, 0.05, 5)  # support sets differ a lot between seeds
        text = base + true_gain / 100 + rng.normal(0, 0.02, 5)  # paired noise of the gain: 2 points
        rows = [("adapter", "none", 1, 0, s, 0.5, base[s]) for s in seeds] + [("adapter", "qformer", 1, 5, s, 0.6, text[s]) for s in seeds]
        g = paired_gain(results(rows), 1, "qformer", 5)  # what table1 reports as qformer_gain(_low, _high)
        covered += g.low <= true_gain <= g.high
        helped += g.low > 0
    assert 0.92 <= covered / 400 <= 0.98
    assert helped > 200  # the effect is found more often than not (power), yet never claimed without an interval


def test_one_seed_has_no_interval():
    rows = [("adapter", "none", 1, 0, 0, 0.5, 0.5), ("adapter", "qformer", 1, 2, 0, 0.6, 0.7)]
    t = table1(results(rows))
    assert t.qformer_gain.iloc[0] == pytest.approx(20.0) and t.qformer_gain_low.isna().all() and t.qformer_gain_high.isna().all()
    assert text_helped(t) == {1: False}
    assert "1 seed: no interval" in format_table1(t)
    assert summary_json(results(rows), {"dataset": "x", "sweep": {"seeds": [0]}})["rows"][0]["translations"]["qformer"]["gain_ci95"] == [None, None]


def test_tables_without_a_translation_column_read_as_qformer():
    old = results(THREE_SEEDS, translation=False)
    old = old[old.method != "adapter"].pipe(lambda df: pd.concat([df, results(THREE_SEEDS[:3] + THREE_SEEDS[6:12], translation=False)]))
    assert set(with_translation(old).translation) == {"none", "qformer", ""}
    t = table1(old)
    assert "raw" not in t and t.qformer_texts.iloc[0] == 4 and t.qformer_gain.iloc[0] == pytest.approx(8 / 3)
    assert list(with_translation(results([("adapter", "", 1, 3, 0, 0.5, 0.5)], translation=True)).translation) == ["qformer"]  # empty = old


def test_partial_and_zero_shot_only_results_do_not_crash():
    only_zs = results([("zeroshot", "", 0, 0, 0, 0.3, 0.31)])
    t = table1(only_zs)
    assert t.shots.tolist() == [0] and t.zero_shot.iloc[0] == pytest.approx(31.0)
    assert text_helped(t) == {} and "zero-shot CLIP: 31.00" in format_table1(t) and "no few-shot results yet" in format_table1(t)
    assert summary_json(only_zs, {"dataset": "x", "sweep": {"protocol": "support", "seeds": [0, 1]}})["rows"] == []
    empty = table1(results([]))
    assert empty.empty and text_helped(empty) == {} and format_table1(empty) == "no few-shot results yet"
    no_zs = table1(results(THREE_SEEDS[:6]))
    assert "zero_shot" not in no_zs and "zero-shot" not in format_table1(no_zs)
    baselines_only = table1(results([("linear-probe", "", 4, 0, 0, 0.4, 0.45)]))
    assert baselines_only.linear_probe.iloc[0] == pytest.approx(45.0) and np.isnan(baselines_only.image_only.iloc[0])


def test_format_table1_shows_each_translation_beside_image_only():
    text = format_table1(table1(results(THREE_SEEDS)))
    header, accuracy, gains = text.splitlines()[:3]
    assert header.split("  ")[0].strip() == "shots" and header.index("image only") < header.index("+ raw text") < header.index("+ Q-Former (texts)")
    assert "64.00 ± 8.98 (2)" in accuracy and "62.67 ± 8.22 (4)" in accuracy and "70.00 ± 8.16 (8)" in accuracy  # oracle
    assert "+4.00 [+1.52, +6.48]*" in gains and "+2.67 [-0.20, +5.54]" in gains and "+2.67 [-0.20, +5.54]*" not in gains
    assert "support protocol" in text and "zero-shot CLIP: 31.00" in text
    assert max(len(line) for line in text.splitlines()) <= 150
    train_split = results(THREE_SEEDS).assign(protocol=lambda d: np.where(d.method == "adapter", "train-split", ""))
    assert "Q-Former trained on 26 labelled images per class (train-split protocol)" in format_table1(
        table1(train_split), qformer_images_per_class=26
    )


def test_display_table_has_gain_columns():
    shown = table1_display(table1(results(THREE_SEEDS)))
    assert list(shown.columns)[:5] == ["shots", "seeds", "image only", "+ raw text (texts)", "+ raw text gain [95% CI]"]
    assert shown["+ Q-Former gain [95% CI]"].iloc[0] == "+2.67 [-0.20, +5.54]"


def test_summary_json_is_the_issue_object():
    config = {"dataset": "cub", "sweep": {"protocol": "support", "seeds": [0, 1, 2]}}
    summary = json.loads(json.dumps(summary_json(results(THREE_SEEDS), config, num_classes=200)))
    assert list(summary) == ["dataset", "protocol", "seeds", "num_classes", "zero_shot", "rows"]
    assert summary["dataset"] == "cub" and summary["protocol"] == "support" and summary["seeds"] == 3 and summary["num_classes"] == 200
    assert summary["zero_shot"] == pytest.approx(31.0)
    row = summary["rows"][0]
    assert row["shots"] == 1 and row["image_only"] == pytest.approx([60.0, 8.165], abs=1e-3)
    assert list(row["translations"]) == ["raw", "mean-shift", "qformer"]
    q = row["translations"]["qformer"]
    assert set(q) == {"mean", "std", "texts", "gain", "gain_ci95"} and q["texts"] == 4
    assert q["gain"] == pytest.approx(2.6667, abs=1e-4) and q["gain_ci95"] == pytest.approx([-0.2018, 5.5351], abs=1e-4)


def test_per_class_report_reads_translation_keys_and_old_ones(tmp_path):
    from fewshot_core.report import per_class_report
    from fewshot_core.runs import RunFolder
    from fewshot_core.storage import write_json

    labels = np.array([0, 0, 1, 1])
    write_json(tmp_path / "test_index.json", {"class_names": ["a", "b"], "labels": labels.tolist(), "paths": None})
    rows = [("adapter", "none", 1, 0, 0, 0.5, 0.5), ("adapter", "mean-shift", 1, 2, 0, 0.9, 0.75), ("adapter", "qformer", 1, 4, 0, 0.9, 0.25)]
    preds = {"adapter-0": np.array([0, 1, 1, 0]), "adapter-mean-shift-2": np.array([0, 0, 1, 0]), "adapter-4": np.array([1, 1, 1, 0])}
    RunFolder(tmp_path).save_unit("01-0", [], predictions=preds)  # "adapter-4": a run from before translations
    by_setting = {s: per_class_report(tmp_path, results(rows), 1, s)[0].set_index("class").accuracy for s in ("image_only", "mean-shift", "qformer")}
    assert by_setting["mean-shift"].to_dict() == {"a": 100.0, "b": 50.0} and by_setting["image_only"].to_dict() == {"a": 50.0, "b": 50.0}
    assert by_setting["qformer"].to_dict() == {"a": 0.0, "b": 50.0}

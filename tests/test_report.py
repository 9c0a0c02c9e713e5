"""Table 1 per translation, paired gains with t-intervals, the text and JSON forms: on hand-made results."""

import json

import numpy as np
import pandas as pd
import pytest

from fewshot_core.report import (
    compare_verdicts,
    format_table1,
    paired_gain,
    summary_json,
    t_interval,
    table1,
    table1_display,
    text_helped,
    verdict,
    with_translation,
)

COLUMNS = ["dataset", "method", "protocol", "shots", "texts", "seed", "val_acc", "test_acc", "chosen", "translation", "head"]


def results(rows, translation=True):
    """A results table from (method, translation, shots, texts, seed, val, test[, head[, chosen]]) tuples.

    Without a head, adapter rows start from the class-name prompts ("zeroshot")."""
    df = pd.DataFrame(
        [
            {"dataset": "x", "method": m, "protocol": "support" if m == "adapter" else "", "shots": k, "texts": t, "seed": s}
            | {
                "val_acc": v,
                "test_acc": a,
                "chosen": extra[1] if len(extra) > 1 else "{}",
                "translation": tr,
                "head": extra[0] if extra else ("zeroshot" if m == "adapter" else ""),
            }
            for m, tr, k, t, s, v, a, *extra in rows
        ],
        columns=COLUMNS,
    )
    return df if translation else df.drop(columns=["translation", "head"])


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
    assert r.seeds == 3 and r.protocol == "support" and r["head"] == "zeroshot"  # no head recorded: the class-name prompts
    assert r.image_only == pytest.approx(60.0) and r.image_only_std == pytest.approx(10.0)  # sample SD: sqrt(200 / 2), not 8.16
    assert r.raw_texts == 2 and r.raw == pytest.approx(64.0) and r.raw_std == pytest.approx(11.0) and r.raw_gain == pytest.approx(4.0)
    assert r.raw_gain_low == pytest.approx(4 - 4.302653 / np.sqrt(3), abs=1e-4) and r.raw_gain_high == pytest.approx(4 + 2.484138, abs=1e-4)
    assert r.qformer_texts == 4 and r.qformer_gain == pytest.approx(8 / 3)  # chosen on validation, not test
    assert r.qformer_texts_min == r.qformer_texts_max == 4  # every seed chose 4
    assert r.qformer_gain_low == pytest.approx(-0.201768, abs=1e-4) and r.qformer_gain_high == pytest.approx(5.535102, abs=1e-4)
    assert r.qformer_oracle_texts == 8 and r.qformer_oracle == pytest.approx(70.0)
    assert r.mean_shift_texts == 1 and r.mean_shift_gain == pytest.approx(0.0) and r.mean_shift_gain_low < 0 < r.mean_shift_gain_high
    assert r.linear_probe == pytest.approx(42.0) and r.zero_shot == pytest.approx(31.0)
    # two-sided t-tests of the per-seed differences (2 df: p = 1 - t / sqrt(t^2 + 2)): raw 3, 4, 5 (t = sqrt 48), Q-Former 2, 4, 2 (t = 4), mean-shift -1, 0, 1
    p_raw, p_qformer = 1 - np.sqrt(48 / 50), 1 - 4 / np.sqrt(18)
    assert r.raw_gain_p == pytest.approx(p_raw) and r.qformer_gain_p == pytest.approx(p_qformer) and r.mean_shift_gain_p == pytest.approx(1.0)
    # Holm over the table's 3 gain cells: 3 x 0.0202 = 0.0606, max(0.0606, 2 x 0.0572) = 0.1144, 1
    assert r.raw_gain_p_holm == pytest.approx(3 * p_raw) and r.qformer_gain_p_holm == pytest.approx(2 * p_qformer) and r.mean_shift_gain_p_holm == 1.0
    # Q-Former minus mean-shift per seed: 3, 4, 1 (t = (8/3) / sqrt(7/9)); one shot count, so Holm leaves it
    t_qm = (8 / 3) / np.sqrt(7 / 9)
    assert r.qformer_vs_mean_shift == pytest.approx(8 / 3) and r.qformer_vs_mean_shift_p_holm == pytest.approx(1 - t_qm / np.sqrt(t_qm**2 + 2))
    # image only beats the linear probe: it is the strongest baseline, and "vs strongest" is the gain
    assert r.strongest_baseline == "zeroshot_init" and r.strongest_baseline_mean == pytest.approx(60.0)
    assert r.raw_vs_strongest == pytest.approx(4.0) and r.raw_vs_strongest_p_holm == pytest.approx(3 * p_raw)
    table = t.reset_index()
    # raw's uncorrected p (0.02) would have starred it; after Holm over the table nothing is starred
    assert text_helped(table) == {1: False} and text_helped(table, translation="raw") == {1: False}
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


def test_results_of_a_version_before_translations_and_heads_are_refused():
    from fewshot_core import FewShotError

    with pytest.raises(FewShotError, match="without a translation: they come from an older version"):
        table1(results(THREE_SEEDS, translation=False))
    with pytest.raises(FewShotError, match="without a head"):
        with_translation(results([("adapter", "qformer", 1, 3, 0, 0.5, 0.5, "")]))
    assert list(with_translation(results([("linear-probe", "", 1, 0, 0, 0.5, 0.5)])).translation) == [""]  # no translation needed


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
    assert header.split("  ")[0].strip() == "shots" and header.index("image only") < header.index("+ raw text") < header.index(
        "+ pooled Q-Former text (texts)"
    )
    assert "64.00 ± 11.00 (2)" in accuracy and "62.67 ± 10.07 (4)" in accuracy and "70.00 ± 10.00 (8)" in accuracy  # sample SD; oracle
    assert "+4.00 [+1.52, +6.48]" in gains and "+4.00 [+1.52, +6.48]*" not in gains  # p 0.02 alone, 0.06 after Holm over 3 cells
    assert "+2.67 [-0.20, +5.54]" in gains and "*" not in gains
    assert "support protocol" in text and "zero-shot CLIP: 31.00" in text
    assert "mean ± sample SD (ddof 1)" in text and "* / † = Holm-adjusted p < 0.05" in text and "95% t-interval" in text
    assert "label budget: k support + ? validation labels per class" in text  # not recorded: said so, not guessed
    assert "pooled Q-Former − mean-shift, paired per seed" in text and "1 shot: +2.67 [-1.13, +6.46]  (Holm p 0.094)" in text
    assert "verdict: Text does not help here: no translation beats image only at any shot count after Holm correction" in text
    assert max(len(line) for line in text.splitlines()) <= 150
    train_split = results(THREE_SEEDS).assign(protocol=lambda d: np.where(d.method == "adapter", "train-split", ""))
    assert "pooled Q-Former trained on 26 labelled images per class (train-split protocol)" in format_table1(
        table1(train_split), qformer_images_per_class=26
    )


def test_display_table_has_gain_columns():
    shown = table1_display(table1(results(THREE_SEEDS)), val_per_class=4)
    assert list(shown.columns)[:5] == ["shots", "seeds", "image only", "+ raw text (texts)", "+ raw text gain [95% CI]"]
    assert shown["+ pooled Q-Former text gain [95% CI]"].iloc[0] == "+2.67 [-0.20, +5.54]"
    assert shown["+ pooled Q-Former text vs strongest [95% CI]"].iloc[0] == "+2.67 [-0.20, +5.54]"  # image only is the strongest here
    assert shown["strongest baseline"].iloc[0] == "image only" and shown["linear probe"].iloc[0] == "42.00 ± 2.00"
    assert shown["pooled Q-Former − mean-shift [95% CI]"].iloc[0] == "+2.67 [-1.13, +6.46]"
    assert shown["label budget per class"].iloc[0] == "1 support + 4 validation"


def test_summary_json_is_the_issue_object():
    config = {"dataset": "cub", "sweep": {"protocol": "support", "seeds": [0, 1, 2], "val_per_class": 4}}
    summary = json.loads(json.dumps(summary_json(results(THREE_SEEDS), config, num_classes=200)))
    assert list(summary)[:6] == ["dataset", "protocol", "seeds", "num_classes", "zero_shot", "rows"]  # today's keys first
    assert list(summary)[6:] == [
        "multiple_comparisons",
        "label_budget",
        "descriptions_pruned_with_labels_per_class",
        "qformer_vs_mean_shift",
        "verdict",
    ]
    assert summary["multiple_comparisons"] == "holm" and summary["label_budget"] == "k support + 4 validation labels per class"
    assert summary["verdict"].startswith("Text does not help here")
    assert summary["dataset"] == "cub" and summary["protocol"] == "support" and summary["seeds"] == 3 and summary["num_classes"] == 200
    assert summary["zero_shot"] == pytest.approx(31.0)
    row = summary["rows"][0]
    assert row["shots"] == 1
    assert list(row["translations"]) == ["raw", "mean-shift", "qformer"]
    q = row["translations"]["qformer"]
    assert set(q) == {"mean", "std", "texts", "texts_range", "gain", "gain_ci95", "p", "p_holm", "vs_strongest"} and q["texts"] == 4
    assert q["gain"] == pytest.approx(2.6667, abs=1e-4) and q["gain_ci95"] == pytest.approx([-0.2018, 5.5351], abs=1e-4)
    assert (
        q["texts_range"] == [4, 4] and q["p"] == pytest.approx(1 - 4 / np.sqrt(18), abs=1e-6) and q["p_holm"] == pytest.approx(2 * q["p"], abs=1e-5)
    )
    assert set(q["vs_strongest"]) == {"gain", "gain_ci95", "p", "p_holm"} and q["vs_strongest"]["gain"] == q["gain"]
    assert row["image_only"] == pytest.approx([60.0, 10.0]) and row["label_budget"] == {"support": 1, "validation": 4}
    assert row["baselines"] == {"zeroshot_init": {"mean": 60.0, "std": 10.0}, "linear_probe": {"mean": 42.0, "std": 2.0}}  # no edge recorded
    assert row["strongest_baseline"] == {"name": "zeroshot_init", "mean": 60.0}
    (versus,) = summary["qformer_vs_mean_shift"]  # per seed 3, 4, 1: mean 8/3, standard error sqrt(7/9)
    half = 4.302653 * np.sqrt(7 / 9)
    assert versus["shots"] == 1 and versus["gain"] == pytest.approx(8 / 3, abs=1e-4) and versus["p_holm"] == versus["p"]
    assert versus["gain_ci95"] == pytest.approx([8 / 3 - half, 8 / 3 + half], abs=1e-4)


def test_per_class_report_reads_translation_keys_not_old_ones(tmp_path):
    from fewshot_core import FewShotError
    from fewshot_core.report import per_class_report
    from fewshot_core.runs import RunFolder
    from fewshot_core.storage import write_json

    labels = np.array([0, 0, 1, 1])
    write_json(tmp_path / "test_index.json", {"class_names": ["a", "b"], "labels": labels.tolist(), "paths": None})
    rows = [("adapter", "none", 1, 0, 0, 0.5, 0.5), ("adapter", "mean-shift", 1, 2, 0, 0.9, 0.75), ("adapter", "qformer", 1, 4, 0, 0.9, 0.25)]
    preds = {"adapter-0": np.array([0, 1, 1, 0]), "adapter-mean-shift-2": np.array([0, 0, 1, 0]), "adapter-4": np.array([1, 1, 1, 0])}
    RunFolder(tmp_path).save_unit("01-0", [], predictions=preds)  # "adapter-4": a run from before translations
    by_setting = {s: per_class_report(tmp_path, results(rows), 1, s)[0].set_index("class").accuracy for s in ("image_only", "mean-shift")}
    assert by_setting["mean-shift"].to_dict() == {"a": 100.0, "b": 50.0} and by_setting["image_only"].to_dict() == {"a": 50.0, "b": 50.0}
    with pytest.raises(FewShotError, match="no stored predictions"):  # an older version's key is not read as the Q-Former's
        per_class_report(tmp_path, results(rows), 1, "qformer")


# 1 shot, 3 seeds, Q-Former with 1 or 4 texts. Seed 0 prefers 4 on validation, seed 1 prefers 1, seed 2 ties (-> 1, fewest).
# Pooled over seeds both counts have mean validation 0.633 (a tie: 1 text), which would give test 58.33 instead of 61.67.
PER_SEED = [
    *[("adapter", "none", 1, 0, s, 0.5, a) for s, a in enumerate((0.50, 0.60, 0.50))],
    *[("adapter", "qformer", 1, 1, s, v, a) for s, v, a in zip(range(3), (0.6, 0.7, 0.6), (0.50, 0.70, 0.55))],
    *[("adapter", "qformer", 1, 4, s, v, a) for s, v, a in zip(range(3), (0.7, 0.6, 0.6), (0.60, 0.40, 0.90))],
]


def test_each_seed_chooses_its_own_text_count():
    r = table1(results(PER_SEED)).iloc[0]
    assert r.qformer == pytest.approx((60 + 70 + 55) / 3)  # seed 0 at 4 texts, seeds 1 and 2 at 1 text
    assert r.qformer_texts == 1 and (r.qformer_texts_min, r.qformer_texts_max) == (1, 4)  # median of 4, 1, 1
    assert r.qformer_gain == pytest.approx((10 + 10 + 5) / 3)  # paired: 60-50, 70-60, 55-50
    assert r.qformer_oracle_texts == 4 and r.qformer_oracle == pytest.approx((60 + 40 + 90) / 3)  # oracle: one count, pooled, on test
    assert "61.67 ± 7.64 (1; 1–4)" in format_table1(table1(results(PER_SEED)))
    summary = summary_json(results(PER_SEED), {"sweep": {"seeds": [0, 1, 2]}})
    assert summary["rows"][0]["translations"]["qformer"]["texts"] == 1 and summary["rows"][0]["translations"]["qformer"]["texts_range"] == [1, 4]


def test_per_class_view_follows_each_seeds_choice(tmp_path):
    from fewshot_core.report import per_class_report
    from fewshot_core.runs import RunFolder
    from fewshot_core.storage import write_json

    labels = np.array([0, 0, 1, 1])
    write_json(tmp_path / "test_index.json", {"class_names": ["a", "b"], "labels": labels.tolist(), "paths": None})
    right, wrong = labels.copy(), 1 - labels
    for seed, (one, four) in enumerate([(wrong, right), (right, wrong), (right, wrong)]):  # right exactly at each seed's choice
        RunFolder(tmp_path).save_unit(f"01-{seed}", [], predictions={"adapter-0": right, "adapter-qformer-1": one, "adapter-qformer-4": four})
    per_class = per_class_report(tmp_path, results(PER_SEED), 1, "qformer")[0].set_index("class").accuracy
    assert per_class.to_dict() == {"a": 100.0, "b": 100.0}


# 1 shot, 3 seeds. The sweep's head ("zeroshot") has image only and the Q-Former; the "descriptions" head image only;
# GDA and LP++ record whether their chosen hyper-parameters sat on the grid's edge.
HEADS = [
    *[("adapter", "none", 1, 0, s, 0.5, a, "zeroshot") for s, a in enumerate((0.50, 0.60, 0.70))],
    *[("adapter", "qformer", 1, 2, s, 0.6, a, "zeroshot") for s, a in enumerate((0.55, 0.62, 0.72))],
    *[("adapter", "none", 1, 0, s, 0.5, a, "descriptions") for s, a in enumerate((0.62, 0.66, 0.70))],
    *[("gda", "", 1, 0, s, 0.5, a, None, '{"alpha": 1.0, "at_grid_edge": false}') for s, a in enumerate((0.58, 0.64, 0.67))],
    *[("lp++", "", 1, 0, s, 0.5, a, None, json.dumps({"at_grid_edge": s == 1})) for s, a in enumerate((0.60, 0.61, 0.62))],
]


def test_gains_are_on_the_same_head_and_every_baseline_is_listed():
    r = table1(results(HEADS)).iloc[0]
    assert r["head"] == "zeroshot" and r.image_only == pytest.approx(60.0) and r.zeroshot_init == pytest.approx(60.0)
    assert r.description_init == pytest.approx(66.0) and r.description_init_std == pytest.approx(4.0)
    assert r.qformer_gain == pytest.approx(3.0)  # 5, 2, 2 over the zero-shot head's image only, not over the descriptions head
    assert r.gda == pytest.approx(63.0) and r.gda_edge == False and r["lp++"] == pytest.approx(61.0) and r["lp++_edge"] == True  # noqa: E712
    # the strongest baseline is the description-initialised adapter; Q-Former minus it per seed: -7, -4, +2 (t = -3 / sqrt 7)
    assert r.strongest_baseline == "description_init" and r.strongest_baseline_mean == pytest.approx(66.0)
    t = 3 / np.sqrt(7)
    assert r.qformer_vs_strongest == pytest.approx(-3.0) and r.qformer_vs_strongest_p == pytest.approx(1 - t / np.sqrt(t**2 + 2))
    # with the translations on the descriptions head, that head's image only is the reference
    swapped = results(HEADS).assign(head=lambda d: d["head"].where(d.translation != "qformer", "descriptions"))
    s = table1(swapped).iloc[0]
    assert s["head"] == "descriptions" and s.image_only == pytest.approx(66.0) and s.qformer_gain == pytest.approx(-3.0)


def test_baselines_in_text_display_and_json():
    text = format_table1(table1(results(HEADS)), val_per_class="k")
    baselines = text[text.index("baselines") :].splitlines()
    assert "description-init adapter" in baselines[1] and "GDA" in baselines[1] and "LP++" in baselines[1]
    assert "class-name-init adapter" not in baselines[1]  # that is the "image only" column
    assert "description-init adapter" in baselines[2] and "61.00 ± 1.00 edge" in baselines[2] and "63.00 ± 4.58" in baselines[2]
    assert "label budget: k support + k validation labels per class (1 shot: 2 labels per class)" in text
    assert "and the description-init adapter (at 1 shot 66.0 %) beats the best translation (pooled Q-Former, 63.0 %)." in " ".join(text.splitlines())
    assert "-3.00 [-14.38, +8.38]" in text.splitlines()[3]  # vs strongest line
    shown = table1_display(table1(results(HEADS)), val_per_class="k")
    assert shown["strongest baseline"].iloc[0] == "description-init adapter" and shown["LP++"].iloc[0] == "61.00 ± 1.00 edge"
    assert shown["label budget per class"].iloc[0] == "1 support + 1 validation"
    row = summary_json(results(HEADS), {"sweep": {"seeds": [0, 1, 2], "val_per_class": "k"}})["rows"][0]
    assert list(row["baselines"]) == ["description_init", "zeroshot_init", "gda", "lp++"]
    assert row["baselines"]["gda"] == {"mean": 63.0, "std": pytest.approx(4.5826, abs=1e-4), "at_grid_edge": False}
    assert row["baselines"]["lp++"]["at_grid_edge"] is True and "at_grid_edge" not in row["baselines"]["description_init"]
    assert row["strongest_baseline"] == {"name": "description_init", "mean": 66.0} and row["label_budget"] == {"support": 1, "validation": 1}
    assert row["translations"]["qformer"]["vs_strongest"]["gain"] == -3.0


NOISE = (0.5, -0.5, 0.2, -0.2, 0.3, -0.3)  # points: the paired differences vary a little from seed to seed
BASE = (0.60, 0.55, 0.65, 0.58, 0.62, 0.57)  # image only per seed: support sets differ a lot


def rows_at(shots, gain, gda_gain):
    """6 seeds: image only, the Q-Former ``gain`` points above it (plus NOISE), GDA ``gda_gain`` points above it (minus NOISE)."""
    rows = [("adapter", "none", shots, 0, s, 0.5, b) for s, b in enumerate(BASE)]
    rows += [("adapter", "qformer", shots, 2, s, 0.6, b + (gain + n) / 100) for s, (b, n) in enumerate(zip(BASE, NOISE))]
    return rows + [("gda", "", shots, 0, s, 0.5, b + (gda_gain - n) / 100) for s, (b, n) in enumerate(zip(BASE, NOISE))]


def one_shot(gain, gda_gain):
    return summary_json(results(rows_at(1, gain, gda_gain)), {"dataset": "x", "sweep": {"seeds": list(range(6))}})


def test_verdict_helps_hurts_or_no_difference():
    helps = one_shot(5, 8)
    assert helps["rows"][0]["translations"]["qformer"]["p_holm"] < 0.05
    assert helps["verdict"] == (
        "Text helps here: pooled Q-Former at 1 shot beats image only after Holm correction, "
        "but GDA (at 1 shot 67.5 %) beats the best translation (pooled Q-Former, 64.5 %) after Holm correction."
    )
    assert one_shot(5, 2)["verdict"] == (
        "Text helps here: pooled Q-Former at 1 shot beats image only after Holm correction, "
        "and pooled Q-Former at 1 shot also beats the strongest baseline after Holm correction (at 1 shot 64.5 % vs GDA 61.5 %)."
    )
    assert one_shot(-5, -10)["verdict"] == (
        "Text hurts here: pooled Q-Former at 1 shot falls below image only after Holm correction, "
        "and image only (at 1 shot 59.5 %) beats the best translation (pooled Q-Former, 54.5 %) after Holm correction."
    )
    none = one_shot(0, -10)
    assert none["verdict"].startswith("Text does not help here: no translation beats image only at any shot count after Holm correction, and ")
    assert "is not reliably above image only" in none["verdict"]
    assert verdict({"rows": []}).startswith("No verdict yet")


def test_verdict_names_the_strongest_baseline_where_it_is_reliably_ahead():
    # 1 shot: GDA half a point ahead (noise); 4 shots: 8 points ahead, far beyond the noise
    summary = summary_json(results(rows_at(1, 0, 0.5) + rows_at(4, 0, 8)), {"sweep": {"seeds": list(range(6))}})
    assert summary["verdict"].endswith(", and GDA (at 4 shots 67.5 %) beats the best translation (pooled Q-Former, 59.5 %) after Holm correction.")
    near = summary_json(results(rows_at(1, 0, 0.5) + rows_at(4, 0, 0.5)), {"sweep": {"seeds": list(range(6))}})
    assert near["verdict"].endswith(", and GDA (at 1 shot 60.0 %) beats the best translation (pooled Q-Former, 59.5 %).")  # no Holm claim


def test_stars_and_daggers_in_the_text_table():
    helps, hurts = (format_table1(table1(results_of(g))) for g in (5, -5))
    assert helps.splitlines()[2].rstrip().endswith("]*") and "†" not in helps.splitlines()[2]
    assert hurts.splitlines()[2].rstrip().endswith("]†")


def results_of(gain):
    rows = [("adapter", "none", 1, 0, s, 0.5, b) for s, b in enumerate(BASE)]
    return results(rows + [("adapter", "qformer", 1, 2, s, 0.6, b + (gain + n) / 100) for s, (b, n) in enumerate(zip(BASE, NOISE))])


def test_compare_verdicts_names_the_cells_whose_mark_changed():
    helps, same_but_weaker, none = one_shot(5, 8), one_shot(4, 8), one_shot(0, 8)
    assert compare_verdicts(helps, same_but_weaker) == {"stable": True, "changed": []}  # numbers moved, marks did not
    assert compare_verdicts(helps, none) == {
        "stable": False,
        "changed": [{"shots": 1, "translation": "qformer", "versus": "image only", "a": "*", "b": ""}],
    }
    fewer = {**helps, "rows": []}
    assert compare_verdicts(helps, fewer)["changed"][0]["b"] is None  # a cell missing from one run counts as changed


def test_translation_labels_are_one_dict(monkeypatch):
    from dataclasses import replace

    from fewshot_core.translations import TRANSLATION_REGISTRY

    monkeypatch.setitem(TRANSLATION_REGISTRY, "qformer", replace(TRANSLATION_REGISTRY["qformer"], label="MLP+skip"))
    t = table1(results(THREE_SEEDS))
    text = format_table1(t)
    assert "+ MLP+skip text (texts)" in text and "+ MLP+skip oracle" in text and "MLP+skip − mean-shift" in text and "Q-Former" not in text
    assert "+ MLP+skip text gain [95% CI]" in table1_display(t)
    assert "MLP+skip" in one_shot(5, 8)["verdict"]

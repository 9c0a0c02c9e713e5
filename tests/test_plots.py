import pandas as pd
import pytest

from fewshot_core.plots import compare_runs, describe_run, figure4, worst_classes, zero_vs_few
from fewshot_core.report import table1

ROWS = [
    # method, shots, texts, seed, val, test
    ("adapter", 1, 0, 0, 0.50, 0.52),
    ("adapter", 1, 0, 1, 0.54, 0.56),
    ("adapter", 1, 5, 0, 0.70, 0.60),
    ("adapter", 1, 5, 1, 0.72, 0.64),
    ("adapter", 1, 9, 0, 0.60, 0.70),
    ("adapter", 1, 9, 1, 0.60, 0.70),
    ("adapter", 4, 0, 0, 0.80, 0.80),
    ("adapter", 4, 0, 1, 0.80, 0.82),
    ("adapter", 4, 5, 0, 0.81, 0.79),
    ("adapter", 4, 5, 1, 0.81, 0.79),
    ("adapter", 4, 9, 0, 0.79, 0.78),
    ("adapter", 4, 9, 1, 0.79, 0.78),
    ("zeroshot", 0, 0, 0, 0.40, 0.41),
    ("linear-probe", 1, 0, 0, 0.30, 0.31),
    ("linear-probe", 4, 0, 0, 0.70, 0.71),
]
RESULTS = pd.DataFrame(
    [
        {"dataset": "x", "method": m, "protocol": "", "shots": k, "texts": t, "seed": s, "val_acc": v, "test_acc": a, "chosen": "{}"}
        | {"translation": ("qformer" if t else "none") if m == "adapter" else "", "head": "zeroshot" if m == "adapter" else ""}
        for m, k, t, s, v, a in ROWS
    ]
)


def test_figure4_draws_the_selected_numbers():
    fig = figure4(RESULTS, "CUB", "ViT-B-32", oracle=True)
    by_name = {trace.name: trace for trace in fig.data}
    image_only = by_name["image only (adapter, 0 texts)"]
    assert list(image_only.x) == [1, 4] and list(image_only.y) == pytest.approx([54.0, 81.0])
    assert list(image_only.error_y.array) == pytest.approx([2 * 2**0.5, 2**0.5])  # sample SD of 52, 56 and of 80, 82
    val = by_name["image + pooled Q-Former text (text count chosen per seed on validation)"]  # an old table: texts > 0 were the pooled Q-Former
    assert list(val.y) == pytest.approx([62.0, 79.0]) and [t.split("<br>")[0] for t in val.text] == ["5 texts", "5 texts"]  # 5 wins on validation
    assert "gain over image only +8.00 points (95% CI +8.00 to +8.00)" in val.text[0]  # both seeds gain exactly 8 points
    oracle = by_name["image + pooled Q-Former text (one text count chosen on test: oracle)"]
    assert list(oracle.y) == pytest.approx([70.0, 79.0])  # 9 texts has the best test accuracy at 1 shot
    assert any("zero-shot CLIP 41.0%" in a.text for a in fig.layout.annotations)


def test_zero_vs_few_and_run_description():
    fig = zero_vs_few(RESULTS)
    assert [t.name for t in fig.data][0].startswith("image only") and list(fig.data[0].y) == pytest.approx([54.0, 81.0])
    config = {
        "features": {"model": "ViT-B-32", "weights_tag": "openai"},
        "sweep": {"protocol": "support", "seeds": [0, 1], "qformer_train": {"loss": "balanced"}},
    }
    assert describe_run(config) == (
        "ViT-B-32 openai · pooled Q-Former trained on the k-shot support images only (support protocol), balanced loss · 2 seeds"
        " · text count chosen per seed on validation · label budget: k support + ? validation labels per class"
    )
    config["sweep"] |= {"protocol": "train-split", "val_per_class": 8}
    assert "pooled Q-Former trained on 26 labelled images per class (train-split protocol)" in describe_run(
        {**config, "qformer_images_per_class": 26}
    )
    assert describe_run(config).endswith("text count chosen per seed on validation · label budget: k support + 8 validation labels per class")
    assert describe_run({"sweep": {"seeds": list(range(20)), "val_per_class": "k"}}).endswith(
        "20 seeds · text count chosen per seed on validation · label budget: k support + k validation labels per class"
    )


def test_compare_runs_draws_both_curves_per_run():
    fig = compare_runs({"a": RESULTS, "b": RESULTS})
    assert [t.name for t in fig.data] == ["a: image only", "a: image + pooled Q-Former text", "b: image only", "b: image + pooled Q-Former text"]
    assert list(fig.data[1].y) == pytest.approx([62.0, 79.0])


TRANSLATED = pd.concat(
    [
        RESULTS.assign(translation=["none" if t == 0 else "qformer" if m == "adapter" else "" for m, t in zip(RESULTS.method, RESULTS.texts)]),
        RESULTS[(RESULTS.method == "adapter") & (RESULTS.texts > 0)].assign(translation="raw", test_acc=lambda d: d.test_acc - 0.05),
        RESULTS[(RESULTS.method == "adapter") & (RESULTS.texts > 0)].assign(translation="mean-shift", test_acc=lambda d: d.test_acc + 0.01),
    ]
)


def test_figure4_draws_each_translation_beside_image_only():
    fig = figure4(TRANSLATED, "CUB", "ViT-B-32")
    names = [t.name for t in fig.data]
    assert names == [
        "image only (adapter, 0 texts)",
        "image + raw text (text count chosen per seed on validation)",
        "image + mean-shift text (text count chosen per seed on validation)",
        "image + pooled Q-Former text (text count chosen per seed on validation)",
        "linear probe",
    ]
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name[names[1]].y) == pytest.approx([57.0, 74.0]) and list(by_name[names[2]].y) == pytest.approx([63.0, 80.0])
    bars = zero_vs_few(TRANSLATED)
    assert [b.name for b in bars.data] == [*names[:4], "linear probe"]


def test_plots_survive_partial_results():
    only_zero_shot = RESULTS[RESULTS.method == "zeroshot"]
    for fig in (figure4(only_zero_shot), zero_vs_few(only_zero_shot)):
        assert not fig.data and any("41.0%" in a.text for a in fig.layout.annotations)  # nothing few-shot yet: only the line
    no_zero_shot = RESULTS[(RESULTS.method != "zeroshot") & (RESULTS.shots == 1)]
    fig = figure4(no_zero_shot, oracle=True)
    assert fig.data and not fig.layout.annotations and list(fig.data[0].x) == [1]
    assert not figure4(RESULTS.iloc[0:0]).data and compare_runs({"a": only_zero_shot, "b": RESULTS}).data[0].name == "b: image only"
    one_seed = RESULTS[RESULTS.seed == 0]
    assert "1 seed: no interval" in figure4(one_seed).data[1].text[0]


def test_figure4_draws_every_baseline_with_its_own_dash_and_says_how():
    extra = [
        {"method": "adapter", "translation": "none", "head": "descriptions", "shots": k, "texts": 0, "seed": s, "val_acc": 0.5, "test_acc": a}
        for k, s, a in ((1, 0, 0.60), (1, 1, 0.64), (4, 0, 0.83), (4, 1, 0.85))
    ]
    extra += [
        {"method": m, "translation": "", "shots": k, "texts": 0, "seed": s, "val_acc": 0.5, "test_acc": a + d, "chosen": '{"at_grid_edge": false}'}
        for m, d in (("gda", 0.0), ("lp++", 0.02), ("tip-adapter", -0.05))
        for k, s, a in ((1, 0, 0.58), (1, 1, 0.60), (4, 0, 0.80), (4, 1, 0.84))
    ]
    results = pd.concat([TRANSLATED.assign(head="zeroshot"), pd.DataFrame(extra).assign(dataset="x", protocol="")], ignore_index=True)
    fig = figure4(results)
    by_name = {t.name: t for t in fig.data}
    baselines = ["description-init adapter (image only)", "linear probe", "Tip-Adapter", "GDA", "LP++"]
    assert [t.name for t in fig.data][4:] == baselines  # image only on the sweep's own head is the "image only" trace
    assert len({by_name[b].line.dash for b in baselines}) == len(baselines) and all(by_name[b].line.dash != "solid" for b in baselines)
    assert list(by_name["GDA"].y) == pytest.approx([59.0, 82.0]) and list(by_name["GDA"].error_y.array) == pytest.approx([2**0.5, 2 * 2**0.5])
    assert list(by_name["description-init adapter (image only)"].y) == pytest.approx([62.0, 84.0])
    assert fig.layout.title.text == "<br><sup>2 seeds · text count chosen per seed on validation</sup>"  # no run description given
    assert fig.layout.yaxis.title.text == "test accuracy (%), mean ± sample SD over seeds"


def test_gains_figure_draws_each_translations_paired_gain_with_its_interval():
    from fewshot_core.plots import gains_figure

    fig = gains_figure(table1(TRANSLATED))
    left = {t.name: t for t in fig.data if t.xaxis == "x"}
    right = {t.name: t for t in fig.data if t.xaxis == "x2"}
    assert list(left) == list(right) == ["raw text", "mean-shift text", "pooled Q-Former text"]
    q = left["pooled Q-Former text"]  # 1 shot: both seeds +8 (5 texts win on validation); 4 shots: -1 and -3
    assert list(q.y) == pytest.approx([8.0, -2.0])
    half = 12.7062 * 2**0.5 / 2**0.5  # t(0.975, 1 df) x sample SD sqrt(2) / sqrt(2 seeds)
    assert list(q.error_y.arrayminus) == pytest.approx([0.0, half], abs=1e-3) and list(q.error_y.array) == pytest.approx([0.0, half], abs=1e-3)
    assert list(q.text) == ["*", ""] and list(q.marker.symbol) == ["circle", "circle-open"]  # filled: Holm-adjusted p < 0.05
    assert list(left["raw text"].y) == pytest.approx([3.0, -7.0]) and list(left["mean-shift text"].y) == pytest.approx([9.0, -1.0])
    assert sorted(s.y0 for s in fig.layout.shapes) == [0, 0]  # a zero line in each panel
    assert list(fig.layout.xaxis2.ticktext) == ["1<br>image<br>only", "4<br>image<br>only"]  # the strongest baseline per shot count, a word a line
    long = gains_figure(table1(TRANSLATED.assign(test_acc=lambda d: d.test_acc.where(d.method != "linear-probe", 0.99))))
    assert list(long.layout.xaxis2.ticktext) == ["1<br>linear<br>probe", "4<br>linear<br>probe"] and long.layout.xaxis2.tickangle == 0
    assert [a.text for a in fig.layout.annotations][:2] == ["over image only (same head)", "over the strongest baseline"]


def test_worst_classes_labels_every_bar():
    names = [f"class number {i}" for i in range(14)] + ["class number 3"]  # two classes may share a shown name
    per_class = pd.DataFrame({"class": names, "accuracy": [float(i) for i in range(15)], "images": 5})
    fig = worst_classes(per_class)
    bar = fig.data[0]
    assert list(fig.layout.yaxis.tickvals) == list(range(15)) and list(fig.layout.yaxis.ticktext) == names[::-1]
    assert list(bar.text) == [f"{i}%" for i in range(14, -1, -1)] and fig.layout.height == 110 + 26 * 15


def test_compare_runs_ticks_only_the_shot_counts():
    fig = compare_runs({"a": RESULTS, "b": RESULTS[RESULTS.shots <= 1]})
    assert list(fig.layout.xaxis.tickvals) == [1, 4]


def test_group_figure_has_error_bars_and_numbers_on_both_panels():
    from fewshot_core.plots import group_figure

    groups = pd.DataFrame(
        [
            {"shots": 1, "setting": "image_only", "all": 50, "seen": 60, "held_out": 40, "seen_std": 2.0, "held_out_std": 3.0},
            {"shots": 0, "setting": "zeroshot", "all": 30, "seen": 35, "held_out": 25, "seen_std": float("nan"), "held_out_std": float("nan")},
        ]
    )
    fig = group_figure(groups, (2, 1))
    seen, held = fig.data
    assert list(seen.error_y.array) == [2.0] and list(held.error_y.array) == [3.0]
    assert fig.layout.yaxis2.showticklabels is True


def test_long_subtitles_wrap_instead_of_being_cut_off():
    from fewshot_core.plots import SUBTITLE_WIDTH, wrap_title

    how = describe_run({"features": {"model": "ViT-B-32", "weights_tag": "laion2b_s34b_b79k"}, "sweep": {"protocol": "support", "seeds": [0, 1]}})
    heading, top = wrap_title("Figure 4 · cub", how)
    lines = heading["text"].removeprefix("Figure 4 · cub<br><sup>").removesuffix("</sup>").split("<br>")
    assert len(lines) > 1 and all(len(line) <= SUBTITLE_WIDTH for line in lines) and " · ".join(lines) == how
    assert top == 64 + 22 * len(lines) and heading["yanchor"] == "top"
    assert wrap_title("T", "short")[0]["text"] == "T<br><sup>short</sup>" and wrap_title("T")[1] < top


def test_a_partial_run_says_how_many_seeds_its_points_have():
    config = {"sweep": {"seeds": list(range(20))}}
    assert " · 3 of 20 seeds done · " in describe_run(config, {1: 3, 2: 3})
    assert " · 1–3 of 20 seeds done: 3 at 1 shot, 1 at 2 shots · " in describe_run(config, {1: 3, 2: 1})
    assert " · 20 seeds · " in describe_run(config, {1: 20, 2: 20}) and " · 20 seeds · " in describe_run(config)


def _epoch(done: int, total: int, loss: float, step: int | None = None) -> dict:
    metrics = {"qformer_loss": loss} | ({"qformer_step": step} if step is not None else {})
    return {"event": "progress", "step": "qformer", "done": done, "total": total, "message": "", "metrics": metrics}


def test_qformer_loss_is_one_line_per_training_against_the_optimizer_step():
    from fewshot_core.training_plots import qformer_loss_figure

    events = [_epoch(1, 3, 0.9, 4), _epoch(2, 3, 0.7, 8), _epoch(3, 3, 0.6, 12)]
    events += [{"event": "progress", "step": "sweep", "done": 2, "total": 5, "message": "1-shot seed 0 done", "metrics": {}}]
    events += [_epoch(1, 3, 0.95, 6), _epoch(2, 3, 0.8, 12), _epoch(3, 3, 0.5, 18)]  # the next unit's Q-Former
    fig = qformer_loss_figure(events, "balanced")
    assert [t.name for t in fig.data] == ["training 1", "training 2"]
    assert list(fig.data[0].x) == [4, 8, 12] and list(fig.data[1].x) == [6, 12, 18] and list(fig.data[1].y) == [0.95, 0.8, 0.5]
    assert fig.layout.xaxis.title.text == "optimizer step" and fig.layout.yaxis.title.text == "pooled Q-Former balanced loss (mean over an epoch)"
    old = qformer_loss_figure([_epoch(1, 2, 0.9), _epoch(2, 2, 0.8), _epoch(1, 2, 0.7)])  # a job from before steps were reported
    assert (
        len(old.data) == 2 and old.layout.xaxis.title.text == "epoch" and old.layout.yaxis.title.text == "pooled Q-Former loss (mean over an epoch)"
    )

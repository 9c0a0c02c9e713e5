import pandas as pd
import pytest

from fewshot_core.plots import compare_runs, describe_run, figure4, zero_vs_few

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
        for m, k, t, s, v, a in ROWS
    ]
)


def test_figure4_draws_the_selected_numbers():
    fig = figure4(RESULTS, "CUB", "ViT-B-32", oracle=True)
    by_name = {trace.name: trace for trace in fig.data}
    image_only = by_name["image only (adapter, 0 texts)"]
    assert list(image_only.x) == [1, 4] and list(image_only.y) == pytest.approx([54.0, 81.0])
    assert list(image_only.error_y.array) == pytest.approx([2.0, 1.0])
    val = by_name["image + text (text count chosen on validation)"]
    assert list(val.y) == pytest.approx([62.0, 79.0]) and list(val.text) == ["5 texts", "5 texts"]  # 5 wins on validation at both
    oracle = by_name["image + text (text count chosen on test: oracle)"]
    assert list(oracle.y) == pytest.approx([70.0, 79.0])  # 9 texts has the best test accuracy at 1 shot
    assert any("zero-shot CLIP 41.0%" in a.text for a in fig.layout.annotations)


def test_zero_vs_few_and_run_description():
    fig = zero_vs_few(RESULTS)
    assert [t.name for t in fig.data][0].startswith("image only") and list(fig.data[0].y) == pytest.approx([54.0, 81.0])
    config = {
        "features": {"model": "ViT-B-32", "weights_tag": "openai"},
        "sweep": {"protocol": "support", "seeds": [0, 1], "qformer_train": {"loss": "balanced"}},
    }
    assert describe_run(config) == "ViT-B-32 openai · Q-Former protocol support (balanced loss) · seeds [0, 1]"


def test_compare_runs_draws_both_curves_per_run():
    fig = compare_runs({"a": RESULTS, "b": RESULTS})
    assert [t.name for t in fig.data] == ["a: image only", "a: image + text", "b: image only", "b: image + text"]
    assert list(fig.data[1].y) == pytest.approx([62.0, 79.0])

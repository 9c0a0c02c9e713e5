import json

import numpy as np
import pytest

import fewshot_core.translator as translator
import fewshot_core.units as units
from fewshot_core import FewShotError
from fewshot_core.datasets.sampling import sample_few_shot, validation_indices
from fewshot_core.progress import Cancelled
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.report import format_table1, table1, text_helped
from fewshot_core.sweep import AdapterConfig, SweepConfig, run_sweep

# The adapter starts from the class-name prompts here (the pre-v2 default): on this synthetic set, text is then known to help at 1 shot.
FAST = dict(
    shots=[1, 4],
    text_counts=[0, 2, 8],
    seeds=[0, 1, 2],
    qformer_size="tiny",
    qformer_train=QFormerTrainConfig(epochs=40, lr=3e-3),
    adapter=AdapterConfig(init="zeroshot", lr=5e-3),
)


@pytest.fixture(scope="module")
def qcache(tmp_path_factory):
    return tmp_path_factory.mktemp("qformers")


@pytest.fixture(scope="module")
def finished(small_bundle, tmp_path_factory, qcache):
    run_dir = tmp_path_factory.mktemp("run")
    return run_dir, run_sweep(small_bundle, SweepConfig(**FAST), run_dir, qformer_cache=qcache)


def test_results_table_is_complete_and_self_describing(finished):
    run_dir, df = finished
    adapter = df[df.method == "adapter"]
    # image only + 2 text counts x 3 translations on the sweep's head, image only on the other head
    assert len(adapter) == 2 * 3 * (1 + 2 * 3 + 1) and set(adapter.protocol) == {"support"}
    assert set(adapter["head"]) == {"zeroshot", "descriptions"}
    assert set(adapter.translation) == {"none", "raw", "mean-shift", "qformer"}
    assert (adapter.translation == "none").eq(adapter.texts == 0).all()
    assert set(df[df.method != "adapter"].translation) == {""}
    assert len(df[df.method == "linear-probe"]) == len(df[df.method == "tip-adapter"]) == 6
    assert len(df[df.method == "zeroshot"]) == 1 and len(df[df.method == "description-zeroshot"]) == 2 * 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sweep"]["adapter"]["lr"] == 5e-3 and "torch" in config["versions"]
    assert config["sweep"]["translations"] == ["raw", "mean-shift", "qformer"] and config["qformer_images_per_class"] is None
    assert (run_dir / "results.csv").is_file() and (run_dir / "results.jsonl").is_file()


def test_text_helps_at_one_shot_and_shots_never_hurt(finished):
    _, df = finished
    adapter = df[df.method == "adapter"].groupby(["shots", "translation", "texts"]).test_acc.mean()
    assert adapter[(1, "mean-shift", 8)] > adapter[(1, "none", 0)]  # mean-shifted text beats image-only at 1 shot, on average over seeds
    assert adapter[(4, "none", 0)] >= adapter[(1, "none", 0)]  # more shots never hurt image-only


def test_table1_selects_on_validation_and_oracle(finished):
    _, df = finished
    t = table1(df)
    assert t.shots.tolist() == [1, 4] and set(t.qformer_texts) <= {2, 5, 8} and (t.seeds == 3).all()  # per-seed picks: a median
    q = df[(df.method == "adapter") & (df.translation == "qformer")].groupby(["shots", "texts"]).test_acc.mean() * 100
    assert np.allclose(t.qformer_oracle, [q[k].max() for k in t.shots])  # the oracle: the one text count best on test
    assert (t.qformer_gain_low <= t.qformer_gain).all() and (t.qformer_gain <= t.qformer_gain_high).all()
    text = format_table1(t)
    assert "±" in text and "zero-shot CLIP" in text and "95% t-interval" in text
    helped = text_helped(t)  # 3 seeds: a gain of a few points can sit inside the noise, so no fixed answer here
    starred = [bool(t.qformer_gain_p_holm[i] < 0.05 and t.qformer_gain[i] > 0) for i in range(len(t))]
    assert list(helped) == [1, 4] and list(helped.values()) == starred  # the star: Holm-adjusted p < 0.05 and a gain above 0
    assert not any(helped[k] and t.qformer_gain[i] <= 0 for i, k in enumerate(helped))  # never claimed without a positive mean


def test_rerun_is_a_no_op(finished, small_bundle, monkeypatch):
    run_dir, df = finished
    monkeypatch.setattr(units, "_unit_rows", lambda *a, **k: pytest.fail("recomputed a finished unit"))
    again = run_sweep(small_bundle, SweepConfig(**FAST), run_dir)
    assert again.equals(df)


def test_interrupted_run_resumes_to_the_same_numbers(finished, small_bundle, tmp_path, qcache):
    _, full = finished
    finished_units = lambda: len(list((tmp_path / "units").glob("*.json")))  # noqa: E731
    with pytest.raises(Cancelled):
        run_sweep(small_bundle, SweepConfig(**FAST), tmp_path, qformer_cache=qcache, should_cancel=lambda: finished_units() >= 3)
    partial = len(list((tmp_path / "units").glob("*.json")))
    assert 1 <= partial < 7
    resumed = run_sweep(small_bundle, SweepConfig(**FAST), tmp_path, qformer_cache=qcache)
    assert (
        resumed.sort_values(["method", "shots", "texts", "seed"])
        .reset_index(drop=True)
        .equals(full.sort_values(["method", "shots", "texts", "seed"]).reset_index(drop=True))
    )


def test_other_settings_need_another_folder(finished, small_bundle):
    run_dir, _ = finished
    with pytest.raises(FewShotError, match="choose a new run folder"):
        run_sweep(small_bundle, SweepConfig(**{**FAST, "seeds": [5]}), run_dir)


def test_no_validation_or_test_image_enters_training(small_bundle, tmp_path, monkeypatch):
    seen = {"qformer": [], "adapter": []}
    real_q, real_a = translator.train_qformer, units.train_adapter_heads
    monkeypatch.setattr(translator, "train_qformer", lambda x, *a, **k: seen["qformer"].append(x) or real_q(x, *a, **k))
    monkeypatch.setattr(
        units, "train_adapter_heads", lambda x, y, rows, *a, **k: seen["adapter"].extend(x[r] for r in rows) or real_a(x, y, rows, *a, **k)
    )
    for protocol in ("train-split", "support"):
        run_sweep(small_bundle, SweepConfig(**{**FAST, "seeds": [0], "protocol": protocol}), tmp_path / protocol)
    val = small_bundle.train_features[validation_indices(small_bundle.train_labels, 4)]
    forbidden = {row.tobytes() for row in np.concatenate([val, small_bundle.test_features])}
    for kind, arrays in seen.items():
        assert arrays, kind
        used = {row.tobytes() for a in arrays for row in np.asarray(a, np.float32)}
        assert not used & forbidden, f"{kind} trained on validation or test features"


def test_splits_are_disjoint(small_bundle):
    for shots in (1, 4, 15):
        for seed in (0, 1):
            s = sample_few_shot(small_bundle.train_labels, shots, seed)
            assert not set(s.support) & set(s.val)


def test_same_seed_same_numbers(finished, small_bundle, tmp_path, qcache):
    _, df = finished
    again = run_sweep(small_bundle, SweepConfig(**FAST), tmp_path, qformer_cache=qcache)  # Q-Former determinism: test_qformer
    assert np.array_equal(again.test_acc.to_numpy(), df.test_acc.to_numpy())


def test_bad_config():
    with pytest.raises(FewShotError, match="Unknown protocol"):
        SweepConfig(protocol="everything").validate()
    with pytest.raises(FewShotError, match="Unknown methods"):
        SweepConfig(methods=["adapter", "magic"]).validate()


def test_per_class_report_adds_up_to_table1(finished):
    from fewshot_core.report import per_class_report

    run_dir, df = finished
    t = table1(df).set_index("shots")
    for setting, column in (("qformer", "qformer"), ("image_only", "image_only"), ("linear-probe", "linear_probe")):
        per_class, confusions, examples = per_class_report(run_dir, df, 1, setting)
        overall = (per_class.accuracy * per_class.images).sum() / per_class.images.sum()
        assert overall == pytest.approx(t.loc[1, column], abs=1e-3)  # per-class numbers add up to the Table 1 cell (rows keep 6 decimals)
        assert per_class.accuracy.is_monotonic_increasing  # worst first
        assert confusions["count"].is_monotonic_decreasing and (confusions["true"] != confusions["predicted"]).all()
        assert all(e["true"] != e["predicted"] for e in examples)
    with pytest.raises(FewShotError, match="no stored predictions"):
        per_class_report(run_dir, df, 1, "tip-adapter-that-never-ran")

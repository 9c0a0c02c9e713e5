"""The sweep's translations axis, protocols, per-seed Q-Formers and run-folder hardening (known truth, offline)."""

import json

import numpy as np
import pytest

import fewshot_core.translations as translations
import fewshot_core.translator as translator
import fewshot_core.units as units
from fewshot_core import FewShotError
from fewshot_core.cli import main
from fewshot_core.datasets.sampling import sample_few_shot, validation_indices
from fewshot_core.qformer import QFormerTrainConfig, alignment
from fewshot_core.runs import RunFolder
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import SyntheticSpec, make_synthetic
from fewshot_core.translations import mean_shift
from fewshot_core.translator import Translator

SMALL = dict(num_classes=20, dim=64, train_per_class=16, test_per_class=15, descriptions_per_class=12, seed=1)
TINY = dict(shots=[1, 4], text_counts=[0, 2], seeds=[0], qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=5))


def test_mean_shift_by_hand():
    # texts (0,1),(0,1) -> mean (0,1); images (1,0) -> mean (1,0); t - (0,1) + (1,0) = (1,0)
    out = mean_shift(np.array([[0.0, 1.0], [0.0, 2.0]]), np.array([[3.0, 0.0]]))
    assert np.allclose(out, [[1.0, 0.0], [1.0, 0.0]], atol=1e-6)
    # texts (1,0),(0,1): mean (.5,.5); image (1,0): (1,0)-(.5,.5)+(1,0) = (1.5,-.5) -> normalised
    out = mean_shift(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert np.allclose(out[0], np.array([1.5, -0.5]) / np.hypot(1.5, 0.5), atol=1e-6)


def test_mean_shift_aligns_a_pure_modality_gap_and_raw_does_not():
    bundle = make_synthetic(SyntheticSpec(mode="shift", gap=1.5, text_noise=0.8, **SMALL))
    allowed = np.setdiff1d(np.arange(len(bundle.train_labels)), validation_indices(bundle.train_labels, 4))
    shifted = mean_shift(bundle.description_features, bundle.train_features[allowed])
    retrieval = lambda t: alignment(t, bundle.description_labels, bundle.test_features, bundle.test_labels)["retrieval_acc"]  # noqa: E731
    assert retrieval(shifted) >= 0.9  # nothing trained: the descriptions are held out by construction
    assert retrieval(bundle.description_features) < 0.6


def test_rotation_mode_is_unchanged_and_unknown_mode_is_an_error():
    a, b = make_synthetic(SyntheticSpec(**SMALL)), make_synthetic(SyntheticSpec(mode="rotation", **SMALL))
    assert np.array_equal(a.description_features, b.description_features)
    with pytest.raises(FewShotError, match="Unknown synthetic mode"):
        make_synthetic(SyntheticSpec(mode="spiral", **SMALL))


@pytest.fixture(scope="module")
def bundle():
    return make_synthetic(SyntheticSpec(**SMALL))


def test_support_protocol_translators_see_only_the_support_set(bundle, tmp_path, monkeypatch):
    seen = []
    real_q, real_shift = translator.train_qformer, translations.mean_shift
    monkeypatch.setattr(translator, "train_qformer", lambda x, *a, **k: seen.append(("qformer", x)) or real_q(x, *a, **k))
    monkeypatch.setattr(translations, "mean_shift", lambda t, x: seen.append(("mean-shift", x)) or real_shift(t, x))
    run_sweep(bundle, SweepConfig(**{**TINY, "seeds": [0, 1]}), tmp_path)
    supports = [bundle.train_features[sample_few_shot(bundle.train_labels, k, s).support] for s in (0, 1) for k in (1, 4)]  # seed-major
    assert [kind for kind, _ in seen] == ["mean-shift", "qformer"] * 4  # one of each per (shots, seed)
    for i, support in enumerate(supports):
        for _, images in seen[2 * i : 2 * i + 2]:
            assert np.array_equal(np.sort(images, axis=0), np.sort(support, axis=0))  # exactly the support set, nothing else


def test_each_seed_trains_its_own_qformer_and_a_seed_repeats_exactly(bundle, tmp_path):
    cfg = SweepConfig(**{**TINY, "protocol": "train-split", "seeds": [0, 1]})
    val = validation_indices(bundle.train_labels, cfg.val_per_class)
    translate = lambda seed: Translator(bundle, cfg, "cpu", None, val).pseudo_features(  # noqa: E731
        "qformer", sample_few_shot(bundle.train_labels, 1, seed)
    )
    first, again, other = translate(0), translate(0), translate(1)  # train-split: same images for both seeds
    assert np.array_equal(first, again)
    assert not np.allclose(first, other, atol=1e-4)
    assert not np.allclose(first, bundle.description_features, atol=1e-3)  # trained: no longer the raw text


def test_results_hold_all_four_translations_and_their_predictions(bundle, tmp_path):
    df = run_sweep(bundle, SweepConfig(**TINY), tmp_path)
    adapter = df[df.method == "adapter"]
    assert sorted(adapter.translation.unique()) == ["mean-shift", "none", "qformer", "raw"]
    head, other = SweepConfig().adapter.init, {"zeroshot": "descriptions", "descriptions": "zeroshot"}[SweepConfig().adapter.init]
    # 2 shot counts x (image only + 1 text count x 3 translations on the sweep's head, + image only on the other head)
    assert len(adapter) == 2 * (1 + 3 + 1)
    assert set(adapter[adapter["head"] == other].translation) == {"none"} and len(adapter[adapter["head"] == head]) == 2 * 4
    keys = set(RunFolder(tmp_path).predictions("01-0"))
    expected = {
        "adapter-0",
        "adapter-raw-2",
        "adapter-mean-shift-2",
        "adapter-qformer-2",
        f"adapter-0@{other}",
        "linear-probe",
        "tip-adapter",
        "gda",
        "lp++",
    }
    assert expected == keys
    only = run_sweep(bundle, SweepConfig(**{**TINY, "translations": ["raw"]}), tmp_path / "raw-only")
    assert set(only[only.method == "adapter"].translation) == {"none", "raw"}


def test_tip_adapter_f_runs_only_when_asked_and_reaches_table_1(bundle, tmp_path):
    from fewshot_core.report import format_table1, summary_json, table1

    assert "tip-adapter-f" not in SweepConfig().methods  # opt in: it trains each unit's cache keys
    cfg = SweepConfig(**{**TINY, "seeds": [0, 1], "methods": ["adapter", "tip-adapter", "tip-adapter-f"]})
    df = run_sweep(bundle, cfg, tmp_path)
    tip_f = df[df.method == "tip-adapter-f"]
    assert len(tip_f) == 2 * 2 and {"epochs", "train_alpha", "alpha"} <= set(json.loads(tip_f.chosen.iloc[0]))
    row = summary_json(df, json.loads((tmp_path / "config.json").read_text()))["rows"][0]
    assert row["baselines"]["tip_adapter_f"]["at_grid_edge"] is False and "tip_adapter" in row["baselines"]
    assert "Tip-Adapter-F" in format_table1(table1(df))


def test_config_records_what_the_translators_learned_from(bundle, tmp_path):
    for protocol, expected in (("support", None), ("train-split", 12.0)):  # 16 per class minus 4 validation
        run_sweep(bundle, SweepConfig(**{**TINY, "shots": [1], "methods": ["adapter"], "protocol": protocol}), tmp_path / protocol)
        config = json.loads((tmp_path / protocol / "config.json").read_text())
        assert config["qformer_images_per_class"] == expected and config["sweep"]["protocol"] == protocol


def test_bad_settings_are_errors():
    with pytest.raises(FewShotError, match="Unknown translations"):
        SweepConfig(translations=["raw", "telepathy"]).validate()
    with pytest.raises(FewShotError, match="epochs must be >= 1"):
        SweepConfig(qformer_train=QFormerTrainConfig(epochs=0)).validate()
    with pytest.raises(FewShotError, match="at least one translation"):
        SweepConfig(translations=[]).validate()
    assert SweepConfig().protocol == "support" and SweepConfig().translations == ["raw", "mean-shift", "qformer"]


@pytest.mark.parametrize("flag", [["--seeds", "0"], ["--qformer-epochs", "0"], ["--val-per-class", "0"]])
def test_cli_refuses_zero_seeds_epochs_and_validation(flag, capsys, tmp_path):
    code = main(["reproduce", "--dataset", "synthetic", "--run-dir", str(tmp_path / "run"), *flag])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:")
    assert not (tmp_path / "run").exists()  # refused before any work


def test_damaged_config_is_a_clear_error(bundle, tmp_path):
    cfg = SweepConfig(**{**TINY, "shots": [1], "methods": ["adapter"], "translations": ["raw"]})
    run_sweep(bundle, cfg, tmp_path)
    (tmp_path / "config.json").write_text((tmp_path / "config.json").read_text()[:40])  # truncated
    with pytest.raises(FewShotError, match="config.json is damaged"):
        run_sweep(bundle, cfg, tmp_path)


@pytest.mark.parametrize("damage", ["truncate-json", "delete-npz"])
def test_damaged_unit_is_recomputed_to_the_same_numbers(bundle, tmp_path, monkeypatch, damage):
    cfg = SweepConfig(**{**TINY, "methods": ["adapter"], "translations": ["raw", "mean-shift"]})
    full = run_sweep(bundle, cfg, tmp_path)
    unit = tmp_path / "units" / "04-0.json"
    if damage == "truncate-json":
        unit.write_text(unit.read_text()[:30])
    else:
        unit.with_suffix(".npz").unlink()
    with pytest.raises(FewShotError, match="run the sweep again"):
        RunFolder(tmp_path).results()  # never read as if whole
    computed = []
    real = units._unit_rows
    monkeypatch.setattr(units, "_unit_rows", lambda b, c, split, *a: computed.append(split.shots) or real(b, c, split, *a))
    again = run_sweep(bundle, cfg, tmp_path)
    assert computed == [4]  # only the damaged unit
    key = ["method", "translation", "shots", "texts", "seed"]
    assert again.sort_values(key).reset_index(drop=True).equals(full.sort_values(key).reset_index(drop=True))
    assert "adapter-raw-2" in RunFolder(tmp_path).predictions("04-0")


def test_a_support_run_on_judge_pruned_descriptions_says_how_many_labels_pruned_them(bundle, tmp_path):
    """Judge with CLIP scores lines against training-image centroids: a run on a set pruned that way used more
    labels than its support and validation images, and its config and tables say how many."""
    from dataclasses import replace

    from fewshot_core.report import format_table1, summary_json, table1

    pruned = replace(
        bundle, provenance={**bundle.provenance, "description_provenance": {"pruned_by_judge": True, "pruned_with_labels_per_class": 12}}
    )
    df = run_sweep(pruned, SweepConfig(**{**TINY, "shots": [1]}), tmp_path / "pruned")
    config = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert config["descriptions_pruned_with_labels_per_class"] == 12
    text = format_table1(table1(df), None, config["sweep"]["val_per_class"], config["descriptions_pruned_with_labels_per_class"])
    assert "descriptions pruned with 12 training labels per class" in text
    summary = summary_json(df, config)
    assert summary["descriptions_pruned_with_labels_per_class"] == 12 and "pruned with 12" in summary["label_budget"]
    clean = run_sweep(bundle, SweepConfig(**{**TINY, "shots": [1]}), tmp_path / "clean")
    clean_config = json.loads((tmp_path / "clean" / "config.json").read_text())
    assert clean_config["descriptions_pruned_with_labels_per_class"] is None
    assert "pruned" not in summary_json(clean, clean_config)["label_budget"]

"""Integrity of what the lab stores: an edited, incomplete, truncated or swapped unit, a Q-Former entry copied over
another key, an edited run config or a replaced image is detected, never served, and recomputed to the original
numbers (issue 23, "silently wrong or lost")."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import fewshot_core.translator as translator
import fewshot_core.units as units
from fewshot_core import FewShotError
from fewshot_core.qformer import QFormerTrainConfig, load_qformer, load_qformer_config
from fewshot_core.runs import MARKER, RunFolder, list_runs, seal
from fewshot_core.storage import read_json
from fewshot_core.sweep import SweepConfig, run_sweep

from .fixtures import write_image

CFG = dict(
    shots=[1, 4],
    text_counts=[0, 2],
    seeds=[0],
    methods=["zeroshot", "adapter", "linear-probe"],
    qformer_size="tiny",
    qformer_train=QFormerTrainConfig(epochs=5),
    device="cpu",
)
KEY = ["method", "translation", "shots", "texts", "seed"]


def _sorted(df):
    return df.sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def original(small_bundle, tmp_path_factory):
    """A finished run (and its Q-Former cache) to copy and damage: (run folder, cache, results, predictions of 04-0)."""
    root = tmp_path_factory.mktemp("original")
    results = run_sweep(small_bundle, SweepConfig(**CFG), root / "run", qformer_cache=root / "cache")
    return root / "run", root / "cache", results, RunFolder(root / "run").predictions("04-0")


@pytest.fixture
def run(original, tmp_path):
    """A private copy of the finished run and its cache."""
    shutil.copytree(original[0], tmp_path / "run")
    shutil.copytree(original[1], tmp_path / "cache")
    return RunFolder(tmp_path / "run")


def _resweep(small_bundle, run: RunFolder, monkeypatch) -> tuple[list[int], object]:
    """Run the sweep again; return the shot counts it recomputed and the results."""
    computed = []
    real = units._unit_rows
    monkeypatch.setattr(units, "_unit_rows", lambda b, c, split, *a: computed.append(split.shots) or real(b, c, split, *a))
    results = run_sweep(small_bundle, SweepConfig(**CFG), run.path, qformer_cache=run.path.parent / "cache")
    return computed, results


def _edit_unit(run: RunFolder, unit: str, change, reseal: bool = False) -> None:
    """Change a unit's record in place; ``reseal``: recompute its checksum too (a careful forger), so only the schema check is left."""
    path = run.units / f"{unit}.json"
    record = read_json(path)
    change(record)
    path.write_text(json.dumps(seal(record) if reseal else record))


def test_an_edited_accuracy_is_never_served_and_is_recomputed(small_bundle, original, run, monkeypatch):
    _edit_unit(run, "01-0", lambda r: r["rows"][0].update(test_acc=0.99))
    assert "checksum does not match" in run.unit_problem("01-0")
    with pytest.raises(FewShotError, match=r"01-0.json is damaged \(its checksum does not match"):
        run.results()
    computed, again = _resweep(small_bundle, run, monkeypatch)
    assert computed == [1] and _sorted(again).equals(_sorted(original[2]))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r["rows"][0].pop("test_acc"), "row 0 lacks test_acc"),
        (lambda r: r["rows"][1].update(test_acc=1.5), "row 1 has test_acc 1.5, outside [0, 1]"),
        (lambda r: r["rows"][0].update(val_acc="0.9"), "row 0 has a val_acc of the wrong type (str)"),
        (lambda r: r["rows"][0].update(seed=3), "row 0 has seed 3, but the unit is 01-0"),
        (lambda r: r["rows"][0].update(shots=True), "row 0 has a shots of the wrong type (bool)"),
        (lambda r: r.update(rows={"not": "a list"}), "it has no list of rows"),
    ],
    ids=["field-dropped", "accuracy-above-1", "accuracy-a-string", "other-seed", "shots-a-bool", "rows-not-a-list"],
)
def test_a_resealed_unit_that_breaks_the_schema_is_recomputed(small_bundle, original, run, monkeypatch, change, problem):
    """Even with a matching checksum: a missing field would drop that seed out of a mean silently."""
    _edit_unit(run, "01-0", change, reseal=True)
    assert run.unit_problem("01-0") == problem and run.unit_record("01-0") is None and not run.done("01-0")
    computed, again = _resweep(small_bundle, run, monkeypatch)
    assert computed == [1] and _sorted(again).equals(_sorted(original[2]))


def test_a_truncated_predictions_file_is_recomputed_to_the_same_predictions(small_bundle, original, run, monkeypatch):
    npz = run.units / "04-0.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    assert run.unit_problem("04-0") == "its predictions file was changed or cut short" and run.predictions("04-0") == {}
    computed, again = _resweep(small_bundle, run, monkeypatch)
    assert computed == [4] and _sorted(again).equals(_sorted(original[2]))
    restored = run.predictions("04-0")
    assert sorted(restored) == sorted(original[3]) and all(np.array_equal(restored[k], original[3][k]) for k in restored)


def test_swapped_unit_files_are_both_recomputed(small_bundle, original, run, monkeypatch):
    for suffix in (".json", ".npz"):
        a, b = run.units / f"01-0{suffix}", run.units / f"04-0{suffix}"
        a.rename(a.with_suffix(".swap"))
        b.rename(a)
        a.with_suffix(".swap").rename(b)
    assert run.unit_problem("01-0") == "it is the record of unit '04-0' (files swapped or copied)"
    assert run.unit_problem("04-0") == "it is the record of unit '01-0' (files swapped or copied)"
    computed, again = _resweep(small_bundle, run, monkeypatch)
    assert sorted(computed) == [1, 4] and _sorted(again).equals(_sorted(original[2]))


def test_a_qformer_entry_copied_over_another_key_is_retrained(small_bundle, original, run, monkeypatch):
    entries = sorted((run.path.parent / "cache" / "qformers").glob("*.safetensors"))
    assert len(entries) == 2  # support protocol: one translator per (shots, seed)
    shutil.copyfile(entries[0], entries[1])  # the weights are intact and their own checksum matches: only the key does not
    arch = load_qformer_config("tiny")
    dim = small_bundle.dim
    assert load_qformer(entries[0], arch, dim, dim) is not None
    assert load_qformer(entries[1], arch, dim, dim) is None and not entries[1].exists()  # refused and deleted
    trained = []
    real = translator.Translator._train
    monkeypatch.setattr(translator.Translator, "_train", lambda self, idx, *a: trained.append(len(idx)) or real(self, idx, *a))
    for unit in ("01-0", "04-0"):
        (run.units / f"{unit}.json").unlink()
    computed, again = _resweep(small_bundle, run, monkeypatch)
    assert sorted(computed) == [1, 4] and len(trained) == 1  # the intact entry is served, the copied-over one retrained
    assert _sorted(again).equals(_sorted(original[2])) and entries[1].exists()


def test_an_edited_run_config_is_refused_not_served(small_bundle, run, tmp_path):
    config = read_json(run.path / "config.json")
    config["qformer_images_per_class"] = 99
    (run.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FewShotError, match="config.json was changed after the run wrote it"):
        run.config()
    with pytest.raises(FewShotError, match="config.json was changed after the run wrote it"):
        run_sweep(small_bundle, SweepConfig(**CFG), run.path)
    shutil.copytree(run.path, tmp_path / "cache-root" / "runs" / "edited")
    assert list_runs(tmp_path / "cache-root") == []  # the app's run list skips it


@pytest.mark.parametrize("config", ["[]", "{}", '{"key": 1', ""])
def test_a_run_folder_of_ours_with_a_damaged_config_is_one_clear_error(small_bundle, tmp_path, config):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / MARKER).write_text("{}")
    (tmp_path / "run" / "config.json").write_text(config)
    with pytest.raises(FewShotError, match=r"config.json (is damaged|was changed)"):
        run_sweep(small_bundle, SweepConfig(**CFG), tmp_path / "run")


def test_a_users_folder_is_never_written_into(small_bundle, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.csv").write_text("my,own\n1,2\n")
    with pytest.raises(FewShotError, match="is not a run folder of this tool"):
        run_sweep(small_bundle, SweepConfig(**CFG), mine)
    assert sorted(p.name for p in mine.iterdir()) == ["results.csv"] and (mine / "results.csv").read_text() == "my,own\n1,2\n"


def test_a_run_folder_from_before_the_marker_is_refused_with_a_clear_message(small_bundle, run):
    (run.path / MARKER).unlink()
    config = read_json(run.path / "config.json")
    del config["checksum"]
    (run.path / "config.json").write_text(json.dumps(config))  # as older versions wrote it
    before = sorted(p.name for p in run.path.rglob("*"))
    with pytest.raises(FewShotError, match="holds a run without the .fewshot-run file .* so it is not resumed"):
        run_sweep(small_bundle, SweepConfig(**CFG), run.path)
    assert sorted(p.name for p in run.path.rglob("*")) == before  # nothing written, nothing adopted
    (run.path / MARKER).write_text("{}")  # with a marker but no checksum: the config is refused as an older version's
    with pytest.raises(FewShotError, match="written by an older version of Few-shot Lab"):
        run.config()


def _bmp_tree(root):
    """A folder dataset of BMP images: every 40x40 BMP has the same size, whatever it shows."""
    for c, name in enumerate(("cat", "dog")):
        for j in range(3):
            write_image(root / name / f"{j}.bmp", seed=10 * c + j, fmt="BMP")
    return root


@pytest.mark.parametrize("how", ["overwritten-in-place", "replaced-by-rename"])
def test_an_image_replaced_with_the_same_size_and_mtime_is_not_served_stale(tiny_backbone, tmp_path, how):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.features import FeatureCache, image_features

    tree = _bmp_tree(tmp_path / "tree")
    cache = FeatureCache(tmp_path / "cache")
    dataset = load_dataset("folder", tree)
    first = image_features(cache, tiny_backbone, dataset, "train", num_workers=0)
    target = dataset.split("train").paths[0]
    before = os.stat(target)
    other = tmp_path / "other.bmp"
    write_image(other, seed=999, fmt="BMP")
    assert other.stat().st_size == before.st_size
    if how == "overwritten-in-place":
        target.write_bytes(other.read_bytes())
    else:
        os.replace(other, target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old size and mtime: cp -p, an unpacked archive
    assert (os.stat(target).st_size, os.stat(target).st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    again = image_features(cache, tiny_backbone, load_dataset("folder", tree), "train", num_workers=0)
    assert not again.cache_hit and not np.allclose(again.features[0], first.features[0])
    assert np.array_equal(again.features[1:], first.features[1:])


def test_removing_the_marker_does_not_launder_an_edited_config(small_bundle, run):
    (run.path / MARKER).unlink()
    config = read_json(run.path / "config.json")
    config["qformer_images_per_class"] = 99  # edited, its checksum kept: not a legacy config
    (run.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FewShotError, match="holds a run without the .fewshot-run file"):
        run_sweep(small_bundle, SweepConfig(**CFG), run.path)
    assert not (run.path / MARKER).exists()

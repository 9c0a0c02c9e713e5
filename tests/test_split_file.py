"""CoOp-format split files: lists checked item by item, path resolution, errors, and the validation list end to end."""

import hashlib
import json

import numpy as np
import pytest

from fewshot_core.cli import main
from fewshot_core.datasets import load_dataset
from fewshot_core.datasets.sampling import sample_few_shot, validation_indices
from fewshot_core.datasets.split_file import read_split_file
from fewshot_core.errors import FewShotError

from .fixtures_datasets import CAR_CLASSES, make_cars, make_tree

# CoOp's Pets split file style: paths relative to images/, labels from 0, lowercase class names.
PETS_SPLIT = {
    "train": [["Abyssinian_1.jpg", 0, "abyssinian"], ["Abyssinian_2.jpg", 0, "abyssinian"], ["american_bulldog_1.jpg", 1, "american_bulldog"]]
    + [["Bengal_1.jpg", 2, "bengal"], ["german_shorthaired_3.jpg", 3, "german_shorthaired"], ["german_shorthaired_2.jpg", 3, "german_shorthaired"]],
    "val": [["Abyssinian_4.jpg", 0, "abyssinian"], ["american_bulldog_2.jpg", 1, "american_bulldog"], ["Bengal_2.jpg", 2, "bengal"]],
    "test": [["Bengal_5.jpg", 2, "bengal"], ["german_shorthaired_6.jpg", 3, "german_shorthaired"], ["Abyssinian_6.jpg", 0, "abyssinian"]],
}


def write_split(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_pets_split_file_lists_item_by_item(pets_root, tmp_path):
    split_file = write_split(tmp_path / "split_zhou_OxfordPets.json", PETS_SPLIT)
    ds = load_dataset("pets", pets_root, split_file)
    assert sorted(ds.splits) == ["test", "train", "val"]
    for name, rows in PETS_SPLIT.items():
        split = ds.split(name)
        assert [p.relative_to(ds.root).as_posix() for p in split.paths] == [f"images/{r[0]}" for r in rows]
        assert split.labels.tolist() == [r[1] for r in rows]
    assert ds.display_names == ["Abyssinian", "American Bulldog", "Bengal", "German Shorthaired"]
    sha = hashlib.sha256((tmp_path / "split_zhou_OxfordPets.json").read_bytes()).hexdigest()
    assert ds.provenance["split_file_sha256"] == sha
    assert ds.provenance["split_file_counts"] == {"train": 6, "val": 3, "test": 3}


def test_paths_relative_to_the_root_and_other_label_numbers(pets_root, tmp_path):
    """Paths may start at the dataset folder; the file's own label numbers are mapped by class name."""
    rows = {k: [[f"images/{p}", 10 + y, n.upper()] for p, y, n in v] for k, v in PETS_SPLIT.items()}
    ds = load_dataset("pets", pets_root, write_split(tmp_path / "s.json", rows))
    assert ds.split("test").labels.tolist() == [2, 3, 0]
    assert ds.split("val").paths[0] == ds.root / "images" / "Abyssinian_4.jpg"


def test_missing_images_are_reported_per_list(pets_root, tmp_path):
    data = json.loads(json.dumps(PETS_SPLIT))
    data["val"].append(["Abyssinian_99.jpg", 0, "abyssinian"])
    data["test"] += [["Bengal_98.jpg", 2, "bengal"], ["Bengal_99.jpg", 2, "bengal"]]
    with pytest.raises(FewShotError, match=r"do not exist \(1 of 4 in val, 2 of 5 in test; e.g. 'Abyssinian_99.jpg'\)"):
        load_dataset("pets", pets_root, write_split(tmp_path / "s.json", data))


def test_a_split_file_of_another_dataset_is_refused(pets_root, tmp_path):
    data = {"train": [["image_00001.jpg", 0, "pink primrose"]], "val": [], "test": [["image_00002.jpg", 0, "pink primrose"]]}
    with pytest.raises(FewShotError, match="1 class.*'pink primrose'.*another dataset"):
        load_dataset("pets", pets_root, write_split(tmp_path / "s.json", data))


def test_one_label_with_two_names_is_refused(pets_root, tmp_path):
    data = json.loads(json.dumps(PETS_SPLIT))
    data["test"][0] = ["Bengal_5.jpg", 0, "bengal"]
    with pytest.raises(FewShotError, match="label 0 is used for both 'abyssinian' and 'bengal'"):
        load_dataset("pets", pets_root, write_split(tmp_path / "s.json", data))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"train": []}), "needs 'train' and 'test' lists"),
        (json.dumps({"train": [["a.jpg", "0", "x"]], "test": []}), r"train\[0\] is \['a.jpg', '0', 'x'\]"),
        (json.dumps({"train": [["a.jpg", 0, "x"]], "test": []}), "empty test list"),
    ],
)
def test_malformed_split_files(tmp_path, content, message):
    (tmp_path / "s.json").write_text(content)
    with pytest.raises(FewShotError, match=message):
        read_split_file(tmp_path / "s.json")
    with pytest.raises(FewShotError, match="does not exist"):
        read_split_file(tmp_path / "missing.json")


def test_a_subset_of_classes(pets_root, tmp_path):
    data = {k: [r for r in v if r[2] in ("bengal", "german_shorthaired")] for k, v in PETS_SPLIT.items()}
    ds = load_dataset("pets", pets_root, write_split(tmp_path / "s.json", data))
    assert ds.display_names == ["Bengal", "German Shorthaired"]
    assert ds.split("train").labels.tolist() == [0, 1, 1] and ds.split("test").labels.tolist() == [0, 1]
    assert ds.notes == ["The split file uses 2 of the dataset's 4 classes; the others are left out."]


def test_images_listed_twice_are_noted(pets_root, tmp_path):
    data = {**PETS_SPLIT, "test": PETS_SPLIT["test"] + [PETS_SPLIT["train"][0]]}
    ds = load_dataset("pets", pets_root, write_split(tmp_path / "s.json", data))
    assert ds.notes == ["The split file lists 1 image(s) more than once (within or across lists)."] and len(ds.split("test")) == 4


def test_stanford_cars_with_coop_names(tmp_path):
    """CoOp writes the year first ("2012 Audi S4 Sedan"); paths start at stanford_cars/."""
    year_first = [" ".join([c.split()[-1], *c.split()[:-1]]) for c in CAR_CLASSES]
    data = {
        "train": [["cars_train/00001.jpg", 0, year_first[0]], ["cars_train/00002.jpg", 1, year_first[1]], ["cars_train/00003.jpg", 2, year_first[2]]],
        "val": [["cars_train/00004.jpg", 0, year_first[0]]],
        "test": [["cars_test/00001.jpg", 2, year_first[2]], ["cars_test/00004.jpg", 1, year_first[1]]],
    }
    ds = load_dataset("stanford-cars", make_cars(tmp_path / "cars"), write_split(tmp_path / "split_zhou_StanfordCars.json", data))
    assert ds.split("test").labels.tolist() == [2, 1] and ds.split("val").labels.tolist() == [0]
    assert ds.split("test").paths[1] == ds.root / "cars_test" / "00004.jpg"


def test_folder_dataset_with_a_split_file(tmp_path):
    root = make_tree(tmp_path / "tree", {"001.cat": 3, "002.dog": 3})
    data = {"train": [["001.cat/img_000.jpg", 0, "cat"], ["002.dog/img_001.jpg", 1, "dog"]], "test": [["002.dog/img_002.jpg", 1, "dog"]]}
    ds = load_dataset("folder", root, write_split(tmp_path / "s.json", data))
    assert sorted(ds.splits) == ["test", "train"] and ds.split("train").labels.tolist() == [0, 1]


def test_the_validation_list_replaces_the_draw():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    fixed = np.array([9, 8])
    assert validation_indices(labels, 4, fixed_val=fixed).tolist() == [8, 9]
    split = sample_few_shot(labels, 10, seed=0, fixed_val=fixed)
    assert split.val.tolist() == [8, 9] and sorted(split.support.tolist()) == list(range(8))
    assert sample_few_shot(labels, 1, seed=0, val_per_class=1).val.tolist() == validation_indices(labels, 1).tolist()  # no list: the draw


def test_verify_dataset_with_a_split_file(pets_root, tmp_path, capsys):
    split_file = write_split(tmp_path / "s.json", PETS_SPLIT)
    assert main(["verify-dataset", "--dataset", "pets", "--root", str(pets_root), "--split-file", split_file, "--quick"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["num_train"], report["num_val"], report["num_test"]) == (6, 3, 3)
    assert report["matches_official_counts"] is None and report["provenance"]["split_file"] == str((tmp_path / "s.json").resolve())


def test_bundle_and_sweep_use_the_files_validation_list(pets_root, tmp_path, tiny_backbone):
    """Abyssinian_4.jpg (in val) is unreadable: it is dropped, and the validation rows still point at the val images."""
    from fewshot_core.assemble import bundle_from_dataset
    from fewshot_core.baselines import accuracy, zero_shot_predict
    from fewshot_core.features import FeatureCache
    from fewshot_core.sweep import SweepConfig, run_sweep

    ds = load_dataset("pets", pets_root, write_split(tmp_path / "s.json", PETS_SPLIT))
    mapping = {name: [f"a photo of a {name}", f"a {name} pet"] for name in ds.display_names}
    bundle = bundle_from_dataset(ds, tiny_backbone, FeatureCache(tmp_path / "cache"), mapping)
    assert len(bundle.train_labels) == 6 + 2 and bundle.val_indices.tolist() == [6, 7]
    assert bundle.train_labels[bundle.val_indices].tolist() == [1, 2]  # American Bulldog, Bengal
    assert bundle.provenance["split_file_sha256"] == ds.provenance["split_file_sha256"]
    cfg = SweepConfig(shots=[1], text_counts=[0], seeds=[0], methods=["zeroshot", "linear-probe"], device="cpu")
    results = run_sweep(bundle, cfg, tmp_path / "run")
    zs_val = accuracy(zero_shot_predict(bundle.train_features[[6, 7]], bundle.class_text_features), np.array([1, 2]))
    assert results[results.method == "zeroshot"].val_acc.tolist() == [pytest.approx(zs_val)]  # selected on the file's val images
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["features"]["split_file_sha256"] == ds.provenance["split_file_sha256"]


def test_features_command_encodes_the_val_list(pets_root, tmp_path, capsys):
    split_file = write_split(tmp_path / "s.json", PETS_SPLIT)
    args = ["features", "--dataset", "pets", "--root", str(pets_root), "--split-file", split_file]
    assert main([*args, "--model", "fewshot-tiny", "--pretrained", "", "--device", "cpu", "--cache", str(tmp_path / "c")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k]["images"] for k in ("train", "val", "test")} == {"train": 6, "val": 3, "test": 3}
    assert summary["val"]["unreadable"] == 1  # Abyssinian_4.jpg is truncated

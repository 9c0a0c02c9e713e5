"""torchvision's fine-grained sets through the lab's dataset interface, on miniature layouts (offline)."""

import json

import numpy as np
import pytest

from fewshot_core.baselines import templates_for
from fewshot_core.cli import main
from fewshot_core.datasets import dataset_title, list_datasets, load_dataset, official_counts
from fewshot_core.datasets.download import download_dataset, downloadable_datasets
from fewshot_core.errors import FewShotError

from . import fixtures_datasets as F


@pytest.fixture
def flowers_md5_ok(monkeypatch):
    """The miniature .mat files cannot have the official MD5s; skip the check as torchvision's own tests do."""
    monkeypatch.setattr("torchvision.datasets.flowers102.check_integrity", lambda *args, **kwargs: True)


def _labels(ds, split):
    return ds.split(split).labels.tolist()


def test_registry_lists_the_torchvision_sets_with_titles():
    names = list_datasets()
    for name in ("flowers102", "fgvc-aircraft", "food101", "dtd", "stanford-cars", "folder", "cub", "pets", "demo"):
        assert name in names
    assert dataset_title("fgvc-aircraft") == "FGVC-Aircraft (variants)"
    assert official_counts("flowers102") == {"num_classes": 102, "num_train": 1020, "num_val": 1020, "num_test": 6149}
    assert "stanford-cars" not in downloadable_datasets() and "food101" in downloadable_datasets()


def test_flowers102_official_splits_and_names(tmp_path, flowers_md5_ok):
    ds = load_dataset("flowers102", F.make_flowers(tmp_path))
    assert ds.root == (tmp_path / "flowers-102").resolve()
    assert ds.num_classes == 102 and ds.class_names[0] == "pink primrose"
    assert ds.class_names[59] == "pink-yellow dahlia?" and ds.display_names[59] == "pink-yellow dahlia"
    for split, labels in F.FLOWER_LABELS.items():
        assert _labels(ds, split) == [y - 1 for y in labels]
    assert ds.split("val").paths[0].name == "image_00007.jpg"  # ids run train, val, test in the fixture
    assert all(p.is_file() for s in ds.splits.values() for p in s.paths)


def test_flowers102_with_wrong_checksums_is_a_clear_error(tmp_path):
    with pytest.raises(FewShotError, match="corrupted.*flowers-102/ with jpg/.*download --dataset flowers102"):
        load_dataset("flowers102", F.make_flowers(tmp_path))


def test_aircraft_variants_train_val_test(tmp_path):
    ds = load_dataset("fgvc-aircraft", F.make_aircraft(tmp_path))
    assert ds.class_names == F.AIRCRAFT_VARIANTS and ds.display_names == F.AIRCRAFT_VARIANTS
    for split, labels in F.AIRCRAFT_SPLITS.items():
        assert _labels(ds, split) == labels
    assert ds.provenance["annotation_level"] == "variant"
    assert ds.split("test").paths[0].parent == ds.root / "data" / "images"


def test_food101_readable_names_and_no_val(tmp_path):
    ds = load_dataset("food101", F.make_food(tmp_path))
    assert ds.class_names == F.FOOD_CLASSES
    assert ds.display_names == ["apple pie", "baby back ribs", "beignets"]
    assert sorted(ds.splits) == ["test", "train"]
    assert np.bincount(ds.split("train").labels).tolist() == [3, 3, 3] and len(ds.split("test")) == 6
    assert ds.split("train").paths[0] == ds.root / "images" / "apple_pie" / "101.jpg"


def test_dtd_partition_one(tmp_path):
    ds = load_dataset("dtd", F.make_dtd(tmp_path))
    assert ds.root == (tmp_path / "dtd" / "dtd").resolve()
    assert ds.class_names == F.DTD_CLASSES
    assert [len(ds.split(s)) for s in ("train", "val", "test")] == [6, 3, 6]
    assert ds.split("val").paths[1].relative_to(ds.root).as_posix() == "images/blotchy/blotchy_0003.jpg"
    assert ds.provenance["partition"] == 1


def test_stanford_cars_from_mat_files(tmp_path):
    ds = load_dataset("stanford-cars", F.make_cars(tmp_path))
    assert ds.class_names == F.CAR_CLASSES
    for split, labels in F.CAR_LABELS.items():
        assert _labels(ds, split) == [y - 1 for y in labels]
    assert ds.split("test").paths[2].relative_to(ds.root).as_posix() == "cars_test/00003.jpg"


@pytest.mark.parametrize(
    ("name", "make", "inside"),
    [("fgvc-aircraft", F.make_aircraft, "fgvc-aircraft-2013b"), ("dtd", F.make_dtd, "dtd"), ("dtd", F.make_dtd, "dtd/dtd")],
)
def test_root_may_be_the_dataset_folder_itself(tmp_path, name, make, inside):
    expected = load_dataset(name, make(tmp_path / "data"))
    again = load_dataset(name, tmp_path / "data" / inside)
    assert again.root == expected.root and _labels(again, "train") == _labels(expected, "train")


@pytest.mark.parametrize("name", ["flowers102", "fgvc-aircraft", "food101", "dtd", "stanford-cars"])
def test_wrong_folder_names_the_expected_layout(tmp_path, name):
    F.make_tree(tmp_path / "photos", {"a": 1})
    with pytest.raises(FewShotError, match="does not hold .* layout") as err:
        load_dataset(name, tmp_path / "photos")
    assert ("get a copy" in str(err.value)) == (name == "stanford-cars")


def test_a_missing_label_file_is_a_clear_error(tmp_path):
    root = F.make_aircraft(tmp_path)
    (root / "fgvc-aircraft-2013b" / "data" / "images_variant_val.txt").unlink()
    with pytest.raises(FewShotError, match="images_variant_val.txt"):
        load_dataset("fgvc-aircraft", root)


def test_splits_that_disagree_on_classes_are_refused(tmp_path):
    root = F.make_food(tmp_path)
    meta = root / "food-101" / "meta" / "test.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "churros": []}))
    with pytest.raises(FewShotError, match="other classes"):
        load_dataset("food101", root)


def test_download_uses_torchvision_code(tmp_path, monkeypatch):
    """torchvision's download function is called (here it writes the miniature instead of fetching)."""
    calls = []

    def fake_download(url, download_root, md5=None, **kwargs):
        calls.append((url, md5))
        F.make_food(tmp_path / "fresh")
        (tmp_path / "fresh" / "food-101").rename(tmp_path / "data" / "food-101")

    monkeypatch.setattr("torchvision.datasets.food101.download_and_extract_archive", fake_download)
    progress = []
    target = download_dataset("food101", tmp_path / "data", on_progress=lambda d, t, m: progress.append(d))
    assert calls == [("http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz", "85eeb15f3717b99a5da872d97d918f87")]
    assert load_dataset("food101", target).num_classes == 3 and progress == [0, 1]
    download_dataset("food101", tmp_path / "data")  # already there: torchvision skips it
    assert len(calls) == 1


def test_stanford_cars_cannot_be_downloaded(tmp_path, capsys):
    assert main(["download", "--dataset", "stanford-cars", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No download is known for Stanford Cars") and err.count("\n") == 1


def test_verify_dataset_reports_a_torchvision_set(tmp_path, capsys, flowers_md5_ok):
    assert main(["verify-dataset", "--dataset", "flowers102", "--root", str(F.make_flowers(tmp_path))]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["num_train"], report["num_val"], report["num_test"]) == (6, 3, 7)
    assert report["matches_official_counts"] is False and report["missing_images"] == [] and report["unreadable_images"] == []
    assert report["class_names"][59] == "pink-yellow dahlia" and report["provenance"]["reader"] == "torchvision.datasets.Flowers102"


def test_prompt_templates_name_the_domain():
    assert templates_for("food101") == ["a photo of {}, a type of food."]
    assert "aircraft" in templates_for("fgvc-aircraft")[0] and "texture" in templates_for("dtd")[0]

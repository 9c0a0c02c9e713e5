"""``--dataset folder``: ImageFolder-style trees, the stratified split, and the errors for bad trees."""

import json
from pathlib import Path

import numpy as np
import pytest

from fewshot_core.cli import main
from fewshot_core.datasets import cub, load_dataset
from fewshot_core.datasets.folder import FolderSplitConfig, display_name, load
from fewshot_core.datasets.verify import verify_dataset
from fewshot_core.errors import FewShotError

from .fixtures import write_truncated
from .fixtures_datasets import make_tree

CLASSES = {"001.Red_Fox": 10, "002.arctic_fox": 7, "003.Fennec": 4}


@pytest.fixture
def tree(tmp_path):
    root = make_tree(tmp_path / "foxes", CLASSES)
    (root / "README.txt").write_text("my foxes")
    (root / "002.arctic_fox" / "labels.csv").write_text("a,b")
    (root / ".DS_Store").write_bytes(b"\0")  # hidden: skipped, not counted
    nested = root / "003.Fennec" / "desert"
    make_tree(nested.parent, {"desert": 1}, seed=900)  # an image one level deeper still belongs to Fennec
    return root


def test_display_names_follow_cub_rules():
    for name in ("001.Black_footed_Albatross", "200.Common_Yellowthroat"):
        assert display_name(name) == cub.display_name(name)
    assert display_name("12 - golden_retriever") == "golden retriever"
    assert display_name("St._Bernard") == "St. Bernard" and display_name("7up") == "7up"


def test_stratified_split_is_deterministic_and_recorded(tree):
    ds = load_dataset("folder", tree)
    assert ds.class_names == list(CLASSES) and ds.display_names == ["Red Fox", "arctic fox", "Fennec"]
    train, test = ds.split("train"), ds.split("test")
    assert np.bincount(test.labels).tolist() == [3, 2, 2]  # round(0.3 * n) of 10, 7 and 5 images
    assert np.bincount(train.labels).tolist() == [7, 5, 3]
    assert not set(train.paths) & set(test.paths)
    assert len(set(train.paths) | set(test.paths)) == 22 and all(p.suffix == ".jpg" for p in train.paths + test.paths)
    assert any(p.parent.name == "desert" for p in train.paths + test.paths)
    assert ds.provenance["folder_split"] == "stratified"
    assert (ds.provenance["test_fraction"], ds.provenance["split_seed"]) == (0.3, 0)
    assert load_dataset("folder", tree).split("test").paths == test.paths
    assert load(tree, FolderSplitConfig(seed=1)).split("test").paths != test.paths


def test_non_image_files_are_ignored_and_counted(tree):
    ds = load_dataset("folder", tree)
    assert ds.provenance["ignored_files"] == 2
    assert ds.notes == ["Ignored 2 non-image file(s), e.g. README.txt, 002.arctic_fox/labels.csv."]


def test_adding_a_class_leaves_the_other_splits_alone(tree):
    before = load_dataset("folder", tree).split("test").paths
    make_tree(tree, {"000.Kit_Fox": 5}, seed=500)
    after = load_dataset("folder", tree).split("test").paths
    assert set(before) <= set(after) and len(after) == len(before) + 2


def test_a_class_with_one_image_has_no_test_image(tmp_path):
    ds = load_dataset("folder", make_tree(tmp_path / "t", {"a": 3, "b": 1}))
    assert ds.split("train").labels.tolist() == [0, 0, 1] and ds.split("test").labels.tolist() == [0]
    assert ds.notes == ["No test images for 1 class(es), e.g. b; accuracy on them is not measured."]


def test_train_test_val_folders_give_the_splits(tmp_path):
    root = tmp_path / "tree"
    make_tree(root / "train", {"cat": 3, "dog": 4})
    make_tree(root / "val", {"cat": 1, "dog": 1}, seed=50)
    make_tree(root / "test", {"cat": 2}, seed=90)  # a class may be absent from test
    ds = load_dataset("folder", root)
    assert ds.class_names == ["cat", "dog"]
    assert ds.split("train").labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert ds.split("val").labels.tolist() == [0, 1] and ds.split("test").labels.tolist() == [0, 0]
    assert ds.notes == ["No test images for 1 class(es), e.g. dog; accuracy on them is not measured."]
    assert ds.split("test").paths[0].relative_to(ds.root).as_posix() == "test/cat/img_000.jpg"
    assert ds.provenance["folder_split"] == "folders" and ds.provenance["split_folders"] == ["test", "train", "val"]


def test_unreadable_images_are_listed_by_verify(tree, capsys):
    write_truncated(tree / "001.Red_Fox" / "broken.jpg")
    report = verify_dataset("folder", tree)
    assert report["unreadable_images"] == ["001.Red_Fox/broken.jpg"] and report["num_classes"] == 3
    assert report["num_train"] + report["num_test"] == 23 and report["ignored_files"] == 2
    assert report["matches_official_counts"] is None and report["provenance"]["test_fraction"] == 0.3
    assert main(["verify-dataset", "--dataset", "folder", "--root", str(tree)]) == 0
    assert json.loads(capsys.readouterr().out)["folder_names"] == ["001.Red_Fox", "002.arctic_fox", "003.Fennec"]


def test_features_cache_tells_two_trees_with_the_same_names_apart(tmp_path):
    a = load_dataset("folder", make_tree(tmp_path / "a", {"x": 3, "y": 3}, seed=1))
    b = load_dataset("folder", make_tree(tmp_path / "b", {"x": 3, "y": 3}, seed=2))
    assert a.provenance["content_id"] != b.provenance["content_id"]  # same relative paths and labels, other image files
    assert load_dataset("folder", tmp_path / "a").provenance["content_id"] == a.provenance["content_id"]


def _error(root) -> str:
    with pytest.raises(FewShotError) as err:
        load_dataset("folder", root)
    return str(err.value)


def test_empty_tree(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "has no class folders" in _error(tmp_path / "empty")


def test_single_class(tmp_path):
    assert "single class (only)" in _error(make_tree(tmp_path / "t", {"only": 3}))


def test_class_folder_without_images(tmp_path):
    root = make_tree(tmp_path / "t", {"a": 2, "b": 2})
    (root / "c").mkdir()
    (root / "c" / "notes.txt").write_text("no images here")
    assert "Class folder(s) c in" in _error(root) and "hold no images" in _error(root)


def test_image_where_a_class_folder_should_be(tmp_path):
    root = make_tree(tmp_path / "t", {"a": 2, "b": 2})
    make_tree(tmp_path / "x", {"stray": 1})
    (tmp_path / "x" / "stray" / "img_000.jpg").rename(root / "loose.jpg")
    assert "loose.jpg is an image where a class folder should be" in _error(root)


def test_root_that_is_a_file_or_missing(tmp_path):
    (tmp_path / "photos.zip").write_bytes(b"PK")
    assert "is a file, not a folder" in _error(tmp_path / "photos.zip")
    assert "does not exist" in _error(tmp_path / "nope")


def test_split_folders_need_train_and_test(tmp_path):
    make_tree(tmp_path / "t" / "train", {"a": 2, "b": 2})
    assert "no test/ folder" in _error(tmp_path / "t")
    make_tree(tmp_path / "t" / "test", {"a": 1, "c": 1})
    assert "Class(es) c have test or val images but no train/ folder" in _error(tmp_path / "t")


def test_clashing_display_names(tmp_path):
    assert "both read as 'cat'" in _error(make_tree(tmp_path / "t", {"1.cat": 2, "2.cat": 2}))


def test_cli_error_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["verify-dataset", "--dataset", "folder", "--root", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_app_data_page_reads_a_folder_and_a_split_file(tree, tmp_path):
    """The sidebar's picker lists the registry; the Data page shows the folder and a split file's validation list."""
    from streamlit.testing.v1 import AppTest

    from fewshot_core.settings import LabSettings, save_settings

    from .test_split_file import write_split

    save_settings(LabSettings(dataset="folder", dataset_root=str(tree)))
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    picker = next(w for w in app.sidebar.selectbox if w.label == "Dataset")
    assert picker.options[-1] == "Your own image folder" and "Stanford Cars" in picker.options
    assert next(m for m in app.metric if m.label == "Classes").value == "3"
    assert any("Ignored 2 non-image file(s)" in c.value for c in app.caption)
    rows = [["001.Red_Fox/img_000.jpg", 0, "Red Fox"], ["002.arctic_fox/img_000.jpg", 1, "arctic fox"], ["003.Fennec/img_000.jpg", 2, "Fennec"]]
    split_file = write_split(tmp_path / "s.json", {"train": rows, "val": rows[:2], "test": rows[1:]})
    next(w for w in app.sidebar.text_input if w.label == "Split file (optional)").set_value(split_file).run()
    assert not app.exception, app.exception
    assert any("the dataset's own list of 2 images" in c.value for c in app.caption)
    assert next(m for m in app.metric if m.label == "Test images").value == "2"


def test_image_extensions_are_imagefolders():
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from fewshot_core.datasets.folder import IMAGE_EXTENSIONS

    assert IMAGE_EXTENSIONS == IMG_EXTENSIONS

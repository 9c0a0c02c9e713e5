import numpy as np
import pytest
import torchvision

from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.datasets.images import find_unreadable, load_rgb
from fewshot_core.datasets.verify import verify_dataset

from .fixtures import CUB_CLASSES, make_cub


def test_cub_official_layout(cub_root):
    ds = load_dataset("cub", cub_root)
    assert ds.num_classes == 3
    assert ds.class_names == CUB_CLASSES
    assert ds.display_names == ["Black footed Albatross", "Laysan Albatross", "Sooty Albatross"]
    assert len(ds.split("train")) == 12 and len(ds.split("test")) == 6
    assert np.bincount(ds.split("train").labels).tolist() == [4, 4, 4]
    assert all(p.is_file() for p in ds.split("test").paths)


def test_cub_attributes_beside_the_folder(cub_root):
    ds = load_dataset("cub", cub_root)
    assert ds.attributes.names[1] == "has_wing_color::black"
    assert ds.attributes.values.shape == (3, 3)
    assert ds.attributes.values[1, 2] == pytest.approx(33.3)


def test_cub_without_attributes(tmp_path):
    ds = load_dataset("cub", make_cub(tmp_path, attributes=False))
    assert ds.attributes is None


@pytest.mark.parametrize("sub", ["", "CUB_200_2011"])
def test_cub_root_is_folder_or_parent(cub_root, sub):
    assert load_dataset("cub", cub_root / sub).root == cub_root / "CUB_200_2011"


def test_pets_matches_torchvision(pets_root):
    ds = load_dataset("pets", pets_root)
    for ours, theirs in (("train", "trainval"), ("test", "test")):
        tv = torchvision.datasets.OxfordIIITPet(str(pets_root), split=theirs, download=False)
        assert [p.name for p in ds.split(ours).paths] == [p.name for p in tv._images]
        assert ds.split(ours).labels.tolist() == tv._labels
        assert ds.display_names == tv.classes
    assert ds.display_names == ["Abyssinian", "American Bulldog", "Bengal", "German Shorthaired"]
    assert ds.class_names[1] == "american_bulldog"


@pytest.mark.parametrize("sub", ["", "oxford-iiit-pet"])
def test_pets_root_is_folder_or_parent(pets_root, sub):
    assert load_dataset("pets", pets_root / sub).num_classes == 4


def test_wrong_folder_is_a_clear_error(tmp_path, pets_root):
    with pytest.raises(FewShotError, match="not a CUB-200-2011 folder"):
        load_dataset("cub", pets_root)
    with pytest.raises(FewShotError, match="does not exist"):
        load_dataset("pets", tmp_path / "nope")
    with pytest.raises(FewShotError, match="Unknown dataset"):
        load_dataset("imagenet", tmp_path)


def test_damaged_annotation_is_a_clear_error(pets_root):
    ann = pets_root / "oxford-iiit-pet" / "annotations" / "test.txt"
    ann.write_text(ann.read_text() + "lonely_line\n")
    with pytest.raises(FewShotError, match="expected 2 fields"):
        load_dataset("pets", pets_root)


def test_odd_images_are_converted_and_broken_ones_listed(pets_root):
    images = sorted((pets_root / "oxford-iiit-pet" / "images").glob("*.jpg"))
    bad = find_unreadable(images)
    assert [p.name for p in bad] == ["Abyssinian_4.jpg"]  # the truncated one
    for name in ["Abyssinian_1.jpg", "Abyssinian_2.jpg", "Abyssinian_3.jpg"]:  # L, CMYK, RGBA-PNG
        img = load_rgb(pets_root / "oxford-iiit-pet" / "images" / name)
        assert img.mode == "RGB" and img.size == (40, 40)


def test_alpha_is_composited_on_white(tmp_path):
    from PIL import Image

    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_rgb(tmp_path / "clear.png").getpixel((0, 0)) == (255, 255, 255)


def test_verify_report(pets_root):
    (pets_root / "oxford-iiit-pet" / "images" / "Bengal_6.jpg").unlink()
    report = verify_dataset("pets", pets_root)
    assert report["num_classes"] == 4 and report["num_train"] == 12 and report["num_test"] == 12
    assert report["class_names"][1] == "American Bulldog"
    assert report["unreadable_images"] == ["images/Abyssinian_4.jpg"]
    assert report["missing_images"] == ["images/Bengal_6.jpg"]
    assert report["matches_official_counts"] is False

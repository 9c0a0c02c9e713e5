import json

import pytest

from fewshot_core import FewShotError
from fewshot_core.descriptions import match_class_names, normalise
from fewshot_core.descriptions.json_io import descriptions_for_classes, load_description_json

CUB = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "037.Acadian_Flycatcher", "045.Northern_Fulmar", "115.Brewer_Sparrow"]
CUB_DISPLAY = ["Black footed Albatross", "Laysan Albatross", "Acadian Flycatcher", "Northern Fulmar", "Brewer Sparrow"]
PETS = ["Abyssinian", "american_bulldog", "german_shorthaired", "staffordshire_bull_terrier"]
PETS_DISPLAY = ["Abyssinian", "American Bulldog", "German Shorthaired", "Staffordshire Bull Terrier"]


def test_normalise():
    assert normalise("001.Black_footed-Albatross") == "black footed albatross"
    assert normalise("Brewer's Sparrow") == "brewer sparrow"


def test_real_spellings_match():
    keys = ["Black-footed Albatross", "Laysan Albatross", "acadian flycatcher", "Fulmar, Northern", "Brewer's Sparrow"]
    report = match_class_names(keys, CUB, CUB_DISPLAY)
    assert report.matched == {
        0: "Black-footed Albatross",
        1: "Laysan Albatross",
        2: "acadian flycatcher",
        3: "Fulmar, Northern",
        4: "Brewer's Sparrow",
    }
    pets = match_class_names(["abyssinian", "American Bulldog", "german_shorthaired", "Staffordshire Bull Terrier"], PETS, PETS_DISPLAY)
    assert sorted(pets.matched) == [0, 1, 2, 3] and pets.unmatched_keys == []


def test_unmatched_and_ambiguous_are_reported_not_assigned():
    report = match_class_names(["Albatross", "Laysan Albatross", "laysan_albatross", "Bald Eagle"], CUB, CUB_DISPLAY)
    assert report.unmatched_keys == ["Albatross", "Bald Eagle"]
    assert report.ambiguous_keys == {"Laysan Albatross": [1], "laysan_albatross": [1]}  # two keys for one class
    assert 1 not in report.matched and report.classes_without_descriptions == [0, 1, 2, 3, 4]


def test_json_import(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"Black-footed Albatross": ["a", " ", "b"], "Laysan Albatross": ["c"]}))
    texts, labels, report = descriptions_for_classes(load_description_json(path), CUB, CUB_DISPLAY)
    assert texts == ["a", "b", "c"] and labels.tolist() == [0, 0, 1]
    assert report.classes_without_descriptions == [2, 3, 4]


@pytest.mark.parametrize("content, message", [("{bad", "not valid JSON"), ('["a"]', "must map each class"), ('{"a": "b"}', "must map each class")])
def test_bad_json_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(FewShotError, match=message):
        load_description_json(path)


def test_uploads_are_stored_under_their_content_hash(cub_root, tmp_path, monkeypatch):
    import hashlib

    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions import json_io

    data = json.dumps({"Sooty Albatross": ["sooty brown all over"]}).encode()
    report = json_io.import_description_bytes(load_dataset("cub", cub_root), data, tmp_path / "cache")
    assert report["matched"] == {"Sooty Albatross": "Sooty Albatross"}
    assert [p.name for p in (tmp_path / "cache" / "uploads").iterdir()] == [f"{hashlib.sha256(data).hexdigest()}.json"]
    monkeypatch.setattr(json_io, "MAX_FILE_BYTES", 10)
    with pytest.raises(FewShotError, match="at most"):
        json_io.import_description_bytes(load_dataset("cub", cub_root), b'{"a": ["a long sentence"]}', tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "uploads").iterdir())) == 1  # nothing written for a refused upload


def test_the_descriptions_page_never_uses_the_client_file_name():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "pages" / "descriptions.py").read_text()
    assert "upload.name" not in page and "import_description_bytes(dataset, upload.getvalue(), cache)" in page


def test_oversized_description_files_are_refused_before_reading(tmp_path, monkeypatch):
    from fewshot_core.descriptions import json_io

    (tmp_path / "d.json").write_text(json.dumps({"a": ["x" * 100]}))
    monkeypatch.setattr(json_io, "MAX_FILE_BYTES", 50)
    with pytest.raises(FewShotError, match="description files are at most"):
        load_description_json(tmp_path / "d.json")

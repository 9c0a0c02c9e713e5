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

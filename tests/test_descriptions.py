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
    """The client's file name is shown in a message (``upload_message``), never passed where a path is made."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "fewshot_app" / "views" / "descriptions.py").read_text()
    assert "import_description_bytes(dataset, upload.getvalue(), cache)" in page
    assert re.findall(r".*upload\.name.*", page) == ["        st.error(escape_markdown(upload_message(str(e), data, upload.name)))"]


def test_oversized_description_files_are_refused_before_reading(tmp_path, monkeypatch):
    from fewshot_core.descriptions import json_io

    (tmp_path / "d.json").write_text(json.dumps({"a": ["x" * 100]}))
    monkeypatch.setattr(json_io, "MAX_FILE_BYTES", 50)
    with pytest.raises(FewShotError, match="description files are at most"):
        load_description_json(tmp_path / "d.json")


# The description store's edits: nothing the user wrote is ever lost, and an edit keeps its place.


def _set(tmp_path, generated=("g1 a line.", "g2 a line.", "g3 a line.", "g4 a line.")):
    from fewshot_core.descriptions.store import DescriptionStore

    dset = DescriptionStore(tmp_path).open("cub", "attributes", {"sentences": 2})
    dset.save_generated(0, "Black footed Albatross", list(generated), [])
    dset.save_generated(1, "Laysan Albatross", ["h1 a line.", "h2 a line."], [])
    return dset


def test_remove_flagged_then_restore_brings_back_every_line_exactly(tmp_path):
    """Generated, rewritten, user-added and user-rewritten lines, removed as one batch, come back in their order."""
    dset = _set(tmp_path)
    dset.edit(0, add=["u1 mine.", "u2 mine.", "u3 mine."])
    dset.edit(0, replace={"g2 a line.": "g2 rewritten.", "u1 mine.": "u1 rewritten."})
    before = dset.lines(0)
    assert before == ["g1 a line.", "g2 rewritten.", "g3 a line.", "g4 a line.", "u1 rewritten.", "u2 mine.", "u3 mine."]
    flagged = {0: ["g2 rewritten.", "u1 rewritten.", "u2 mine.", "g4 a line."], 1: ["h2 a line."]}
    removal = dset.remove(flagged, reason="flagged by Judge with CLIP")
    assert removal["count"] == 5 and dset.lines(0) == ["g1 a line.", "g3 a line.", "u3 mine."] and dset.lines(1) == ["h1 a line."]
    assert dset.restore_removal(removal["id"]) == 5
    assert dset.lines(0) == before and dset.lines(1) == ["h1 a line.", "h2 a line."]
    assert dset.restore_removal(removal["id"]) == 0  # a batch comes back once
    assert dset.removals()[0]["restored"]


def test_deleting_a_users_line_never_erases_it(tmp_path):
    """The bug: deleting a user line took it out of the edits, and Restore could not bring it back."""
    dset = _set(tmp_path)
    dset.edit(0, add=["u1 mine.", "u2 mine."])
    dset.edit(0, delete=["u1 mine.", "g1 a line."])
    assert dset.lines(0) == ["g2 a line.", "g3 a line.", "g4 a line.", "u2 mine."]
    dset.restore(0, ["u1 mine.", "g1 a line."])
    assert dset.lines(0) == ["g1 a line.", "g2 a line.", "g3 a line.", "g4 a line.", "u1 mine.", "u2 mine."]


def test_a_restore_leaves_lines_deleted_before_the_batch_deleted(tmp_path):
    dset = _set(tmp_path)
    dset.edit(0, delete=["g1 a line."])  # by hand, earlier
    removal = dset.remove({0: ["g1 a line.", "g3 a line."]})
    assert removal["lines"] == {"0": ["g3 a line."]}  # only what the batch itself took out
    dset.restore_removal(removal["id"])
    assert dset.lines(0) == ["g2 a line.", "g3 a line.", "g4 a line."]


def test_an_edit_keeps_its_position(tmp_path):
    dset = _set(tmp_path)
    dset.edit(0, add=["u1 mine.", "u2 mine."])
    dset.edit(0, replace={"g2 a line.": "g2 better.", "u1 mine.": "u1 better."})
    assert dset.lines(0) == ["g1 a line.", "g2 better.", "g3 a line.", "g4 a line.", "u1 better.", "u2 mine."]
    dset.edit(0, replace={"g2 better.": "g2 best."})  # a rewrite of a rewrite: still the generated line's place
    assert dset.lines(0)[1] == "g2 best." and dset.edits(0)["replaced"] == {"g2 a line.": "g2 best."}
    dset.edit(0, replace={"g2 best.": "g2 a line."})  # back to the generated text: no rewrite left
    assert dset.edits(0)["replaced"] == {} and dset.lines(0)[1] == "g2 a line."
    assert dset.record(0)["generated"] == ["g1 a line.", "g2 a line.", "g3 a line.", "g4 a line."]  # untouched


def test_adding_a_deleted_line_again_brings_it_back_in_place(tmp_path):
    dset = _set(tmp_path)
    dset.edit(0, delete=["g2 a line."])
    dset.edit(0, add=["g2 a line.", "g1 a line."])  # the second is already there: nothing to add
    assert dset.lines(0) == ["g1 a line.", "g2 a line.", "g3 a line.", "g4 a line."] and dset.edits(0)["added"] == []


def test_edits_from_before_this_model_still_read(tmp_path):
    import json

    dset = _set(tmp_path)
    (dset.path / "edits").mkdir()
    old = {"added": ["u1 mine."], "deleted": ["g3 a line."], "replaced": {"g1 a line.": "g1 rewritten."}}
    (dset.path / "edits" / "0000.json").write_text(json.dumps(old))
    assert dset.lines(0) == ["g1 rewritten.", "g2 a line.", "g4 a line.", "u1 mine."]


def test_table_changes_are_rewrites_in_place_deletions_and_additions():
    from fewshot_core.descriptions.edits import table_changes

    lines = ["a one.", "b two.", "c three.", "d four."]
    edited = {1: {"description": "b 2."}, "3": {"description": "  "}, 2: {"description": "c three."}}
    add, delete, replace = table_changes(lines, edited, [0], [{"description": "e five."}, {"description": None}], "description")
    assert replace == {"b two.": "b 2."}  # row 1 changed where it stands; row 2 was touched but not changed
    assert delete == ["a one.", "d four."]  # row 0 deleted, row 3 emptied
    assert add == ["e five."]


def test_a_set_pruned_by_a_judge_says_with_how_many_labels(tmp_path):
    from fewshot_core.descriptions.store import description_provenance

    dset = _set(tmp_path)
    assert dset.provenance()["pruned_by_judge"] is False and dset.provenance()["pruned_with_labels_per_class"] is None
    judged = {"split": "train", "images": 50, "labels_per_class": 30, "labels_per_class_min": 20, "all_training_labels": True}
    by_hand = dset.remove({1: ["h1 a line."]})  # a user's own removal shapes nothing
    first = dset.remove({0: ["g1 a line."]}, reason="flagged by Judge with CLIP", judged_with=judged)
    second = dset.remove({0: ["g2 a line."]}, reason="flagged by Judge with CLIP", judged_with={**judged, "labels_per_class": 12})
    p = description_provenance(dset.path)
    assert p["pruned_by_judge"] and p["pruned_with_labels_per_class"] == 30 and p["pruned_with_all_training_labels"]
    assert [x["removal"] for x in p["pruning"]] == [first["id"], second["id"]] and dset.meta["pruning"] == p["pruning"]
    dset.restore_removal(first["id"])
    assert dset.provenance()["pruned_with_labels_per_class"] == 12
    dset.restore_removal(second["id"])
    assert dset.provenance()["pruned_by_judge"] is False and by_hand["id"] not in {x["removal"] for x in p["pruning"]}
    assert dset.meta["source"] == "attributes"  # the meta keeps what it had


def test_the_provenance_of_a_json_file_is_unknown(tmp_path):
    from fewshot_core.descriptions.store import description_provenance

    (tmp_path / "d.json").write_text("{}")
    assert description_provenance(tmp_path / "d.json")["pruned_by_judge"] is None


def test_classes_with_lines(tmp_path):
    dset = _set(tmp_path)
    dset.edit(1, delete=["h1 a line.", "h2 a line."])
    assert dset.classes_with_lines(3) == [0]

"""App state you can trust, driven by AppTest: sections follow their jobs with no click, partial description
sets are refused on the Train form, removals are undoable and say so, choices and page URLs survive a reload."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st

from fewshot_app.jobs import record_process
from fewshot_core.settings import LabSettings, save_settings

from .apppage import open_page, open_url, run_fragments


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()  # coverage and dataset reads are cached per process
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


def _sleeping_job(folder: Path, spec: dict) -> subprocess.Popen:
    """A job folder whose process runs (a sleeper, identified by its pid and start time as the app records a real job)."""
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(folder)], start_new_session=True)
    deadline = time.time() + 10
    while str(folder) not in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes().decode(errors="replace") and time.time() < deadline:
        time.sleep(0.01)  # until the child has exec'd: before that its command line is still pytest's
    (folder / "job.json").write_text(json.dumps({"kind": folder.name, "spec": spec, "started": time.time()}))
    record_process(folder, sleeper.pid)
    (folder / "events.jsonl").write_text(json.dumps({"event": "progress", "time": time.time(), "done": 0, "total": 3, "message": "0/3"}) + "\n")
    return sleeper


def _end(folder: Path, sleeper: subprocess.Popen, **result) -> None:
    """The job's last words, as the CLI writes them, and its process gone."""
    with open(folder / "events.jsonl", "a") as f:
        f.write(json.dumps({"event": "result", "time": time.time(), **result}) + "\n")
        f.write(json.dumps({"event": "end", "time": time.time(), "exit_code": 0}) + "\n")
    sleeper.kill()
    sleeper.wait()


def test_the_descriptions_section_refreshes_when_its_job_ends_with_no_click(cub_root):
    """While generation runs there is nothing to browse; the moment the job ends, the polling section reruns
    the page and the new set is shown and chosen (before: "Nothing generated yet" until some click)."""
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.storage import default_cache_root

    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    folder = default_cache_root() / "jobs" / "describe-attributes"
    sleeper = _sleeping_job(folder, {"command": "describe", "dataset": {"name": "cub", "root": str(cub_root)}, "request": {"source": "attributes"}})
    try:
        app = open_page("descriptions")
        _by_label(app.selectbox, "Source").set_value("attributes").run()
        assert any("Nothing generated yet" in i.value for i in app.info)
        app = run_fragments(app)  # a poll while it runs: only the job's section is redrawn
        assert not app.exception and not [s for s in app.selectbox if s.label == "Source"]
        summary = describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root())
        _end(folder, sleeper, classes_done=3, descriptions=4, store=summary.store, prompt_tokens=0, completion_tokens=0)
        app = run_fragments(app)  # the next poll, no click: the job has ended
    finally:
        sleeper.kill()
    assert not app.exception
    assert not any("Nothing generated yet" in i.value for i in app.info)
    chosen = _by_label(app.selectbox, "Description set")
    assert chosen.value == Path(summary.store).name and "3/3 classes" in chosen.format_func(chosen.value)
    assert any("3 classes, 4 descriptions" in s.value for s in app.success)


def test_the_data_page_after_encoding_agrees_with_itself(cub_root):
    """Encode on the Data page (a real job): when it ends the page reruns by itself; the status, the job's
    outcome and the button agree (no "not cached yet" next to "Features ready", no Encode to click again)."""
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu"))
    app = open_page("data")
    assert any("Features not cached yet: train, test" in c.value for c in app.caption)
    _by_label(app.button, "Encode features").click().run()
    deadline = time.time() + 240
    while not any("all cached" in c.value for c in app.caption) and time.time() < deadline:
        time.sleep(1)
        app = run_fragments(app)  # polls only: any full redraw comes from the section that follows the job
        assert not app.exception
    assert any("Features all cached" in c.value for c in app.caption)
    assert not any("not cached" in c.value for c in app.caption)
    assert any(s.value == "Features ready (no unreadable images)." for s in app.success)
    assert _by_label(app.button, "Features cached").disabled and not [b for b in app.button if b.label == "Encode features"]
    assert [c.value for c in app.caption if c.value.startswith("ready:")] == ["ready: 3 classes, 12 training images"]


def test_a_partial_description_set_is_refused_on_the_train_form_by_class_name(cub_root):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.sources import GenerationSettings
    from fewshot_core.names import write_label
    from fewshot_core.storage import default_cache_root

    cub = load_dataset("cub", cub_root)
    full = describe(cub, DescribeRequest("attributes"), default_cache_root())
    write_label(full.store, "all of them")
    time.sleep(1.1)  # the newer set, by its creation time (seconds)
    fake = DescribeRequest("openai-compatible", settings=GenerationSettings(model="m"), base_url="http://127.0.0.1:9/v1")
    partial = describe(cub, fake, default_cache_root(), classes=[], source=object())
    from fewshot_core.descriptions.store import DescriptionSet

    DescriptionSet(Path(partial.store)).save_generated(0, cub.display_names[0], ["A large dark seabird."], [])
    write_label(partial.store, "one class")
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu", seeds=1))
    app = open_page("train")
    sets = _by_label(app.selectbox, "Descriptions")
    assert sets.options == ["one class · 1/3 classes", "all of them · 3/3 classes"]  # newest first
    assert sets.value == Path(full.store).name  # the default covers every class, though it is not the newest
    assert not _by_label(app.button, "Train").disabled
    sets.set_value(Path(partial.store).name).run()
    [error] = [e.value for e in app.error]
    assert "no descriptions for 2 of the 3 classes with images: Laysan Albatross and Sooty Albatross" in error
    assert _by_label(app.button, "Train").disabled


def test_the_job_error_names_classes_without_descriptions(small_bundle):
    from fewshot_core import FewShotError
    from fewshot_core.qformer import QFormerConfig, QFormerTrainConfig, TextSide, train_qformer

    text = TextSide(small_bundle.description_features[:12], small_bundle.description_labels[:12])  # class 0 only
    names = [f"kind {c}" for c in range(20)]
    with pytest.raises(FewShotError, match=r"19 classes have images but no descriptions: kind 1, kind 2, kind 3 and 16 more\."):
        train_qformer(small_bundle.train_features, small_bundle.train_labels, text, QFormerConfig(), QFormerTrainConfig(epochs=1), class_names=names)


def _judged_set(cub_root, flagged_classes: list[int]):
    """An attributes set with a user line, a rewritten line, and a finished judge job flagging lines of ``flagged_classes``."""
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.store import DescriptionSet
    from fewshot_core.storage import default_cache_root

    summary = describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root())
    dset = DescriptionSet(Path(summary.store))
    dset.edit(2, add=["My own note on the bill."], replace={dset.lines(2)[0]: "Rewritten by me."})
    records = [
        {"class": "x", "class_index": c, "text": line, "cos_raw": 0.1, "cos_translated": 0.2, "rank": 2, "nearest_other": "y", "flagged": True}
        for c in flagged_classes
        for line in dset.lines(c)
    ]
    folder = default_cache_root() / "jobs" / f"judge-{dset.path.name}"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"kind": "judge", "started": time.time()}))
    judged_with = {"split": "train", "images": 12, "labels_per_class": 4, "labels_per_class_min": 4, "all_training_labels": True}
    events = [{"event": "result", "records": records, "judged_with": judged_with}, {"event": "end", "exit_code": 0}]
    (folder / "events.jsonl").write_text("".join(json.dumps({"time": time.time(), **e}) + "\n" for e in events))
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    return dset


def test_a_large_removal_asks_first_then_says_so_and_restore_brings_back_the_users_lines(cub_root):
    dset = _judged_set(cub_root, [2])  # class 2: 2 attribute lines (one rewritten) + 1 user line = 3 of 5 lines
    before = {c: dset.lines(c) for c in range(3)}
    assert "My own note on the bill." in before[2] and before[2][0] == "Rewritten by me."
    app = open_page("descriptions")
    _by_label(app.button, "Remove the 3 flagged lines").click().run()
    assert any("This removes 3 of the set's 5 lines (60 %). Remove them?" in w.value for w in app.warning)
    assert dset.lines(2) == before[2]  # nothing removed before the answer
    _by_label(app.button, "Yes, remove 3 lines").click().run()
    assert dset.lines(2) == [] and not app.exception
    assert any("Removed 3 of 5 lines (60 %)" in s.value for s in app.success)  # shown after the rerun the removal made
    assert dset.provenance()["pruned_with_labels_per_class"] == 4
    assert any("used up to 4 labelled training images per class" in c.value for c in app.caption)
    _by_label(app.button, "Restore them (3 lines)").click().run()
    assert {c: dset.lines(c) for c in range(3)} == before  # the user's line, the rewrite, the order: all back
    assert any("Restored 3 lines" in s.value for s in app.success)
    assert dset.provenance()["pruned_by_judge"] is False


def test_a_small_removal_needs_no_confirmation(cub_root):
    dset = _judged_set(cub_root, [0])  # 1 of 5 lines
    app = open_page("descriptions")
    _by_label(app.button, "Remove the 1 flagged line").click().run()
    assert not app.warning and dset.lines(0) == []
    assert any("Removed 1 of 5 lines (20 %)" in s.value for s in app.success)


def test_the_chosen_description_source_survives_a_reload(cub_root):
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    app = open_page("descriptions")
    assert _by_label(app.selectbox, "Source").value == "local"
    _by_label(app.selectbox, "Source").set_value("captions").run()
    again = open_page("descriptions")  # a reload: a new session
    assert _by_label(again.selectbox, "Source").value == "captions"
    save_settings(LabSettings())  # another dataset keeps its own choice
    assert _by_label(open_page("descriptions").selectbox, "Source").value == "attributes"


@pytest.mark.parametrize("path", ["/data", "/descriptions", "/train", "/results", "/"])
def test_every_page_url_resolves(path, monkeypatch):
    from streamlit.commands import navigation

    missing = []
    monkeypatch.setattr(navigation, "send_page_not_found", lambda ctx: missing.append(ctx))
    app = open_url(path)
    assert not app.exception and not missing
    assert app.title[0].value.startswith((path.strip("/") or "data").title())


def test_a_missing_folder_tells_an_app_user_to_use_the_sidebar(tmp_path):
    save_settings(LabSettings(dataset="cub", dataset_root=str(tmp_path / "nowhere")))
    for page in ("data", "descriptions"):
        app = open_page(page)
        [error] = [e.value for e in app.error]
        assert "as the Dataset folder in the sidebar" in error and "--root" not in error


def test_an_empty_dataset_folder_is_not_ready(tmp_path):
    (tmp_path / "empty").mkdir()
    save_settings(LabSettings(dataset="folder", dataset_root=str(tmp_path / "empty")))
    app = open_page("data")
    assert app.error and "--root" not in app.error[0].value
    step = app.get("page_link")[0]
    assert step.proto.label == "1 · Data"
    assert not any(c.value.startswith("ready") for c in app.caption) and any(c.value == "not usable yet (see below)" for c in app.caption)


def test_an_upload_error_names_the_uploaded_file_not_where_it_is_kept(cub_root):
    from fewshot_app.views.descriptions import upload_message
    from fewshot_core import FewShotError
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.json_io import import_description_bytes
    from fewshot_core.storage import default_cache_root

    data = b'{"Laysan Albatross": "not a list"}'
    with pytest.raises(FewShotError) as err:
        import_description_bytes(load_dataset("cub", cub_root), data, default_cache_root())
    assert "uploads/" in str(err.value)  # the library names where it read the file...
    shown = upload_message(str(err.value), data, "my descriptions.json")
    assert shown.startswith("'my descriptions.json' must map each class name") and "uploads" not in shown  # ...the page, the user's name


def test_the_train_form_says_when_a_set_was_pruned_with_training_labels(cub_root):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.store import DescriptionSet
    from fewshot_core.storage import default_cache_root

    dset = DescriptionSet(Path(describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), default_cache_root()).store))
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu", seeds=1))
    assert not any("pruned" in c.value for c in open_page("train").caption)
    removal = dset.remove({2: dset.lines(2)[:1]}, judged_with={"split": "train", "labels_per_class": 4, "all_training_labels": True})
    app = open_page("train")
    assert any("pruned by Judge with CLIP, which used up to 4 labelled training images per class" in c.value for c in app.caption)
    assert not _by_label(app.button, "Train").disabled  # a warning, not a refusal: every class still has descriptions
    dset.restore_removal(removal["id"])
    assert not any("pruned" in c.value for c in open_page("train").caption)


def test_an_uploaded_file_is_named_as_the_user_chose_it_and_unmatched_keys_in_words(cub_root):
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root)))
    app = open_page("descriptions")
    _by_label(app.selectbox, "Source").set_value("json upload").run()
    app.file_uploader[0].upload("my descriptions.json", b'{"Laysan Albatross": "not a list"}', "application/json").run()
    [error] = [e.value for e in app.error]
    assert error.startswith("'my descriptions.json' must map each class name") and "uploads" not in error
    app = open_page("descriptions")
    good = b'{"Laysan Albatross": ["a white seabird"], "Bald Eagle": ["a raptor"], "Ostrich": ["tall"]}'
    app.file_uploader[0].upload("mine.json", good, "application/json").run()
    assert any("Matched 1 of 3 classes" in s.value for s in app.success)
    assert [w.value.replace("\\", "") for w in app.warning] == ["Not assigned, of the file's class names: 2 match no class (Bald Eagle and Ostrich)."]

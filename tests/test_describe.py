import json

import pytest

from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.descriptions.generate import DescribeRequest, describe
from fewshot_core.descriptions.parsing import split_completion
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from fewshot_core.descriptions.sources import GenerationSettings, OpenAISource, attribute_sentences, caption_lines, estimate_cost
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.progress import Cancelled

from .fake_openai import FakeOpenAI

KEY = "sk-test-DO-NOT-STORE-1234567890"


def _request(model, samples=1):
    return DescribeRequest(
        "openai-compatible", settings=GenerationSettings(model=model, samples=samples), base_url="http://placeholder", batch_size=2
    )


def _source(server, **kw):
    return OpenAISource(api_key=KEY, base_url=server.base_url, max_retries=kw.pop("max_retries", 2), timeout=kw.pop("timeout", 5), **kw)


def test_prompt_validation():
    assert validate_prompt(DEFAULT_PROMPT) == "Describe the visual characteristics of a {class_name} in 10 lines."
    assert render_prompt("Describe a {class_name}, a kind of {dataset}.", "Laysan Albatross", "cub") == "Describe a Laysan Albatross, a kind of bird."
    with pytest.raises(FewShotError, match="must contain"):
        validate_prompt("Describe a bird.")
    with pytest.raises(FewShotError, match="Unknown placeholder"):
        validate_prompt("Describe a {class_name} in {n} lines.")
    with pytest.raises(FewShotError, match="unbalanced brace"):
        validate_prompt("Describe a {class_name")


def test_the_first_eta_leaves_out_the_model_load(cub_root, tmp_path, monkeypatch):
    """A model that takes long to load and then 0.05 s a class: the ETA is about 0.05 s a class, not the 2 s load spread over them."""
    import time as clock

    from fewshot_app.jobs import Job
    from fewshot_core.descriptions.local_llm import LocalSource
    from fewshot_core.descriptions.sources import Completion
    from fewshot_core.progress import EventLog

    monkeypatch.setattr(LocalSource, "load", lambda self: clock.sleep(2.0))

    def generate(self, prompts, settings):
        clock.sleep(0.05)
        return [Completion(["- a large dark bird."], {"prompt_tokens": 5, "completion_tokens": 10}) for _ in prompts]

    monkeypatch.setattr(LocalSource, "generate", generate)
    folder = tmp_path / "job"
    log = EventLog(folder / "events.jsonl").progress("classes")  # the CLI's default step, as `describe` runs it
    request = DescribeRequest("local", settings=GenerationSettings(model="smollm2"), batch_size=1)
    describe(load_dataset("cub", cub_root), request, tmp_path / "cache", classes=[0, 1], on_progress=log)
    events = (folder / "events.jsonl").read_text().splitlines()
    with open(folder / "events.jsonl", "a") as f:  # a third class still to do, as when the first ETA is shown
        f.write(events[-1].replace('"done": 2, "total": 2', '"done": 2, "total": 3') + "\n")
    eta = Job(folder).eta_seconds("classes")
    assert eta is not None and eta < 0.5  # about 0.05 s for the class left; with the load counted, about 1 s


def test_completion_parsing():
    text = """Sure! Here are 4 lines:
# Visual characteristics
1. **Large** seabird with long, narrow wings.
2) Dark brown plumage overall.
- A pale ring around the bill.
* A pale ring around the bill!

I'm sorry, but I cannot describe more.
Wings"""
    assert split_completion(text) == ["Large seabird with long, narrow wings.", "Dark brown plumage overall.", "A pale ring around the bill."]


def test_success_saves_every_class_and_usage(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        summary = describe(ds, _request("ok", samples=2), tmp_path, source=_source(server))
    assert summary.classes_done == 3 and summary.completion_tokens == 3 * 60 and summary.prompt_tokens == 36
    dset = DescriptionStore(tmp_path).list("cub")[0]
    lines = dset.lines(0)
    # the lead-in ("Here are ...:") and the echo of the prompt ("(about: ... in 10 lines.)") are not descriptions
    assert lines == ["A large seabird with long narrow wings.", "Dark brown plumage.", "A pale ring around the bill."]
    assert len(dset.record(0)["raw"]) == 2  # the raw completions are kept beside the parsed lines
    assert "Black footed Albatross" in dset.record(0)["raw"][0] and "Laysan Albatross" in dset.record(1)["raw"][0]  # each class's prompt


def test_429_is_retried(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        summary = describe(ds, _request("flaky"), tmp_path, source=_source(server))
        assert max(server.calls.values()) == 2  # every prompt: 429, then success
    assert summary.classes_done == 3


def test_401_stops_at_once_with_a_clear_message(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        with pytest.raises(FewShotError, match="API key was rejected") as err:
            describe(ds, _request("unauthorized"), tmp_path, source=_source(server))
        assert all(n == 1 for n in server.calls.values())  # no retries on auth errors
        assert len(server.calls) <= 2  # the first round only
    assert KEY not in str(err.value)


def test_500_after_retries_keeps_finished_classes(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        describe(ds, _request("ok"), tmp_path, classes=[0], source=_source(server))
        with pytest.raises(FewShotError, match="HTTP 500 after retries"):
            describe(
                ds,
                DescribeRequest("openai-compatible", settings=GenerationSettings(model="broken"), base_url="http://placeholder"),
                tmp_path,
                source=_source(server),
            )
        assert max(server.calls.values()) == 3  # 1 try + 2 retries
    assert DescriptionStore(tmp_path).list("cub")[-1].done_classes() == {0}


def test_empty_and_malformed_completions(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        summary = describe(ds, _request("empty"), tmp_path, source=_source(server))
        assert summary.classes_done == 3 and summary.descriptions == 0
        with pytest.raises(FewShotError, match="malformed|without completions"):
            describe(ds, _request("malformed"), tmp_path, source=_source(server, max_retries=0))


def test_timeout_is_a_clear_message(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        with pytest.raises(FewShotError, match="Could not reach"):
            describe(ds, _request("slow"), tmp_path, classes=[0], source=_source(server, timeout=0.5, max_retries=1))


def test_rerun_resumes_and_cancel_keeps_work(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        rounds = []
        with pytest.raises(Cancelled):
            describe(ds, _request("ok"), tmp_path, source=_source(server), should_cancel=lambda: rounds.append(1) or len(rounds) > 1)
        assert len(server.calls) == 2  # the first round (batch of 2) finished before the cancel
        describe(ds, _request("ok"), tmp_path, source=_source(server))
        assert len(server.calls) == 3 and max(server.calls.values()) == 1  # only the missing class was asked for


def test_api_key_is_never_written(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        describe(ds, _request("ok"), tmp_path, source=_source(server))
        assert server.auth_headers[0] == f"Bearer {KEY}"  # it was used...
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="ignore"), path  # ...and stored nowhere


def test_missing_key_is_a_clear_message(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(FewShotError, match="No OpenAI API key"):
        OpenAISource()


def test_edits_survive_regeneration_of_other_classes(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        describe(ds, _request("ok"), tmp_path, source=_source(server))
        dset = DescriptionStore(tmp_path).list("cub")[0]
        dset.edit(
            0,
            add=["Has a white face."],
            delete=["Dark brown plumage."],
            replace={"A pale ring around the bill.": "A pale ring at the base of the bill."},
        )
        (dset.path / "classes" / "0001.json").unlink()  # regenerate class 1
        describe(ds, _request("ok"), tmp_path, source=_source(server))
    lines = dset.lines(0)
    assert "Dark brown plumage." not in lines and "Has a white face." in lines and "A pale ring at the base of the bill." in lines
    assert dset.record(0)["generated"][1] == "Dark brown plumage."  # generated text itself is untouched
    assert json.loads((dset.path / "meta.json").read_text())["settings"]["model"] == "ok"


def test_attribute_sentences_and_source(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    assert attribute_sentences("Laysan Albatross", ds.attributes.names, ds.attributes.values[1]) == ["The Laysan Albatross has black wing color."]
    summary = describe(ds, DescribeRequest("attributes"), tmp_path)
    assert summary.classes_done == 3 and summary.descriptions == 4  # 1 + 1 + 2 attributes >= 50 %


def test_caption_source(cub_root, tmp_path):
    folder = tmp_path / "cvpr2016_cub" / "text_c10" / "002.Laysan_Albatross"
    folder.mkdir(parents=True)
    (folder / "Laysan_Albatross_0001_1.txt").write_text("this bird has a white head\nthe wings are dark grey\nthis bird has a white head\n")
    (folder / "Laysan_Albatross_0002_2.txt").write_text("a white bird with a yellow bill\n")
    assert caption_lines(tmp_path / "cvpr2016_cub", "002.Laysan_Albatross") == [
        "this bird has a white head",
        "the wings are dark grey",
        "a white bird with a yellow bill",
    ]
    summary = describe(load_dataset("cub", cub_root), DescribeRequest("captions", captions_root=str(tmp_path / "cvpr2016_cub")), tmp_path / "c")
    assert summary.descriptions == 3
    with pytest.raises(FewShotError, match="No caption folders"):
        describe(load_dataset("cub", cub_root), DescribeRequest("captions", captions_root=str(tmp_path)), tmp_path / "d")


def test_cost_estimate():
    assert estimate_cost("gpt-3.5-turbo", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert estimate_cost("my-local-model", 10, 10) is None


@pytest.mark.slow
def test_local_smollm2_generates_real_text_offline(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    request = DescribeRequest("local", settings=GenerationSettings(model="smollm2", temperature=0.0, max_tokens=48), batch_size=2)
    summary = describe(ds, request, tmp_path, classes=[0, 1])
    dset = DescriptionStore(tmp_path).list("cub")[0]
    assert summary.classes_done == 2 and summary.completion_tokens > 20
    for c in (0, 1):
        raw = dset.record(c)["raw"][0]
        assert len(raw.split()) >= 10  # real generated text
        assert dset.lines(c), raw
    # The de-quantised model was kept in the cache; a new process (cleared in-process cache) loads it from there,
    # and greedy decoding gives the same text (one token shorter: a different set, the same prefix). The same two
    # classes form the same batch: in bf16 (CPUs with native bf16) a padded batch of two and a lone prompt differ.
    from fewshot_core.descriptions.local_llm import load_model

    assert len(list((tmp_path / "models").glob("*/config.json"))) == 1
    load_model.cache_clear()
    shorter = DescribeRequest("local", settings=GenerationSettings(model="smollm2", temperature=0.0, max_tokens=47), batch_size=2)
    describe(ds, shorter, tmp_path, classes=[0, 1])
    again = next(d for d in DescriptionStore(tmp_path).list("cub") if d.path != dset.path).record(0)["raw"][0]
    assert dset.record(0)["raw"][0].startswith(again.strip()) and len(again.split()) >= 9


def test_credentials_in_the_base_url_are_never_stored_or_logged(cub_root, tmp_path, capsys, caplog):
    import logging

    from fewshot_core.cli import main

    caplog.set_level(logging.DEBUG)
    with FakeOpenAI() as server:
        url = server.base_url.replace("http://", "http://alice:hunter2-secret@") + "?api_key=sk-query-secret&v=1"
        argv = ["describe", "--dataset", "cub", "--root", str(cub_root), "--cache", str(tmp_path), "--source", "openai-compatible"]
        assert main(["-v", *argv, "--base-url", url, "--model", "ok", "--classes", "1"]) == 0  # -v: the HTTP client logs its requests
        assert server.calls  # the request did reach the server
    [dset] = DescriptionStore(tmp_path).list("cub")
    assert dset.meta["settings"]["base_url"] == f"{server.base_url}?api_key=REDACTED&v=1"
    closed = url.replace(str(server.server.server_port), "9")  # nothing listens on the discard port
    assert main([*argv, "--base-url", closed, "--model", "ok", "--timeout", "1", "--retries", "0"]) == 2
    shown = capsys.readouterr().err + caplog.text
    assert "Could not reach http://127.0.0.1:9/v1?api_key=REDACTED" in shown
    assert "HTTP Request: POST http://127.0.0.1" in shown  # the client's own log line, with the URL cleaned
    for secret in ("hunter2-secret", "sk-query-secret"):
        assert secret not in shown
        assert not [p for p in tmp_path.rglob("*") if p.is_file() and secret in p.read_text(errors="ignore")]


def test_redact_url():
    from fewshot_core.redact import redact_text, redact_url

    assert redact_url("https://u:p@host:8000/v1?key=k&token=t&model=x") == "https://host:8000/v1?key=REDACTED&token=REDACTED&model=x"
    assert redact_url("http://localhost:11434/v1") == "http://localhost:11434/v1" and redact_url(None) == ""
    assert redact_text('POST http://u:pw@h/v1/chat?access_token=abc "200"') == 'POST http://h/v1/chat?access_token=REDACTED "200"'


def test_a_client_error_is_not_retried(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    with FakeOpenAI() as server:
        with pytest.raises(FewShotError, match="refused the request with HTTP 400 .*max_tokens is too large"):
            describe(ds, _request("bad-request"), tmp_path, source=_source(server))
        assert set(server.calls.values()) == {1}  # retrying cannot fix a bad request


def test_retries_are_announced_in_the_progress(cub_root, tmp_path):
    ds = load_dataset("cub", cub_root)
    messages = []
    with FakeOpenAI() as server:
        describe(ds, _request("flaky"), tmp_path, classes=[0], source=_source(server), on_progress=lambda d, t, m: messages.append(m))
    assert "0/1 classes done; prompt 1: the server answered HTTP 429; trying again in 0.0 s (retry 1 of 2)" in messages


def test_a_damaged_class_file_is_generated_again_not_a_crash(cub_root, tmp_path, caplog):
    ds = load_dataset("cub", cub_root)
    first = describe(ds, DescribeRequest("attributes"), tmp_path)
    assert first.classes_done == 3
    [dset] = DescriptionStore(tmp_path).list("cub")
    damaged = dset.path / "classes" / "0001.json"
    damaged.write_text(damaged.read_text()[:20])  # truncated by a full disk, say
    (dset.path / "edits").mkdir(exist_ok=True)
    (dset.path / "edits" / "0002.json").write_text("{not json")
    assert dset.done_classes() == {0, 2} and dset.lines(2) == dset.record(2)["generated"]
    again = describe(ds, DescribeRequest("attributes"), tmp_path)
    assert again.classes_done == 3 and dset.lines(1) and "0001.json is damaged" in caplog.text


def test_progress_comes_per_class_with_tokens_per_second_and_a_loading_step(cub_root, tmp_path, monkeypatch):
    """A local model: a "loading" report before the first class, then one report per class as it is saved
    (even inside a batch), each with the measured completion tokens per second."""
    from fewshot_core.descriptions.local_llm import LocalSource
    from fewshot_core.descriptions.sources import Completion

    loaded = []
    monkeypatch.setattr(LocalSource, "load", lambda self: loaded.append(self.model_name))

    def generate(self, prompts, settings):
        return [Completion([f"- a bird {i}.\n- with wings {i}."], {"prompt_tokens": 5, "completion_tokens": 10}) for i in range(len(prompts))]

    monkeypatch.setattr(LocalSource, "generate", generate)
    events = []

    def on_progress(done, total, message, step="", metrics=None):
        events.append((step, done, total, dict(metrics or {})))

    request = DescribeRequest("local", settings=GenerationSettings(model="smollm2", max_tokens=20), batch_size=2)
    describe(load_dataset("cub", cub_root), request, tmp_path / "cache", on_progress=on_progress)
    assert loaded == ["smollm2"]
    steps = [e[0] for e in events]
    assert steps[:3] == ["start", "loading", "classes"]  # the classes are timed from after the load
    per_class = [e for e in events if e[0] == "classes"]
    assert [e[1] for e in per_class] == [0, 1, 2, 3] and all(e[2] == 3 for e in per_class)  # generation starts, then per class, not per batch of 2
    assert per_class[-1][3]["completion_tokens"] == 30 and per_class[-1][3]["tokens_per_s"] > 0


def test_old_three_argument_callbacks_still_work(cub_root, tmp_path):
    calls = []
    describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), tmp_path / "cache", on_progress=lambda d, t, m: calls.append((d, t, m)))
    assert calls and calls[0][1] == 3

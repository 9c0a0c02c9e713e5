"""Generating descriptions into the store: resumable, cancellable, saved class by class."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..datasets.base import ImageDataset
from ..errors import FewShotError
from ..progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress, report
from ..redact import redact_url
from .endpoint import check_base_url, check_key_destination, key_from_env
from .local_llm import LocalSource
from .parsing import dedupe_lines, split_completion
from .prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from .sources import (
    ATTRIBUTE_SENTENCES_VERSION,
    DATA_SOURCES,
    LLM_SOURCES,
    Completion,
    DeadlineExceeded,
    GenerationSettings,
    OpenAISource,
    attribute_lines,
    caption_lines,
    estimate_cost,
)
from .store import DescriptionSet, DescriptionStore

log = logging.getLogger(__name__)


@dataclass
class DescribeRequest:
    """Everything that decides which descriptions come out (and so the store key)."""

    source: str = "local"  # openai | openai-compatible | local | attributes | captions
    prompt: str = DEFAULT_PROMPT
    settings: GenerationSettings | None = None
    base_url: str | None = None  # openai-compatible servers
    captions_root: str | None = None  # captions: folder holding text_c10/
    batch_size: int = 8  # prompts per request round (local: one batched generate call)
    timeout: float = 60.0  # seconds one request to an LLM server may take (each try)
    retries: int = 2  # further tries after a timeout, connection error, 429 or 5xx (announced as they happen)
    deadline: float | None = None  # seconds the whole run may take; None = no limit. Finished classes are kept either way
    api_key_env: str | None = None  # openai-compatible: the environment variable holding that server's key; None = send no key
    allow_insecure_http: bool = False  # openai-compatible: plain http:// to another machine (default: loopback only)

    def key_settings(self) -> dict[str, Any]:
        """What goes into the store key and meta.json (never an API key, nor credentials inside the URL)."""
        if self.source in DATA_SOURCES:
            return {"captions_root": str(self.captions_root or "")} if self.source == "captions" else {"sentences": ATTRIBUTE_SENTENCES_VERSION}
        return {"prompt": self.prompt, "base_url": redact_url(self.base_url), **asdict(self.settings or GenerationSettings())}

    def validate(self) -> None:
        """Refuse settings that cannot work, with what to use instead."""
        settings = self.settings or GenerationSettings()
        checks = [
            (self.batch_size, 1, "batch size (classes per round)"),
            (settings.samples, 1, "number of samples per class"),
            (settings.max_tokens, 1, "maximum number of tokens"),
            (self.retries, 0, "number of retries"),
        ]
        for value, least, what in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise FewShotError(f"The {what} must be a whole number of at least {least} (got {value!r}).")
        if not 0 <= settings.temperature <= 2:
            raise FewShotError(f"The temperature must be between 0 and 2 (got {settings.temperature!r}); 0.7 is the paper's setting.")
        for value, what in ((self.timeout, "timeout"), (self.deadline, "deadline")):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise FewShotError(f"The {what} must be a positive number of seconds (got {value!r}).")
        if self.source != "openai-compatible":
            for value, flag in (
                (self.base_url, "--base-url"),
                (self.api_key_env, "--api-key-env"),
                (self.allow_insecure_http, "--allow-insecure-http"),
            ):
                if value:
                    raise FewShotError(f"{flag} applies to --source openai-compatible only (the openai source always uses https://api.openai.com).")

    def check_server(self) -> None:
        """Refuse an openai-compatible base URL or key variable that cannot be used (``endpoint.check_base_url``),
        before anything is stored."""
        if self.source == "openai-compatible" and self.base_url:
            check_key_destination(key_from_env(self.api_key_env), check_base_url(self.base_url, self.allow_insecure_http))


@dataclass
class DescribeSummary:
    classes_done: int
    descriptions: int
    store: str
    prompt_tokens: int
    completion_tokens: int
    estimated_cost_usd: float | None


def make_source(request: DescribeRequest, api_key: str | None = None, device: str = "cpu", cache_root: Path | str | None = None):
    """The LLM source a request names. ``api_key`` (in memory) overrides the environment: OPENAI_API_KEY for
    ``openai``, the variable ``request.api_key_env`` names for ``openai-compatible`` (none: no key is sent)."""
    if request.source == "openai":
        return OpenAISource(api_key=api_key, timeout=request.timeout, max_retries=request.retries)
    if request.source == "openai-compatible":
        if not request.base_url:
            raise FewShotError("The openai-compatible source needs a base URL, e.g. http://localhost:11434/v1 for Ollama.")
        key = api_key or key_from_env(request.api_key_env)
        return OpenAISource(
            api_key=key,
            base_url=request.base_url,
            timeout=request.timeout,
            max_retries=request.retries,
            allow_insecure_http=request.allow_insecure_http,
        )
    if request.source == "local":
        return LocalSource((request.settings or GenerationSettings()).model, device, request.batch_size, cache_root)
    raise FewShotError(f"Unknown description source {request.source!r}; choose one of {', '.join(LLM_SOURCES + DATA_SOURCES)}.")


def describe(
    dataset: ImageDataset,
    request: DescribeRequest,
    cache_root: Path | str,
    classes: list[int] | None = None,
    source=None,
    api_key: str | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
) -> DescribeSummary:
    """Fill the store for ``classes`` (default all), skipping classes already done; returns a summary.

    Raises:
        FewShotError: bad settings, an unreachable server after retries, or the request's deadline passing
            (finished classes are kept in every case; a re-run continues where this one stopped).
    """
    request.validate()
    if request.source in LLM_SOURCES:
        validate_prompt(request.prompt)
    if source is None:
        request.check_server()
    deadline = time.monotonic() + request.deadline if request.deadline else None
    dset = DescriptionStore(cache_root).open(dataset.name, request.source, request.key_settings())
    wanted = list(range(dataset.num_classes)) if classes is None else classes
    todo = [c for c in wanted if c not in dset.done_classes()]
    done = len(wanted) - len(todo)
    # step "start", not "classes": the ETA of the classes is timed from the first class generated, after any model load
    report(on_progress, done, len(wanted), f"{done}/{len(wanted)} classes done", step="start")
    if request.source in DATA_SOURCES:
        _from_annotations(dataset, request, dset, todo)
        report(on_progress, len(wanted), len(wanted), f"{len(wanted)}/{len(wanted)} classes done", step="classes")
    elif todo:
        source = source or make_source(request, api_key, cache_root=cache_root)
        _load_model(source, on_progress, done, len(wanted))
        _generate(dataset, request, dset, todo, len(wanted), source, deadline, on_progress, should_cancel)
    return summarise(dset, wanted, request)


def _load_model(source, on_progress: ProgressFn, done: int, total: int) -> None:
    """Load a local model before the first class, so that the wait shows as its own step ("loading")."""
    if isinstance(source, LocalSource):
        report(on_progress, done, total, f"loading the model ({source.model_name})", step="loading")
        source.load()


def _generate(dataset, request, dset, todo, total, source, deadline, on_progress, should_cancel) -> None:
    """Generate ``todo`` in rounds of ``batch_size``; a progress report as each class is saved, with the
    completion tokens per second so far (``tokens_per_s``) and seconds per class (``seconds_per_class``)."""
    settings = request.settings or GenerationSettings()
    done, start_time, tokens = total - len(todo), time.monotonic(), [0]
    finished = [0]
    # The model is loaded by now: the rate of the classes (and so the ETA) is measured from here, not from the start.
    report(on_progress, done, total, f"{done}/{total} classes done; generating", step="classes")
    for start in range(0, len(todo), request.batch_size):
        check_cancel(should_cancel, "Description generation")
        _check_deadline(deadline, request, done + finished[0], total)
        chunk = todo[start : start + request.batch_size]
        prompts = [render_prompt(request.prompt, dataset.display_names[c], dataset.name) for c in chunk]

        def save(i: int, completion: Completion, chunk: list[int] = chunk) -> None:
            c = chunk[i]
            lines = [line for text in completion.texts for line in split_completion(text)]
            dset.save_generated(c, dataset.display_names[c], dedupe_lines(lines), completion.texts, completion.usage)
            finished[0] += 1
            tokens[0] += int(completion.usage.get("completion_tokens", 0))
            elapsed = max(time.monotonic() - start_time, 1e-9)
            metrics = {"tokens_per_s": tokens[0] / elapsed, "seconds_per_class": elapsed / finished[0], "completion_tokens": tokens[0]}
            n = done + finished[0]
            report(on_progress, n, total, f"{n}/{total} classes done ({dataset.display_names[c]})", step="classes", metrics=metrics)

        try:
            source.complete(prompts, settings, save, on_notice=_notice(on_progress, done + finished[0], total), deadline=deadline)
        except DeadlineExceeded:
            _check_deadline(deadline, request, len(set(todo) & dset.done_classes()) + done, total)
            raise


def _notice(on_progress: ProgressFn, done: int, total: int):
    """Retry notices: a warning in the log (the CLI prints it) and the progress line (the app shows it)."""

    def notice(message: str) -> None:
        log.warning("%s", message)
        on_progress(done, total, f"{done}/{total} classes done; {message}")

    return notice


def _check_deadline(deadline: float | None, request: DescribeRequest, done: int, total: int) -> None:
    """Stop, keeping finished classes, once the run's deadline has passed."""
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExceeded(
            f"Stopped at the deadline of {request.deadline:g} s with {done} of {total} classes done (kept). "
            "Run the same command again to continue, or allow more time."
        )


def _from_annotations(dataset: ImageDataset, request: DescribeRequest, dset: DescriptionSet, todo: list[int]) -> None:
    """The attributes and captions sources: sentences straight from annotations."""
    if request.source == "attributes":
        if dataset.attributes is None:
            fix = (
                "CUB needs attributes/ and attributes.txt from the official archive."
                if dataset.name == "cub"
                else "Only CUB-200-2011 and the demo come with class attributes; use an LLM source (local, openai) or import a description file."
            )
            raise FewShotError(f"The {dataset.name} dataset has no class attributes here. {fix}")
        for c in todo:
            lines = attribute_lines(dataset, c)
            dset.save_generated(c, dataset.display_names[c], lines, [])
        return
    if not request.captions_root or not Path(request.captions_root).expanduser().is_dir():
        raise FewShotError("The captions source needs the folder of Reed et al.'s captions (holding text_c10/).")
    found = 0
    for c in todo:
        lines = caption_lines(request.captions_root, dataset.class_names[c])
        found += bool(lines)
        dset.save_generated(c, dataset.display_names[c], lines, [])
    if todo and not found:
        raise FewShotError(f"No caption folders in {request.captions_root} match this dataset's class folders (e.g. {dataset.class_names[0]}).")


def summarise(dset: DescriptionSet, classes: list[int], request: DescribeRequest) -> DescribeSummary:
    """Counts, token usage and estimated cost of a set."""
    usage = dset.usage()
    model = (request.settings or GenerationSettings()).model if request.source == "openai" else ""
    return DescribeSummary(
        classes_done=len(set(classes) & dset.done_classes()),
        descriptions=sum(len(dset.lines(c)) for c in classes),
        store=str(dset.path),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        estimated_cost_usd=estimate_cost(model, usage.prompt_tokens, usage.completion_tokens) if model else None,
    )

"""Generating descriptions into the store: resumable, cancellable, saved class by class."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..datasets.base import ImageDataset
from ..errors import FewShotError
from ..progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress, report
from .parsing import dedupe_lines, split_completion
from .prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from .registry import SourceInfo, source_info
from .sources import Completion, DeadlineExceeded, GenerationSettings, estimate_cost
from .store import DescriptionSet, DescriptionStore

log = logging.getLogger(__name__)


@dataclass
class DescribeRequest:
    """Everything that decides which descriptions come out (and so the store key)."""

    source: str = "local"  # a registered source (registry.py): openai | openai-compatible | local | attributes | captions
    prompt: str = DEFAULT_PROMPT
    settings: GenerationSettings | None = None  # None: the defaults, with the source's own model
    base_url: str | None = None  # openai-compatible servers
    captions_root: str | None = None  # captions: folder holding text_c10/
    batch_size: int = 8  # prompts per request round (local: one batched generate call)
    timeout: float = 60.0  # seconds one request to an LLM server may take (each try)
    retries: int = 2  # further tries after a timeout, connection error, 429 or 5xx (announced as they happen)
    deadline: float | None = None  # seconds the whole run may take; None = no limit. Finished classes are kept either way
    api_key_env: str | None = None  # openai-compatible: the environment variable holding that server's key; None = send no key
    allow_insecure_http: bool = False  # openai-compatible: plain http:// to another machine (default: loopback only)

    def generation_settings(self) -> GenerationSettings:
        """The sampling settings, with the source's default model where they name none."""
        settings = self.settings or GenerationSettings()
        return settings if settings.model else replace(settings, model=source_info(self.source).default_model)

    def key_settings(self) -> dict[str, Any]:
        """What goes into the store key and meta.json (never an API key, nor credentials inside the URL): the source's own."""
        return source_info(self.source).key_settings(self)

    def validate(self) -> None:
        """Refuse settings that cannot work, with what to use instead."""
        source_info(self.source)  # a registered source, or one line naming them
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


@dataclass
class DescribeSummary:
    classes_done: int
    descriptions: int
    store: str
    prompt_tokens: int
    completion_tokens: int
    estimated_cost_usd: float | None


def make_source(request: DescribeRequest, api_key: str | None = None, device: str = "cpu", cache_root: Path | str | None = None):
    """The LLM source a request names (``SourceInfo.make``). ``api_key`` (in memory) overrides the environment:
    OPENAI_API_KEY for ``openai``, the variable ``request.api_key_env`` names for ``openai-compatible`` (none: no key is sent)."""
    info = source_info(request.source)
    if not info.completes:
        raise FewShotError(f"The {info.name} source makes its sentences from annotations; it completes no prompts.")
    return info.make(request, api_key, device, Path(cache_root) if cache_root else None)


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
    info = source_info(request.source)
    if info.completes:
        validate_prompt(request.prompt)
    if source is None:
        info.check(request, dataset)  # before anything is stored: a server, a key variable, annotations
    deadline = time.monotonic() + request.deadline if request.deadline else None
    dset = DescriptionStore(cache_root).open(dataset.name, request.source, request.key_settings())
    wanted = list(range(dataset.num_classes)) if classes is None else classes
    todo = [c for c in wanted if c not in dset.done_classes()]
    done = len(wanted) - len(todo)
    # step "start", not "classes": the ETA of the classes is timed from the first class generated, after any model load
    report(on_progress, done, len(wanted), f"{done}/{len(wanted)} classes done", step="start")
    if not info.completes:
        _from_annotations(dataset, request, dset, todo, info)
        report(on_progress, len(wanted), len(wanted), f"{len(wanted)}/{len(wanted)} classes done", step="classes")
    elif todo:
        source = source or make_source(request, api_key, cache_root=cache_root)
        _load_model(source, on_progress, done, len(wanted))
        _generate(dataset, request, dset, todo, len(wanted), source, deadline, on_progress, should_cancel)
    return summarise(dset, wanted, request)


def _load_model(source, on_progress: ProgressFn, done: int, total: int) -> None:
    """Load a local model before the first class (a source with ``load``), so that the wait shows as its own step ("loading")."""
    if callable(getattr(source, "load", None)):
        report(on_progress, done, total, f"loading the model ({getattr(source, 'model_name', '')})", step="loading")
        source.load()


def _generate(dataset, request, dset, todo, total, source, deadline, on_progress, should_cancel) -> None:
    """Generate ``todo`` in rounds of ``batch_size``; a progress report as each class is saved, with the
    completion tokens per second so far (``tokens_per_s``) and seconds per class (``seconds_per_class``)."""
    settings = request.generation_settings()
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


def _from_annotations(dataset: ImageDataset, request: DescribeRequest, dset: DescriptionSet, todo: list[int], info: SourceInfo) -> None:
    """A data source (attributes, captions): sentences straight from annotations, saved class by class."""
    for c in todo:
        dset.save_generated(c, dataset.display_names[c], info.lines(dataset, request, c), [])


def summarise(dset: DescriptionSet, classes: list[int], request: DescribeRequest) -> DescribeSummary:
    """Counts, token usage and estimated cost of a set."""
    usage = dset.usage()
    model = request.generation_settings().model if source_info(request.source).priced else ""
    return DescribeSummary(
        classes_done=len(set(classes) & dset.done_classes()),
        descriptions=sum(len(dset.lines(c)) for c in classes),
        store=str(dset.path),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        estimated_cost_usd=estimate_cost(model, usage.prompt_tokens, usage.completion_tokens) if model else None,
    )

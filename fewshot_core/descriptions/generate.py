"""Generating descriptions into the store: resumable, cancellable, saved class by class."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..datasets.base import ImageDataset
from ..errors import FewShotError
from ..progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress
from .parsing import split_completion
from .prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from .sources import (
    ATTRIBUTE_SENTENCES_VERSION,
    DATA_SOURCES,
    LLM_SOURCES,
    Completion,
    GenerationSettings,
    LocalSource,
    OpenAISource,
    attribute_lines,
    caption_lines,
    estimate_cost,
)
from .store import DescriptionSet, DescriptionStore


@dataclass
class DescribeRequest:
    """Everything that decides which descriptions come out (and so the store key)."""

    source: str = "local"  # openai | openai-compatible | local | attributes | captions
    prompt: str = DEFAULT_PROMPT
    settings: GenerationSettings | None = None
    base_url: str | None = None  # openai-compatible servers
    captions_root: str | None = None  # captions: folder holding text_c10/
    batch_size: int = 8  # prompts per request round (local: one batched generate call)

    def key_settings(self) -> dict[str, Any]:
        """What goes into the store key (never an API key)."""
        if self.source in DATA_SOURCES:
            return {"captions_root": str(self.captions_root or "")} if self.source == "captions" else {"sentences": ATTRIBUTE_SENTENCES_VERSION}
        return {"prompt": self.prompt, "base_url": self.base_url or "", **asdict(self.settings or GenerationSettings())}


@dataclass
class DescribeSummary:
    classes_done: int
    descriptions: int
    store: str
    prompt_tokens: int
    completion_tokens: int
    estimated_cost_usd: float | None


def make_source(request: DescribeRequest, api_key: str | None = None, device: str = "cpu"):
    """The LLM source a request names."""
    if request.source == "openai":
        return OpenAISource(api_key=api_key)
    if request.source == "openai-compatible":
        if not request.base_url:
            raise FewShotError("The openai-compatible source needs a base URL, e.g. http://localhost:11434/v1 for Ollama.")
        return OpenAISource(api_key=api_key, base_url=request.base_url)
    if request.source == "local":
        return LocalSource((request.settings or GenerationSettings()).model, device, request.batch_size)
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
    """Fill the store for ``classes`` (default all), skipping classes already done; returns a summary."""
    if request.source in LLM_SOURCES:
        validate_prompt(request.prompt)
    dset = DescriptionStore(cache_root).open(dataset.name, request.source, request.key_settings())
    wanted = list(range(dataset.num_classes)) if classes is None else classes
    todo = [c for c in wanted if c not in dset.done_classes()]
    done = len(wanted) - len(todo)
    on_progress(done, len(wanted), f"{done}/{len(wanted)} classes done")
    if request.source in DATA_SOURCES:
        _from_annotations(dataset, request, dset, todo)
    elif todo:
        source = source or make_source(request, api_key)
        settings = request.settings or GenerationSettings()
        for start in range(0, len(todo), request.batch_size):
            check_cancel(should_cancel, "Description generation")
            chunk = todo[start : start + request.batch_size]
            prompts = [render_prompt(request.prompt, dataset.display_names[c], dataset.name) for c in chunk]

            def save(i: int, completion: Completion, chunk: list[int] = chunk) -> None:
                c = chunk[i]
                lines = [line for text in completion.texts for line in split_completion(text)]
                dset.save_generated(c, dataset.display_names[c], _dedupe(lines), completion.texts, completion.usage)

            source.complete(prompts, settings, save)
            done += len(chunk)
            on_progress(done, len(wanted), f"{done}/{len(wanted)} classes done")
    return summarise(dset, wanted, request)


def _dedupe(lines: list[str]) -> list[str]:
    seen, out = set(), []
    for line in lines:
        if line.lower() not in seen:
            seen.add(line.lower())
            out.append(line)
    return out


def _from_annotations(dataset: ImageDataset, request: DescribeRequest, dset: DescriptionSet, todo: list[int]) -> None:
    """The attributes and captions sources: sentences straight from annotations."""
    if request.source == "attributes":
        if dataset.attributes is None:
            raise FewShotError(f"{dataset.name} has no class attributes here; CUB needs attributes/ and attributes.txt from the official archive.")
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

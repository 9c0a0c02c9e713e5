"""Description sources behind one small interface, and their registry.

A source either completes prompts (an LLM: ``openai``, ``openai-compatible``, ``local``), through an object
with ``DescriptionSource.complete``, or turns a class's annotations into sentences (``attributes``,
``captions``). Its record, ``SourceInfo``, says which settings key the store, its default model, whether it
needs an API key, and how to check, before anything is stored, that it can run. ``describe``, the CLI's
``--source`` and the Descriptions page read this registry, so a new source is one ``register_source`` call
(CONTRIBUTING.md). Where requests may go and which key goes with them stays in ``endpoint.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ..datasets.base import ImageDataset
from ..errors import FewShotError
from ..redact import redact_url
from .endpoint import check_base_url, check_key_destination, key_from_env
from .local_llm import LocalSource, embedded_model_path
from .sources import (
    ATTRIBUTE_SENTENCES_VERSION,
    GenerationSettings,
    OnDone,
    OnNotice,
    OpenAISource,
    attribute_lines,
    caption_folder,
    caption_lines,
    log_notice,
)


class DescriptionSource(Protocol):
    """What an LLM source does: complete every prompt, calling ``on_done(i, completion)`` as each arrives.

    ``on_notice`` takes retry messages; ``deadline`` is a ``time.monotonic()`` time (raise
    ``sources.DeadlineExceeded`` past it). A source with a slow model load may also have ``load()`` (and
    ``model_name``): ``describe`` calls it first, so the wait shows as its own step.
    """

    def complete(
        self, prompts: list[str], settings: GenerationSettings, on_done: OnDone, on_notice: OnNotice = log_notice, deadline: float | None = None
    ) -> None: ...


def _usable(request: Any, dataset: ImageDataset) -> None:
    """A source with nothing to check before it runs."""


def llm_key_settings(request: Any) -> dict[str, Any]:
    """What keys an LLM set: the prompt, the server (credentials stripped) and the sampling settings, model resolved."""
    return {"prompt": request.prompt, "base_url": redact_url(request.base_url), **asdict(request.generation_settings())}


@dataclass(frozen=True)
class SourceInfo:
    """One description source: how it makes lines, what keys its store, and what it needs to run."""

    name: str  # as --source and the store's folder names spell it
    help: str  # one line for the page and --help
    make: Callable[..., DescriptionSource] | None = None  # LLM sources: (request, api_key, device, cache_root) -> a source
    lines: Callable[[ImageDataset, Any, int], list[str]] | None = None  # data sources: (dataset, request, class) -> its sentences
    key_settings: Callable[[Any], dict[str, Any]] = llm_key_settings  # request -> what keys the store and meta.json (never a key)
    check: Callable[[Any, ImageDataset], None] = _usable  # raise FewShotError with what to do, before anything is stored
    default_model: str = ""  # the model when the request names none (LLM sources)
    needs_key: bool = False  # cannot run without an API key (the page warns when none is set)
    priced: bool = False  # its models have list prices (sources.PRICES): the page and the summary estimate the cost

    @property
    def completes(self) -> bool:
        """Whether the source completes prompts (an LLM) rather than reading annotations."""
        return self.make is not None


SOURCE_REGISTRY: dict[str, SourceInfo] = {}  # in the order the page and --source list them


def register_source(info: SourceInfo) -> SourceInfo:
    """Add a description source to ``describe``, ``--source`` and the Descriptions page; returns it."""
    if info.name in SOURCE_REGISTRY or (info.make is None) == (info.lines is None):
        raise FewShotError(f"Cannot register description source {info.name!r}: the name must be new, with either make or lines.")
    SOURCE_REGISTRY[info.name] = info
    return info


def source_info(name: str) -> SourceInfo:
    """The registered source ``name``, with a clear error for an unknown one."""
    if name not in SOURCE_REGISTRY:
        raise FewShotError(f"Unknown description source {name!r}; choose one of {', '.join(SOURCE_REGISTRY)}.")
    return SOURCE_REGISTRY[name]


def source_names() -> list[str]:
    """Every registered source's name, LLM sources first as registered."""
    return list(SOURCE_REGISTRY)


def _make_openai(request: Any, api_key: str | None, device: str, cache_root: Path | None) -> DescriptionSource:
    return OpenAISource(api_key=api_key, timeout=request.timeout, max_retries=request.retries)


def _make_compatible(request: Any, api_key: str | None, device: str, cache_root: Path | None) -> DescriptionSource:
    """That server's own key only: the one passed in memory, else the variable ``request.api_key_env`` names (none: no key)."""
    if not request.base_url:  # never fall back to api.openai.com (and OPENAI_API_KEY)
        _check_compatible(request, None)
    key = api_key or key_from_env(request.api_key_env)
    return OpenAISource(
        api_key=key, base_url=request.base_url, timeout=request.timeout, max_retries=request.retries, allow_insecure_http=request.allow_insecure_http
    )


def _check_compatible(request: Any, dataset: ImageDataset) -> None:
    """A base URL is given, and it and the key variable can be used (``endpoint.check_base_url``)."""
    if not request.base_url:
        raise FewShotError("The openai-compatible source needs a base URL, e.g. http://localhost:11434/v1 for Ollama.")
    check_key_destination(key_from_env(request.api_key_env), check_base_url(request.base_url, request.allow_insecure_http))


def _make_local(request: Any, api_key: str | None, device: str, cache_root: Path | None) -> DescriptionSource:
    return LocalSource(request.generation_settings().model, device, request.batch_size, cache_root)


def _check_local(request: Any, dataset: ImageDataset) -> None:
    """The embedded model's package is installed (another model is checked when it loads)."""
    if request.generation_settings().model == "smollm2":
        embedded_model_path()


def _check_attributes(request: Any, dataset: ImageDataset) -> None:
    if dataset.attributes is None:
        fix = (
            "CUB needs attributes/ and attributes.txt from the official archive."
            if dataset.name == "cub"
            else "Only CUB-200-2011 and the demo come with class attributes; use an LLM source (local, openai) or import a description file."
        )
        raise FewShotError(f"The {dataset.name} dataset has no class attributes here. {fix}")


def _check_captions(request: Any, dataset: ImageDataset) -> None:
    """The folder exists and holds a caption folder for at least one of the dataset's classes."""
    if not request.captions_root or not Path(request.captions_root).expanduser().is_dir():
        raise FewShotError("The captions source needs the folder of Reed et al.'s captions (holding text_c10/).")
    if not any(caption_folder(request.captions_root, name).is_dir() for name in dataset.class_names):
        raise FewShotError(f"No caption folders in {request.captions_root} match this dataset's class folders (e.g. {dataset.class_names[0]}).")


register_source(
    SourceInfo("openai", "the OpenAI API (needs OPENAI_API_KEY)", make=_make_openai, default_model="gpt-3.5-turbo", needs_key=True, priced=True)
)
register_source(
    SourceInfo(
        "openai-compatible",
        "any server speaking the OpenAI API (Ollama, vLLM, LM Studio, llama.cpp), with its own key or none",
        make=_make_compatible,
        check=_check_compatible,
        default_model="gpt-3.5-turbo",  # what proxies of the OpenAI API answer to; name the server's own with --model
    )
)
register_source(SourceInfo("local", "SmolLM2-135M-Instruct, offline, no key", make=_make_local, check=_check_local, default_model="smollm2"))
register_source(
    SourceInfo(
        "attributes",
        "sentences from the dataset's class attributes",
        lines=lambda dataset, request, c: attribute_lines(dataset, c),
        key_settings=lambda request: {"sentences": ATTRIBUTE_SENTENCES_VERSION},
        check=_check_attributes,
    )
)
register_source(
    SourceInfo(
        "captions",
        "human captions (Reed et al.'s text_c10/)",
        lines=lambda dataset, request, c: caption_lines(request.captions_root, dataset.class_names[c]),
        key_settings=lambda request: {"captions_root": str(request.captions_root or "")},
        check=_check_captions,
    )
)

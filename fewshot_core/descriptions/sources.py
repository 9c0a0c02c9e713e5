"""Where descriptions come from: the OpenAI client source, the sampling settings, attribute and caption sentences.

LLM sources (``openai``, ``openai-compatible``, ``local``) complete prompts; data sources
(``attributes``, ``captions``) turn annotations into sentences; ``registry.py`` registers each one. API keys
are read from the environment or passed in memory, and never written anywhere.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FewShotError
from ..redact import redact_url
from .endpoint import OPENAI_URL, check_base_url, check_key_destination, compatible_client

ATTRIBUTE_SENTENCES_VERSION = 2  # in the store key: 2 = the demo's varied sentences
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# USD per million tokens (input, output), for cost estimates only.
PRICES = {"gpt-3.5-turbo": (0.50, 1.50), "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1": (2.00, 8.00)}


@dataclass
class GenerationSettings:
    """Sampling settings, part of every description set's key."""

    model: str = ""  # "" = the source's own default (registry.SourceInfo.default_model: openai the paper's gpt-3.5-turbo, local smollm2)
    temperature: float = 0.7
    max_tokens: int = 400
    samples: int = 1  # completions per class


@dataclass
class Completion:
    """The completions for one prompt and what they cost in tokens."""

    texts: list[str]
    usage: dict[str, int] = field(default_factory=dict)


OnDone = Callable[[int, Completion], None]
OnNotice = Callable[[str], None]
log = logging.getLogger(__name__)


def log_notice(message: str) -> None:
    """The default notice callback: a warning in the log (the CLI prints warnings)."""
    log.warning("%s", message)


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for the given token counts, or None for models without a known price (local, custom)."""
    price = PRICES.get(model) or next((p for name, p in PRICES.items() if model.startswith(name)), None)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def estimate_request_cost(model: str, prompts: list[str], settings: GenerationSettings) -> float | None:
    """An upper bound before sending: ~4 characters a token in, max_tokens out per sample."""
    return estimate_cost(model, sum(len(p) // 4 + 8 for p in prompts), len(prompts) * settings.max_tokens * settings.samples)


class OpenAISource:
    """The OpenAI API, or any server speaking it (Ollama, vLLM, LM Studio, llama.cpp) via ``base_url``.

    Without ``base_url``: https://api.openai.com with ``api_key`` or OPENAI_API_KEY. With one: that server (checked
    and pinned by ``endpoint.check_base_url``), sent ``api_key`` only, or no key at all; never OPENAI_API_KEY.

    Each try waits at most ``timeout`` seconds. Timeouts, connection errors, 429 and 5xx are tried again
    up to ``max_retries`` times with exponential backoff (or the server's Retry-After), and every retry is
    announced through ``on_notice``; an authentication error stops everything at once. Requests run on
    daemon threads, so Ctrl-C or a deadline returns at once instead of waiting for a silent server.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 2,
        allow_insecure_http: bool = False,
    ):
        import openai

        # The client's own retries are off: ours can be reported, stopped and bounded by a deadline.
        if base_url is None:
            key = api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                raise FewShotError("No OpenAI API key: set OPENAI_API_KEY (or Streamlit secrets), or use the local or attributes source.")
            self.client = openai.OpenAI(api_key=key, base_url=OPENAI_URL, timeout=timeout, max_retries=0)  # never $OPENAI_BASE_URL
        else:
            endpoint = check_base_url(base_url, allow_insecure_http)
            check_key_destination(api_key, endpoint)
            self.client = compatible_client(endpoint, api_key, timeout)
        self.concurrency, self.base_url, self.timeout, self.max_retries = concurrency, base_url, timeout, max_retries

    def complete(
        self,
        prompts: list[str],
        settings: GenerationSettings,
        on_done: OnDone,
        on_notice: OnNotice = log_notice,
        deadline: float | None = None,
    ) -> None:
        """Complete every prompt (bounded concurrency), calling ``on_done(i, completion)`` as each arrives.

        ``on_done`` and ``on_notice`` run on the calling thread. ``deadline`` is a ``time.monotonic()`` time.
        """
        stop, events, todo = threading.Event(), queue.Queue(), queue.Queue()
        for item in enumerate(prompts):
            todo.put(item)
        for n in range(min(self.concurrency, len(prompts))):
            threading.Thread(target=self._worker, args=(todo, events, settings, stop, deadline), daemon=True, name=f"llm-request-{n}").start()
        remaining = len(prompts)
        try:
            while remaining:
                try:
                    kind, i, value = events.get(timeout=0.2)  # short waits keep Ctrl-C responsive
                except queue.Empty:
                    continue
                if kind == "error":
                    raise value
                if kind == "notice":
                    on_notice(value)
                else:
                    on_done(i, value)
                    remaining -= 1
        finally:
            stop.set()  # workers start no new request; one still waiting on the server is abandoned

    def _worker(self, todo: queue.Queue, events: queue.Queue, settings: GenerationSettings, stop: threading.Event, deadline: float | None) -> None:
        while not stop.is_set():
            try:
                i, prompt = todo.get_nowait()
            except queue.Empty:
                return
            try:
                notify = lambda message, i=i: events.put(("notice", i, f"prompt {i + 1}: {message}"))  # noqa: E731
                events.put(("done", i, self._one(prompt, settings, stop, deadline, notify)))
            except BaseException as e:  # noqa: BLE001 - handed to the calling thread, which raises it
                events.put(("error", i, e))
                return

    def _one(
        self, prompt: str, settings: GenerationSettings, stop: threading.Event, deadline: float | None, notify: Callable[[str], None]
    ) -> Completion:
        """One prompt, with retries; raises FewShotError with what to do when it cannot be completed."""
        import openai

        for attempt in range(self.max_retries + 1):
            timeout = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
            if stop.is_set():
                raise FewShotError("Generation stopped.")
            if timeout <= 0:
                raise DeadlineExceeded("The deadline passed while waiting for the server; finished classes are kept.")
            try:
                return self._request(prompt, settings, timeout)
            except (openai.APIConnectionError, openai.APIStatusError) as e:
                if isinstance(e, openai.APIStatusError) and not _retryable_status(e.status_code):
                    raise FewShotError(
                        f"The server refused the request with HTTP {e.status_code} ({e.message}). Check the model and settings."
                    ) from e
                if attempt == self.max_retries:
                    raise self._error(e) from e
                delay = _retry_delay(e, attempt)
                notify(f"{_reason(e, timeout)}; trying again in {delay:.1f} s (retry {attempt + 1} of {self.max_retries})")
                if stop.wait(delay):
                    raise FewShotError("Generation stopped.") from e
        raise AssertionError("unreachable")

    def _request(self, prompt: str, settings: GenerationSettings, timeout: float) -> Completion:
        import openai

        try:
            response = self.client.chat.completions.create(
                model=settings.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
                n=settings.samples,
                timeout=timeout,
            )
        except openai.AuthenticationError as e:
            raise FewShotError(
                "The API key was rejected (401). Check OPENAI_API_KEY, or for an openai-compatible server the key it is given (--api-key-env NAME)."
            ) from e
        except openai.NotFoundError as e:
            raise FewShotError(f"The server does not know model {settings.model!r} (404). Check the model name.") from e
        except openai.APIResponseValidationError as e:
            raise FewShotError(f"The server sent a malformed response ({e}); is the base URL an OpenAI-compatible endpoint?") from e
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            raise FewShotError("The server sent a response without completions; is the base URL an OpenAI-compatible endpoint?")
        texts = [(c.message.content or "") for c in choices]
        usage = response.usage.model_dump() if getattr(response, "usage", None) else {}
        return Completion(texts, {k: int(usage.get(k) or 0) for k in ("prompt_tokens", "completion_tokens")})

    def _error(self, e: Exception) -> FewShotError:
        """The final error once retries are used up (or not allowed)."""
        import openai

        tries = f"{self.max_retries + 1} tries" if self.max_retries else "1 try"
        if isinstance(e, openai.APIStatusError):
            return FewShotError(f"The server answered HTTP {e.status_code} after retries ({tries}); try again later. Finished classes are kept.")
        where = redact_url(self.base_url) or "api.openai.com"
        return FewShotError(
            f"Could not reach {where} after retries ({tries} of up to {self.timeout:g} s, {type(e).__name__}). Check the connection or the "
            "server URL, or raise --timeout; finished classes are kept."
        )


class DeadlineExceeded(FewShotError):
    """The overall deadline of a generation run passed; finished classes are kept."""


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _reason(e: Exception, timeout: float) -> str:
    """What went wrong with one try, in words."""
    import openai

    if isinstance(e, openai.APITimeoutError):
        return f"no answer within {timeout:.3g} s"
    if isinstance(e, openai.APIStatusError):
        return f"the server answered HTTP {e.status_code}"
    return f"could not connect ({type(e).__name__})"


def _retry_delay(e: Exception, attempt: int) -> float:
    """The server's Retry-After (at most 30 s) if it gave one, else 0.5 s doubling per retry (at most 8 s)."""
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return min(30.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            return min(30.0, float(headers["retry-after"]))
    except ValueError:
        pass
    return min(8.0, 0.5 * 2**attempt)


def attribute_lines(dataset, c: int) -> list[str]:
    """The ``attributes`` source's sentences for class ``c``: the dataset's own wording where its registry entry has
    one (``DatasetInfo.attribute_sentences``: the demo's varied sentences), else one per strong attribute."""
    from ..datasets import dataset_info, list_datasets

    own = dataset_info(dataset.name).attribute_sentences if dataset.name in list_datasets() else None
    if own is not None:
        return own(dataset, c)
    return attribute_sentences(dataset.display_names[c], dataset.attributes.names, dataset.attributes.values[c])


def attribute_sentences(display_name: str, names: list[str], values: np.ndarray, threshold: float = 50.0, limit: int = 20) -> list[str]:
    """Sentences from class-level attribute strengths (CUB: percentages), strongest first.

    ``has_wing_color::black`` at 80 -> "The Black footed Albatross has black wing color."
    """
    order = np.argsort(-values)
    out = []
    for a in order[:limit]:
        if values[a] < threshold:
            break
        part, _, value = names[a].partition("::")
        part = part.removeprefix("has_").replace("_", " ")
        value = value.replace("_", " ").strip()
        out.append(f"The {display_name} has {value} {part}." if value else f"The {display_name} has {part}.")
    return out


def caption_folder(captions_root: Path | str, folder_name: str) -> Path:
    """Where one class's captions are in Reed et al.'s layout: ``text_c10/<class folder>`` (or ``<class folder>`` in the root)."""
    root = Path(captions_root).expanduser()
    return (root / "text_c10" if (root / "text_c10").is_dir() else root) / folder_name


def caption_lines(captions_root: Path | str, folder_name: str) -> list[str]:
    """Human captions of one class in Reed et al.'s layout: ``text_c10/<class folder>/<image>.txt``."""
    folder = caption_folder(captions_root, folder_name)
    if not folder.is_dir():
        return []
    lines, seen = [], set()
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line and line.lower() not in seen:
                seen.add(line.lower())
                lines.append(line)
    return lines

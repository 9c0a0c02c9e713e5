"""Local description generation: one request at a time vs the project's batched path, in one run.

Uses the embedded SmolLM2-135M-Instruct (offline). The same prompts and settings (greedy decoding,
so both ways produce comparable text) go through LocalSource one prompt per call, then in batches.

Usage: python benchmarks/bench_describe.py [--classes 8] [--max-tokens 64]
Prints as its last line JSON with sequential_tokens_per_s, batched_tokens_per_s and speedup.
"""

from __future__ import annotations

import argparse
import time

from _common import emit, machine
from fewshot_core.descriptions.local_llm import LocalSource
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, render_prompt
from fewshot_core.descriptions.sources import GenerationSettings

CLASSES = [
    "Black footed Albatross",
    "Laysan Albatross",
    "Sooty Albatross",
    "Groove billed Ani",
    "Crested Auklet",
    "Least Auklet",
    "Parakeet Auklet",
    "Rhinoceros Auklet",
]


def timed(source: LocalSource, prompts: list[str], settings: GenerationSettings, batch: int) -> tuple[float, int]:
    """Seconds and generated tokens for ``prompts`` in batches of ``batch``."""
    source.batch_size = batch
    tokens = 0
    start = time.perf_counter()

    def count(i, completion):
        nonlocal tokens
        tokens += completion.usage["completion_tokens"]

    source.complete(prompts, settings, count)
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    names = (CLASSES * (args.classes // len(CLASSES) + 1))[: args.classes]
    prompts = [render_prompt(DEFAULT_PROMPT, n) for n in names]
    settings = GenerationSettings(model="smollm2", temperature=0.0, max_tokens=args.max_tokens)
    source = LocalSource("smollm2")
    start = time.perf_counter()
    source.load()
    load_s = time.perf_counter() - start
    timed(source, prompts[:1], GenerationSettings(model="smollm2", temperature=0.0, max_tokens=4), 1)  # warm-up
    seq_s, seq_tokens = timed(source, prompts, settings, 1)
    bat_s, bat_tokens = timed(source, prompts, settings, len(prompts))
    emit(
        {
            "benchmark": "describe",
            "model": "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised by transformers)",
            "prompts": len(prompts),
            "max_tokens": args.max_tokens,
            "load_s": round(load_s, 2),
            "sequential_tokens": seq_tokens,
            "batched_tokens": bat_tokens,
            "sequential_tokens_per_s": round(seq_tokens / seq_s, 2),
            "batched_tokens_per_s": round(bat_tokens / bat_s, 2),
            "speedup": round((bat_tokens / bat_s) / (seq_tokens / seq_s), 2),
            "target": "speedup >= 3",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()

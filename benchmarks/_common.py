"""Helpers shared by the benchmarks: environment facts and the final JSON line."""

from __future__ import annotations

import json
import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    from fewshot_core.backbone import cpu_has_native_bf16

    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _cpu_name() -> str:
    """The CPU model, as /proc/cpuinfo names it (else what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last line: one JSON object."""
    print(json.dumps(result, default=str), flush=True)


def synthetic_modes() -> dict[str, Any]:
    """The two CUB-sized synthetic feature sets every default-choosing benchmark reports.

    ``rotation``: text = rotated prototypes (only a trained translator can undo it); ``shift``: text =
    prototypes + a near-constant modality gap, noisier, tuned so zero-shot is ~56 % (CLIP on CUB: ~52 %).
    """
    from fewshot_core.synthetic import SyntheticSpec

    return {"rotation": SyntheticSpec(), "shift": SyntheticSpec(mode="shift", gap=1.0, text_noise=4.0)}


def validation_and_test(results) -> tuple[float, dict[str, float]]:
    """A setting's score for choosing (mean validation accuracy of its Q-Former-translated adapters, %)
    and its test accuracies by translation/shots/texts (%), reported only for the chosen setting."""
    val = round(float(results[results.translation == "qformer"].val_acc.mean()) * 100, 2)
    by = results.groupby(["translation", "shots", "texts"]).test_acc.mean().mul(100).round(2)
    return val, {f"{t}/{k}-shot/{m}": float(v) for (t, k, m), v in by.items()}


def emit_choice(benchmark: str, selection: str, val: dict, test: dict, chosen: str, seconds: float, **extra: Any) -> None:
    """The last line of a default-choosing benchmark: every setting's validation score, the chosen one,
    and the test accuracies of the chosen setting only."""
    emit(
        {
            "benchmark": benchmark,
            **extra,
            "selection": selection,
            "val_acc": val,
            "chosen": chosen,
            "test_acc_of_chosen": test[chosen],
            "seconds": round(seconds, 1),
            **machine(),
        }
    )

"""Which Q-Former loss, negative masking and learning rate? Chosen on validation, test shown only for the choice.

On both CUB-sized synthetic feature sets (``rotation`` and ``shift``, see ``_common.synthetic_modes``),
each candidate trains per-(shots, seed) Q-Formers under the default ``support`` protocol and feeds
their translations to the adapter (shots 1 and 5, 5 and 30 texts per class, seeds 0-1). Each candidate
is scored by the mean *validation* accuracy of its adapters (validation images drawn from the training
split); the default is the candidate with the best mean over both modes. Test accuracy is reported for
the chosen candidate only, beside image only and raw text (= the untrained Q-Former, whose output
projection starts at zero) from the same runs.

Pooled vs per-token input is not compared here: synthetic features have no token states.

Usage: python benchmarks/bench_qformer_losses.py
Prints one line per (mode, candidate) and, as its last line, JSON with every validation score and the choice.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import emit_choice, synthetic_modes, validation_and_test
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import make_synthetic

CANDIDATES = [  # (loss, mask_same_class, lr)
    ("paper", False, 3e-3),
    ("paper-literal", False, 3e-3),
    ("balanced", False, 3e-3),
    ("balanced", True, 3e-3),
    ("infonce", False, 3e-3),
    ("infonce", True, 3e-3),
    ("balanced", False, 5e-4),
]


def name_of(loss: str, mask: bool, lr: float) -> str:
    return f"{loss}{'+mask' if mask else ''}@lr{lr:g}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    val: dict[str, dict[str, float]] = {}
    test: dict[str, dict[str, dict[str, float]]] = {}
    for mode, spec in synthetic_modes().items():
        bundle = make_synthetic(spec)
        for loss, mask, lr in CANDIDATES:
            cfg = SweepConfig(
                shots=[1, 5],
                text_counts=[0, 5, 30],
                seeds=list(range(args.seeds)),
                methods=["adapter"],
                translations=["raw", "qformer"],
                qformer_train=QFormerTrainConfig(loss=loss, mask_same_class=mask, lr=lr),
            )
            with tempfile.TemporaryDirectory() as tmp:
                df = run_sweep(bundle, cfg, tmp)
            name = name_of(loss, mask, lr)
            val.setdefault(name, {})[mode], test.setdefault(name, {})[mode] = validation_and_test(df)
            print(mode, name, "val", val[name][mode], flush=True)
    chosen = max(val, key=lambda n: sum(val[n].values()) / len(val[n]))
    emit_choice(
        "qformer_losses",
        "mean validation accuracy of the Q-Former-translated adapters over both modes, shots 1 and 5, texts 5 and 30",
        val,
        test,
        chosen,
        time.perf_counter() - start,
        protocol="support",
    )


if __name__ == "__main__":
    main()

"""Pooled or per-token Q-Former input, same-class masking on or off: chosen on validation, on the demo dataset.

Synthetic features have no token states, so this comparison runs on the offline demo dataset (generated
shapes, the demo CLIP shipped in assets/, attribute descriptions; features computed into a temporary
cache). With ``pooled`` input the Q-Former's cross-attention has a single key (it is an MLP plus the
skip); with ``tokens`` its queries cross-attend into the CLIP text tower's token states, as in BLIP-2.
Each setting trains per-(shots, seed) Q-Formers under the default ``support`` protocol; the score is the
mean *validation* accuracy of the Q-Former-translated adapters. Test accuracy is printed for the chosen
setting only, beside image only and raw text from the same runs.

Usage: python benchmarks/bench_qformer_input.py [--seeds 3]
Prints as its last line JSON with every validation score and the choice.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import emit_choice, validation_and_test
from fewshot_core.assemble import build_bundle
from fewshot_core.demo.clip import demo_backbone_config
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.sweep import SweepConfig, run_sweep

CANDIDATES = [("pooled", False), ("pooled", True), ("tokens", False), ("tokens", True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        bundle = build_bundle("demo", None, demo_backbone_config("cpu"), None, cache, with_tokens=True)
        val, test = {}, {}
        for text_input, mask in CANDIDATES:
            cfg = SweepConfig(
                shots=[1, 2, 4],
                text_counts=[0, 2, 5],
                seeds=list(range(args.seeds)),
                methods=["adapter"],
                translations=["raw", "qformer"],
                qformer_text_input=text_input,
                qformer_train=QFormerTrainConfig(mask_same_class=mask),
                device="cpu",
            )
            with tempfile.TemporaryDirectory() as tmp:
                df = run_sweep(bundle, cfg, tmp)
            name = f"{text_input}{'+mask' if mask else ''}"
            val[name], test[name] = validation_and_test(df)
            print(name, "val", val[name], flush=True)
    chosen = max(val, key=val.get)
    emit_choice(
        "qformer_input",
        "mean validation accuracy of the Q-Former-translated adapters, shots 1/2/4, texts 2 and 5",
        val,
        test,
        chosen,
        time.perf_counter() - start,
        dataset=f"demo ({bundle.num_classes} classes, {len(bundle.description_labels)} descriptions)",
    )


if __name__ == "__main__":
    main()

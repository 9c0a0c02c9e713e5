"""The full default sweep on CUB-sized synthetic features, on the CPU.

Trains one Q-Former (train-split protocol) and reports its throughput, then runs the default sweep
(7 shots x 9 text counts x 3 seeds; adapter plus every baseline) reusing it. The reference in the same
run: the same adapter heads trained one at a time instead of batched, on one unit of the sweep.

Usage: python benchmarks/bench_sweep.py
Prints as its last line JSON with seconds (the sweep), runs and qformer_pairs_per_s.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from _common import emit, machine
from fewshot_core.adapter import train_adapters
from fewshot_core.datasets.sampling import sample_few_shot
from fewshot_core.qformer import TextSide, load_qformer_config, train_qformer, translate
from fewshot_core.report import table1
from fewshot_core.sweep import SweepConfig, run_sweep, select_descriptions
from fewshot_core.synthetic import SyntheticSpec, make_synthetic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    bundle = make_synthetic(SyntheticSpec())
    cfg = SweepConfig(device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(
            bundle, SweepConfig(shots=[1], text_counts=[0, 1], seeds=[0], device=args.device), f"{tmp}/warm", qformer_cache=tmp
        )  # trains + caches the Q-Former
        qformer_s = time.perf_counter() - start
        start = time.perf_counter()
        results = run_sweep(bundle, cfg, f"{tmp}/run", qformer_cache=tmp)
        sweep_s = time.perf_counter() - start
    # Throughput of Q-Former training alone (one epoch-equivalent measurement).
    text = TextSide(bundle.description_features, bundle.description_labels)
    one = train_qformer(
        bundle.train_features, bundle.train_labels, text, load_qformer_config(cfg.qformer_size), cfg.qformer_train.__class__(epochs=1), args.device
    )
    # Reference: one unit's adapter heads trained one at a time.
    split = sample_few_shot(bundle.train_labels, 5, 0, cfg.val_per_class)
    pseudo = translate(one.model, text)
    sets = []
    for m in cfg.text_counts:
        pick = select_descriptions(bundle.description_labels, m, 0)
        sets.append(
            (
                np.concatenate([bundle.train_features[split.support], pseudo[pick]]),
                np.concatenate([bundle.train_labels[split.support], bundle.description_labels[pick]]),
            )
        )
    start = time.perf_counter()
    for s in sets:
        train_adapters([s], bundle.num_classes, cfg.adapter, bundle.class_text_features, args.device)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    train_adapters(sets, bundle.num_classes, cfg.adapter, bundle.class_text_features, args.device)
    batched = time.perf_counter() - start
    table = table1(results)
    emit(
        {
            "benchmark": "sweep",
            "features": "synthetic CUB-sized: 200 classes, 5994 train, 5794 test, 512-d, 30 descriptions/class",
            "seconds": round(sweep_s, 2),
            "runs": int(len(results)),
            "units": len(cfg.shots) * len(cfg.seeds),
            "qformer_train_seconds": round(qformer_s, 2),
            "qformer_pairs_per_s": round(one.pairs_per_s, 1),
            "adapter_unit_one_by_one_s": round(one_by_one, 3),
            "adapter_unit_batched_s": round(batched, 3),
            "adapter_batching_speedup": round(one_by_one / batched, 2),
            "image_only_1shot": round(float(table.image_only.iloc[0]), 2),
            "image_text_val_1shot": round(float(table.image_text_val.iloc[0]), 2),
            "target": "sweep seconds < 120 on a 2-core CPU",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()

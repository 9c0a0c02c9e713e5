"""The full default sweep on CUB-sized synthetic features, on the CPU, under both protocols.

Runs the default ``SweepConfig`` (7 shots x 9 text counts x default seeds x every translation, plus
every baseline) once with ``protocol="support"`` (a Q-Former per (shots, seed)) and once with
``protocol="train-split"`` (a Q-Former per seed), each from an empty cache, and times both. Also
measures the Q-Former's training throughput alone (default size and settings, 1-shot support set),
and prints Table 1 per translation: image only, and for each translation the text count chosen on
validation, its test accuracy, and the paired gain over image only (same seed, same support set:
mean and 95 % t-interval over seeds).

Usage: python benchmarks/bench_sweep.py [--mode rotation|shift]
Prints as its last line JSON with seconds_support, seconds_train_split, runs and qformer_pairs_per_s.
Target on a 2-core CPU, run alone, with the default 20 seeds: support <= 900 s (issue #20).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine, synthetic_modes
from fewshot_core.datasets.sampling import sample_few_shot
from fewshot_core.qformer import TextSide, load_qformer_config, train_qformer
from fewshot_core.report import format_table1, summary_json, table1
from fewshot_core.storage import read_json
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import make_synthetic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mode", default="rotation", choices=list(synthetic_modes()))
    parser.add_argument("--seeds", type=int, default=len(SweepConfig().seeds), help="a smaller sweep for a smoke run (default: the default)")
    parser.add_argument("--shots", type=int, nargs="+", default=SweepConfig().shots)
    args = parser.parse_args()
    bundle = make_synthetic(synthetic_modes()[args.mode])
    result: dict[str, Any] = {"benchmark": "sweep", "mode": args.mode}
    tables = {}
    for protocol in ("support", "train-split"):
        cfg = SweepConfig(protocol=protocol, device=args.device, seeds=list(range(args.seeds)), shots=args.shots)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            df = run_sweep(bundle, cfg, f"{tmp}/run", qformer_cache=tmp)
            seconds = time.perf_counter() - start
            qformers = len(list(Path(tmp).glob("qformers/*.safetensors")))
            config = read_json(Path(tmp) / "run" / "config.json")
        key = protocol.replace("-", "_")
        result[f"seconds_{key}"], result[f"runs_{key}"], result[f"qformers_{key}"] = round(seconds, 1), int(len(df)), qformers
        tables[protocol] = summary_json(df, config, bundle.num_classes)["rows"]
        print(f"{protocol}: {seconds:.1f} s, {len(df)} results, {qformers} Q-Formers, seeds {cfg.seeds}", flush=True)
        print(format_table1(table1(df), config.get("qformer_images_per_class"), cfg.val_per_class), flush=True)
    cfg = SweepConfig()
    split = sample_few_shot(bundle.train_labels, 1, 0, cfg.val_per_class)
    text = TextSide(bundle.description_features, bundle.description_labels)
    one = train_qformer(
        bundle.train_features[split.support], bundle.train_labels[split.support], text, load_qformer_config(cfg.qformer_size), cfg.qformer_train
    )
    zs = df[df.method == "zeroshot"].test_acc
    emit(
        {
            **result,
            "features": f"synthetic CUB-sized ({args.mode} mode): 200 classes, 5994 train, 5794 test, 512-d, 30 descriptions/class",
            "seeds": cfg.seeds,
            "runs": result["runs_support"],
            "qformer_pairs_per_s": round(one.pairs_per_s, 1),
            "qformer_seconds_1shot": round(one.seconds, 2),
            "zero_shot": round(float(zs.iloc[0]) * 100, 2) if len(zs) else None,
            "table_support": tables["support"],
            "table_train_split": tables["train-split"],
            "target": "support <= 900 s on a 2-core CPU with the default 20 seeds, run alone",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()

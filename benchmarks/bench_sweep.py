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
Targets on a 2-core CPU: support <= 600 s, train-split <= 120 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from _common import emit, machine, synthetic_modes
from fewshot_core.datasets.sampling import sample_few_shot
from fewshot_core.qformer import TextSide, load_qformer_config, train_qformer
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import make_synthetic


def paired_gain(gains: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % t-interval of per-seed gains, in points."""
    n, mean = len(gains), float(np.mean(gains))
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * np.std(gains, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def table_per_translation(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per shot count: image only and each translation at its validation-chosen text count (%)."""
    adapter = df[df.method == "adapter"]
    rows = []
    for shots, at in adapter.groupby("shots"):
        base = at[at.texts == 0].set_index("seed").test_acc * 100
        row: dict[str, Any] = {"shots": int(shots), "image_only": [round(base.mean(), 2), round(base.std(ddof=0), 2)]}
        for name, part in at[at.texts > 0].groupby("translation"):
            m = int(part.groupby("texts").val_acc.mean().idxmax())
            acc = part[part.texts == m].set_index("seed").test_acc * 100
            mean, low, high = paired_gain((acc - base.loc[acc.index]).to_numpy())
            row[name] = {
                "mean": round(acc.mean(), 2),
                "std": round(acc.std(ddof=0), 2),
                "texts": m,
                "gain": round(mean, 2),
                "gain_ci95": [round(low, 2), round(high, 2)],
            }
        rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    names = ["raw", "mean-shift", "qformer"]
    lines = [f"{'shots':>5}  {'image only':>13}  " + "  ".join(f"{n + ' (m) gain [CI95]':>34}" for n in names)]
    for r in rows:
        cells = []
        for n in names:
            c = r.get(n)
            cells.append(f"{c['mean']:.2f} ({c['texts']}) {c['gain']:+.2f} [{c['gain_ci95'][0]:+.2f},{c['gain_ci95'][1]:+.2f}]" if c else "-")
        lines.append(f"{r['shots']:>5}  {r['image_only'][0]:6.2f} ± {r['image_only'][1]:4.2f}  " + "  ".join(f"{c:>34}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mode", default="rotation", choices=list(synthetic_modes()))
    args = parser.parse_args()
    bundle = make_synthetic(synthetic_modes()[args.mode])
    result: dict[str, Any] = {"benchmark": "sweep", "mode": args.mode}
    tables = {}
    for protocol in ("support", "train-split"):
        cfg = SweepConfig(protocol=protocol, device=args.device)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            df = run_sweep(bundle, cfg, f"{tmp}/run", qformer_cache=tmp)
            seconds = time.perf_counter() - start
            qformers = len(list(Path(tmp).glob("qformers/*.safetensors")))
        key = protocol.replace("-", "_")
        result[f"seconds_{key}"], result[f"runs_{key}"], result[f"qformers_{key}"] = round(seconds, 1), int(len(df)), qformers
        tables[protocol] = table_per_translation(df)
        print(f"{protocol}: {seconds:.1f} s, {len(df)} results, {qformers} Q-Formers, seeds {cfg.seeds}", flush=True)
        print(format_rows(tables[protocol]), flush=True)
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
            "target": "support <= 600 s, train-split <= 120 s on a 2-core CPU",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()

"""Train demo-CLIP candidates side by side on one GPU, choose one on validation data, report its test figures.

How the committed demo CLIP (assets/demo-clip.safetensors, v3) was made, in one bounded run on a lent H200:

    OMP_NUM_THREADS=2 python benchmarks/train_demo_clip_gpu.py --out OUT_DIR --max-seconds 160 --deadline 235

1. renders the training image pool once (all candidates share it: they differ only in step count);
2. trains one candidate per step count in parallel processes on the same GPU, each with its OWN full
   one-cycle schedule for its step count (no mid-schedule checkpoints), so ``python -m fewshot_core demo
   train-clip`` with the recorded config re-creates it;
3. scores each on a validation copy of the demo (same classes, new images: ``image_seed`` 1), never
   the test split, and picks one by ``RULE`` (below);
4. evaluates only the chosen one on the demo test split.
Everything is written to OUT_DIR as it finishes (``summary.json``, the weights of candidates that meet
the targets), so a run cut short still returns what it had. The chosen config is re-created by
``python -m fewshot_core demo train-clip`` once ``DemoClipConfig``'s defaults are set to it.

v2 (5,000 steps) separated the classes so well that one labelled image per class gave 97.7 %: the demo
showed a jump, not a few-shot curve. Fewer steps give less separable image features; v3 picks the
step count that leaves the most few-shot headroom while every issue-#10 target still holds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fewshot_core.demo.clip import DemoClipConfig, train_demo_clip, training_pairs, validation_report  # noqa: E402

# Step counts tried (everything else: DemoClipConfig's defaults); each candidate runs its own full schedule.
CANDIDATES = {f"steps{n}": {"steps": n} for n in (100, 200, 300, 450, 700, 1000, 1500, 2200)}
ZS_MIN, ZS_MAX, PROBE_MIN, PROBE_GAIN, ADAPTER_GAIN = 3 / 48, 0.70, 0.85, 0.15, 0.10  # the targets (ZS_MIN: 3 x chance)
SAFETY = 0.02  # validation must meet every target by this much (test images differ from validation ones)
HEADROOM = 0.08  # wanted: 15-shot image-only at least this far above 1-shot
MAX_OUT_WEIGHTS = 6  # candidate weights copied to OUT_DIR (the device returns at most 8 files)
RULE = (
    f"on the validation copy of the demo (image_seed 1; test not used): among candidates that completed their schedule and meet every "
    f"issue-#10 target by >= {SAFETY * 100:g} points (zero-shot in [3 x chance, 70 %], all-train probe >= 85 % and >= zero-shot + 15, "
    f"15-shot image-only >= zero-shot + 10), prefer those whose 15-shot exceeds their 1-shot by >= {HEADROOM * 100:g} points, and take the "
    f"lowest 1-shot image-only accuracy (ties: fewer steps)"
)


def target_margin(fig: dict) -> float:
    """The smallest margin (in accuracy) by which a candidate's figures meet the targets (< 0: misses one)."""
    zs, probe, ad = fig["zero_shot"]["all"], fig["probe_all_train"]["all"], fig["adapter_15_shot"]["all"]
    return min(zs - ZS_MIN, ZS_MAX - zs, probe - zs - PROBE_GAIN, probe - PROBE_MIN, ad - zs - ADAPTER_GAIN)


def headroom(fig: dict) -> float:
    """15-shot minus 1-shot image-only accuracy (how much the few-shot curve rises)."""
    return fig["adapter_15_shot"]["all"] - fig["adapter_1_shot"]["all"]


def choose(records: dict[str, dict]) -> str | None:
    """The candidate ``RULE`` picks from their validation records (None: none meets the targets)."""
    ok = {n: r for n, r in records.items() if "error" not in r and not r.get("stopped_early") and r["margin"] >= SAFETY}
    roomy = {n: r for n, r in ok.items() if headroom(r["validation"]) >= HEADROOM}
    pool = roomy or ok
    if not pool:
        return None
    return min(pool, key=lambda n: (pool[n]["validation"]["adapter_1_shot"]["all"], pool[n]["config"]["steps"]))


def run_candidate(name: str, cfg: DemoClipConfig, pool_file: str, work: str, max_seconds: float, device: str, queue) -> None:
    """Train one candidate, score it on validation, report through ``queue``."""
    try:
        images = np.load(pool_file, mmap_mode="r")
        out = Path(work) / f"{name}.safetensors"
        t0 = time.perf_counter()
        log = lambda d, t, m: print(f"[{name}] {time.perf_counter() - t0:.0f} s {m}", flush=True) if d % 500 == 1 or d == t else None  # noqa: E731
        record = train_demo_clip(cfg, out, log, device=device, max_seconds=max_seconds, evaluate=False, images=np.ascontiguousarray(images))
        start = time.perf_counter()
        record["validation"] = validation_report(device, out, held=record["held_out_classes"])
        record["validation_seconds"] = round(time.perf_counter() - start, 1)
        record["margin"] = target_margin(record["validation"])
        (Path(work) / f"{name}.json").write_text(json.dumps(record, indent=1))
        queue.put((name, record))
    except Exception as e:  # noqa: BLE001 - reported, the other candidates go on
        queue.put((name, {"error": repr(e)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pool-images", type=int, default=DemoClipConfig.pool_images)
    parser.add_argument("--batch-size", type=int, default=DemoClipConfig.batch_size)
    parser.add_argument("--max-seconds", type=float, default=160.0, help="training time cap per candidate (a capped one is not chosen)")
    parser.add_argument("--deadline", type=float, default=240.0, help="stop waiting for candidates after this many seconds")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every candidate's step count (a toy CPU check: 0.02)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/demo-clip-work"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to run (default: all)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    base = DemoClipConfig(pool_images=args.pool_images, batch_size=args.batch_size)
    images, _, _ = training_pairs(base)
    pool_file = str(args.work / "pool.npy")
    np.save(pool_file, images)
    del images
    print(f"pool rendered in {time.perf_counter() - t0:.1f} s", flush=True)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    names = args.only or list(CANDIDATES)
    procs = {
        n: ctx.Process(
            target=run_candidate,
            args=(
                n,
                replace(base, steps=max(2, round(CANDIDATES[n]["steps"] * args.scale))),
                pool_file,
                str(args.work),
                args.max_seconds,
                args.device,
                queue,
            ),
        )
        for n in names
    }
    for p in procs.values():
        p.start()
    summary = {
        "rule": RULE,
        "candidates": {},
        "targets": {"zs": [ZS_MIN, ZS_MAX], "probe_min": PROBE_MIN, "probe_gain": PROBE_GAIN, "adapter_gain": ADAPTER_GAIN},
    }
    copied = 0
    while len(summary["candidates"]) < len(names) and time.perf_counter() - t0 < args.deadline:
        try:
            name, record = queue.get(timeout=5)
        except Exception:  # noqa: BLE001 - queue.Empty: keep waiting
            continue
        summary["candidates"][name] = record
        if "error" not in record and record["margin"] >= 0 and copied < MAX_OUT_WEIGHTS:
            shutil.copy(args.work / f"{name}.safetensors", args.out / f"{name}.safetensors")
            copied += 1
        print(
            f"[{name}] done at {time.perf_counter() - t0:.0f} s: {json.dumps({k: v for k, v in record.items() if k != 'held_out_classes'})}",
            flush=True,
        )
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    chosen = choose(summary["candidates"])
    summary["chosen"] = chosen
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    if chosen is not None:
        record = summary["candidates"][chosen]
        if not (args.out / f"{chosen}.safetensors").exists():
            shutil.copy(args.work / f"{chosen}.safetensors", args.out / f"{chosen}.safetensors")
        from fewshot_core.demo.clip import demo_report

        record["test"] = demo_report(
            args.device, args.work / f"{chosen}.safetensors", root=args.work / "demo", cache=args.work / "cache", held=record["held_out_classes"]
        )
        summary["chosen_test"] = record["test"]
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
        print(f"chosen {chosen} (validation margin {record['margin']:.3f}); test: {json.dumps(record['test'])}", flush=True)
    for p in procs.values():
        p.join(timeout=1)
        if p.is_alive():
            p.terminate()
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

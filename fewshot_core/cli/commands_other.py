"""The report command, and the demo's flag-only commands (its CLIP's weights and figures)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import FewShotError
from ..jobspec import ReportSpec
from .io import print_json, tqdm_progress


def cmd_report(spec: ReportSpec) -> None:
    """Write a run's figures and tables (``publish.write_report``); one line per file, then why PNG/SVG were skipped."""
    from ..publish import write_report

    written, skipped = write_report(Path(spec.run_dir), Path(spec.out), static=spec.images)
    for path in written:
        print(f"wrote {path}")
    if skipped:
        print(skipped)


def cmd_demo_train_clip(args: argparse.Namespace) -> None:
    from ..demo.clip import DEMO_WEIGHTS, DemoClipConfig, train_demo_clip

    cfg = DemoClipConfig(seed=args.seed, steps=args.steps or DemoClipConfig.steps)
    record = train_demo_clip(cfg, Path(args.out or DEMO_WEIGHTS), tqdm_progress("demo CLIP"), device=args.device, workers=args.workers)
    print(json.dumps({k: v for k, v in record.items() if k != "held_out_classes"}))


def cmd_demo_report(args: argparse.Namespace) -> None:
    from ..demo.clip import DEMO_WEIGHTS, demo_report
    from ..layout import CacheLayout

    weights = Path(args.weights or DEMO_WEIGHTS)
    if not weights.is_file():
        raise FewShotError(f"No demo CLIP weights at {weights}; train them with `python -m fewshot_core demo train-clip`.")
    root = args.root or (CacheLayout(args.cache).demo_data if args.cache else None)
    report = demo_report(args.device, weights, root, args.cache)
    print_json({"weights": str(weights), **report})

"""The command line: a thin layer over the library. User errors print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_io import (
    Parser,
    add_backbone_args,
    add_dataset_args,
    close_events,
    close_progress_bars,
    emit,
    nonnegative_number,
    open_events,
    positive_float,
    positive_int,
    positive_number,
    print_json,
    setup_logging,
    tqdm_progress,
)
from .errors import FewShotError
from .ray_cluster import EXECUTORS
from .redact import redact_text

if TYPE_CHECKING:
    from .config import SweepConfig


def backbone_config(args: argparse.Namespace):
    """The CLIP the arguments ask for; unset model and weights default to ViT-B-32/openai, or the demo CLIP for the
    demo. ``auto`` precision is fp32 for the demo CLIP (``datasets.demo.CLIP_PRECISION``)."""
    from dataclasses import replace

    from .backbone import BackboneConfig

    if args.model is None and args.pretrained is None and getattr(args, "dataset", None) == "demo":
        from .demo_clip import demo_backbone_config

        cfg = demo_backbone_config(args.device)
        return cfg if args.precision == "auto" else replace(cfg, precision=args.precision)
    from .datasets import demo

    model = args.model or "ViT-B-32"
    pretrained = args.pretrained if args.pretrained is not None else "openai"
    precision = demo.CLIP_PRECISION if (model, args.precision) == (demo.CLIP_MODEL, "auto") else args.precision
    return BackboneConfig(model, pretrained, args.quick_gelu, args.device, precision)


def cmd_download(args: argparse.Namespace) -> None:
    from .datasets.download import download_dataset

    target = download_dataset(args.dataset, args.root, on_progress=tqdm_progress())
    emit("result", root=str(target))
    print_json({"dataset": args.dataset, "root": str(target)})


def cmd_verify_dataset(args: argparse.Namespace) -> int:
    from .datasets.verify import verify_dataset

    report = verify_dataset(args.dataset, args.root, not args.quick, tqdm_progress("checking images"), args.split_file)
    print_json(report)
    return 0


def cmd_features(args: argparse.Namespace) -> None:
    from .ray_cluster import check_executor

    check_executor(args.executor, args.ray_address)  # a bad executor answers at once, before torch is imported
    from .backbone import load_backbone
    from .datasets import load_dataset
    from .features import FeatureCache, image_features
    from .storage import default_cache_root

    if args.export:
        from .export import check_export_dir
        from .storage import check_path_kind

        check_export_dir(check_path_kind(args.export, "--export", folder=True))  # before encoding: a path under a file fails now
    dataset = load_dataset(args.dataset, args.root, args.split_file)
    cfg = backbone_config(args)
    backbone = load_backbone(cfg)
    cache = FeatureCache(args.cache or default_cache_root())
    summary: dict[str, Any] = {"dataset": args.dataset, "model": cfg.model, "pretrained": cfg.pretrained, "device": str(backbone.device)}
    computed = {}
    for split in args.splits or list(dataset.splits):
        start = time.perf_counter()
        feats = computed[split] = image_features(
            cache, backbone, dataset, split, args.batch_size, args.workers, tqdm_progress(split), executor=args.executor, ray_address=args.ray_address
        )
        summary[split] = {
            "images": len(feats.labels),
            "unreadable": len(feats.unreadable),
            "precision": feats.precision,
            "cache_hit": feats.cache_hit,
            "seconds": round(time.perf_counter() - start, 2),
        }
    summary["cache"] = str(cache.root)
    if args.export:
        from .export import export_features

        export_features(args.export, dataset, backbone, computed)
        summary["exported"] = str(args.export)
    emit("result", **summary)
    print_json(summary)


def sweep_config(args: argparse.Namespace) -> SweepConfig:
    """The ``SweepConfig`` of ``add_sweep_args``' options, validated."""
    from .config import AdapterConfig, QFormerTrainConfig, SweepConfig

    if args.seeds is not None and args.seeds < 1:
        raise FewShotError(f"--seeds must be at least 1 (got {args.seeds}); it is the number of seeds, run as 0..N-1.")
    cfg = SweepConfig(
        shots=args.shots,
        text_counts=args.texts,
        seeds=list(range(args.seeds)) if args.seeds is not None else SweepConfig().seeds,
        methods=args.methods,
        translations=args.translations,
        protocol=args.protocol,
        val_per_class=args.val_per_class,
        qformer_size=args.qformer_size,
        qformer_text_input=args.qformer_input,
        qformer_train=QFormerTrainConfig(loss=args.qformer_loss, epochs=args.qformer_epochs),
        adapter=AdapterConfig(
            lr=args.adapter_lr, steps=args.adapter_steps, weight_decay=args.adapter_weight_decay, batch_size=args.adapter_batch_size
        ),
        device=args.device,
    )
    cfg.validate()
    return cfg


def cmd_estimate(args: argparse.Namespace) -> None:
    """Time one unit of the sweep on synthetic features of the data's size, here, and scale it to the grid."""
    from dataclasses import asdict

    from .backbone import resolve_device
    from .estimate import calibrate, estimate_seconds, qformer_steps, qformer_trainings
    from .synthetic import SyntheticSpec

    cfg = sweep_config(args)
    size = {"num_classes": args.classes, "train_per_class": args.images_per_class, "descriptions_per_class": args.texts_per_class}
    spec = SyntheticSpec(**size, test_per_class=args.images_per_class)
    calibration = calibrate(cfg, spec)
    units = len(cfg.shots) * len(cfg.seeds)
    result = {
        "seconds": round(estimate_seconds(cfg, calibration, spec), 1),
        "units": units,
        "qformer_trainings": qformer_trainings(cfg),
        "qformer_steps": qformer_steps(cfg, spec),
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(calibration).items()},
        "data": size,
        "device": str(resolve_device(cfg.device)),
    }
    emit("result", **result)
    print_json(result)


def cmd_reproduce(args: argparse.Namespace) -> None:
    from .bundle import build_bundle, default_run_dir
    from .class_groups import demo_held_out, format_group_accuracy, group_accuracy
    from .ray_cluster import check_executor
    from .report import TRANSLATIONS, format_table1, summary_json, table1, text_helped
    from .runs import RunFolder
    from .storage import default_cache_root
    from .summary import pruned_with
    from .sweep import run_sweep

    cache = args.cache or default_cache_root()
    cfg = sweep_config(args)
    check_executor(args.executor, args.ray_address)
    if args.run_dir:  # refused before any encoding: a file, a path under one, or a user's folder
        from .storage import check_path_kind

        RunFolder(check_path_kind(args.run_dir, "--run-dir", folder=True)).check_usable()
    backbone_cfg = backbone_config(args)
    bundle = build_bundle(
        args.dataset,
        args.root,
        backbone_cfg,
        args.descriptions,
        cache,
        args.qformer_input == "tokens",
        tqdm_progress("features"),
        split_file=args.split_file,
        executor=args.executor,
        ray_address=args.ray_address,
    )
    run_dir = args.run_dir or default_run_dir(cache, bundle, cfg)
    emit("run_dir", path=str(run_dir), units=len(cfg.shots) * len(cfg.seeds) + 1)
    from .run_catalog import track_run  # the run folder records finished / failed / cancelled (Results marks it)

    results = track_run(run_dir, run_sweep)(
        bundle, cfg, run_dir, qformer_cache=cache, on_progress=tqdm_progress("sweep"), executor=args.executor, ray_address=args.ray_address
    )
    table, config = table1(results), RunFolder(run_dir).config()
    print(f"Table 1 · {bundle.dataset} · {bundle.provenance.get('model', 'synthetic')} · protocol {cfg.protocol} · seeds {cfg.seeds}")
    print(format_table1(table, config.get("qformer_images_per_class"), config.get("sweep", {}).get("val_per_class"), pruned_with(config)))
    for translation in TRANSLATIONS:
        helped = text_helped(table, translation=translation)
        if helped:
            print(f"text helped ({translation}: paired gain over image only > 0, Holm-adjusted p < 0.05) at shots 1-4: {helped}")
    held_out = demo_held_out(config, bundle.class_names)
    if held_out is not None:  # the demo: the classes its CLIP saw behave differently from the held-out ones
        print(format_group_accuracy(group_accuracy(run_dir, results, held_out)))
    print(f"run folder: {run_dir}")
    summary = summary_json(results, config, bundle.num_classes)
    if args.stability_seed is not None:
        summary["stability"] = _stability_check(args, bundle, cfg, cache, run_dir, summary)
    emit("result", run_dir=str(run_dir), rows=len(results))
    if args.json:
        print(json.dumps(summary))  # the last line, for scripts


def _stability_check(args: argparse.Namespace, bundle, cfg: SweepConfig, cache, run_dir, summary: dict[str, Any]) -> dict[str, Any]:
    """The same sweep again with another adapter batch-sampling seed (``--stability-seed``): do the marks (Holm
    stars and daggers) of every cell stay? Its run folder sits beside the first (resumable like any run)."""
    from dataclasses import replace

    from .bundle import default_run_dir
    from .run_catalog import track_run
    from .runs import RunFolder
    from .summary import compare_verdicts, summary_json
    from .sweep import run_sweep

    other = replace(cfg, adapter=replace(cfg.adapter, seed=args.stability_seed))
    other_dir = Path(f"{run_dir}-batch-seed-{args.stability_seed}") if args.run_dir else default_run_dir(cache, bundle, other)
    results = track_run(other_dir, run_sweep)(
        bundle, other, other_dir, qformer_cache=cache, on_progress=tqdm_progress("stability"), executor=args.executor, ray_address=args.ray_address
    )
    check = compare_verdicts(summary, summary_json(results, RunFolder(other_dir).config(), bundle.num_classes))
    cells = ", ".join(
        f"{c['translation']} vs {c['versus']} at {c['shots']} shots: {c['a'] or 'no mark'} -> {c['b'] or 'no mark'}" for c in check["changed"]
    )
    print(
        f"stability (adapter batch seed {cfg.adapter.seed} vs {args.stability_seed}): " + ("stable" if check["stable"] else f"NOT stable ({cells})")
    )
    return {"adapter_seeds": [cfg.adapter.seed, args.stability_seed], "run_dir": str(other_dir), **check}


def _pick_classes(spec: str | None, dataset) -> list[int] | None:
    """``--classes``: a count (the first N) or comma-separated class names."""
    from .descriptions import normalise

    if spec is None:
        return None
    if spec.strip().isdigit():
        if int(spec) < 1:
            raise FewShotError(f"--classes {spec} picks no class; give a number of at least 1 (the first N classes) or class names.")
        return list(range(min(int(spec), dataset.num_classes)))
    names = [name.strip() for name in spec.split(",")]
    if not all(names):
        raise FewShotError(f"--classes {spec!r} has an empty class name (two commas in a row, or one at an end); separate names with single commas.")
    forms = {normalise(n): c for names in (dataset.class_names, dataset.display_names) for c, n in enumerate(names)}
    picked = [forms.get(normalise(name)) for name in names]
    missing = [name for name, c in zip(names, picked) if c is None]
    if missing:
        raise FewShotError(f"Unknown classes: {', '.join(missing)}. Use names as verify-dataset lists them, or a number.")
    return picked


def cmd_describe(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from .datasets import load_dataset
    from .descriptions.generate import DescribeRequest, describe
    from .descriptions.sources import GenerationSettings
    from .storage import default_cache_root

    dataset = load_dataset(args.dataset, args.root, args.split_file)
    settings = GenerationSettings(args.model or "", args.temperature, args.max_tokens, args.samples)  # "": the source's default model
    request = DescribeRequest(
        args.source, args.prompt, settings, args.base_url, args.captions_root, args.batch_size, args.timeout, args.retries, args.deadline
    )
    request.api_key_env, request.allow_insecure_http = args.api_key_env, args.allow_insecure_http
    summary = describe(
        dataset, request, args.cache or default_cache_root(), _pick_classes(args.classes, dataset), on_progress=tqdm_progress("classes")
    )
    emit("result", **asdict(summary))
    print(json.dumps(asdict(summary)))


def cmd_import_descriptions(args: argparse.Namespace) -> None:
    from .datasets import load_dataset
    from .descriptions.json_io import import_description_file
    from .storage import default_cache_root

    dataset = load_dataset(args.dataset, args.root, args.split_file)
    print_json(import_description_file(dataset, args.file, args.cache or default_cache_root()))


def cmd_judge_descriptions(args: argparse.Namespace) -> None:
    from .backbone import load_backbone
    from .datasets import load_dataset
    from .descriptions.store import DescriptionSet
    from .judge import judge_set_report
    from .storage import default_cache_root

    if not (Path(args.descriptions) / "meta.json").is_file():
        raise FewShotError(f"{args.descriptions} is not a stored description set (a folder with meta.json under <cache>/descriptions/).")
    dataset = load_dataset(args.dataset, args.root, args.split_file)
    report = judge_set_report(
        dataset,
        DescriptionSet(Path(args.descriptions)),
        load_backbone(backbone_config(args)),
        args.cache or default_cache_root(),
        tqdm_progress("train"),
    )
    records = report["records"]
    summary = {"descriptions": len(records), "flagged": sum(r["flagged"] for r in records), "judged_with": report["judged_with"]}
    emit("result", **summary, records=records)
    print_json({**summary, "records": records})


def cmd_report(args: argparse.Namespace) -> None:
    """Write a run's figures and tables (``publish.write_report``); one line per file, then why PNG/SVG were skipped."""
    from .publish import write_report

    written, skipped = write_report(args.run_dir, args.out, static=not args.no_images)
    for path in written:
        print(f"wrote {path}")
    if skipped:
        print(skipped)


def cmd_demo_train_clip(args: argparse.Namespace) -> None:
    from .demo_clip import DEMO_WEIGHTS, DemoClipConfig, train_demo_clip

    cfg = DemoClipConfig(seed=args.seed, steps=args.steps or DemoClipConfig.steps)
    record = train_demo_clip(cfg, Path(args.out or DEMO_WEIGHTS), tqdm_progress("demo CLIP"), device=args.device, workers=args.workers)
    print(json.dumps({k: v for k, v in record.items() if k != "held_out_classes"}))


def cmd_demo_report(args: argparse.Namespace) -> None:
    from .demo_clip import DEMO_WEIGHTS, demo_report

    weights = Path(args.weights or DEMO_WEIGHTS)
    if not weights.is_file():
        raise FewShotError(f"No demo CLIP weights at {weights}; train them with `python -m fewshot_core demo train-clip`.")
    root = args.root or (args.cache / "demo-data" if args.cache else None)
    report = demo_report(args.device, weights, root, args.cache)
    print_json({"weights": str(weights), **report})


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    """The sweep settings (``SweepConfig``) shared by ``reproduce`` and ``estimate``."""
    from .config import LOSSES, METHODS, PROTOCOLS, QFORMER_INPUTS, TRANSLATIONS, AdapterConfig, QFormerTrainConfig, SweepConfig

    sweep_defaults, train_defaults = SweepConfig(), QFormerTrainConfig()
    p.add_argument("--shots", type=int, nargs="+", default=sweep_defaults.shots)
    p.add_argument("--texts", type=int, nargs="+", default=sweep_defaults.text_counts, help="descriptions per class (0 = image only)")
    p.add_argument("--seeds", type=positive_int, default=None, help=f"number of seeds (0..N-1; default {len(sweep_defaults.seeds)})")
    p.add_argument("--methods", nargs="+", default=sweep_defaults.methods, choices=METHODS)
    p.add_argument(
        "--translations", nargs="+", default=sweep_defaults.translations, choices=TRANSLATIONS, help="how texts become image features (default: all)"
    )
    p.add_argument(
        "--protocol",
        default=sweep_defaults.protocol,
        choices=PROTOCOLS,
        help="images the translators learn from: support (the k shots only, default) or train-split (every training image but validation)",
    )
    p.add_argument(
        "--val-per-class", type=positive_int, default=sweep_defaults.val_per_class, help="validation images per class (select text counts)"
    )
    p.add_argument("--qformer-size", default=sweep_defaults.qformer_size)
    p.add_argument("--qformer-loss", default=train_defaults.loss, choices=LOSSES)
    p.add_argument(
        "--qformer-input", default=sweep_defaults.qformer_text_input, choices=QFORMER_INPUTS, help="pooled text embedding or per-token states"
    )
    p.add_argument("--qformer-epochs", type=positive_int, default=train_defaults.epochs)
    adapter = AdapterConfig()
    p.add_argument("--adapter-lr", type=positive_number, default=adapter.lr, help="adapter learning rate (AdamW, cosine to 0)")
    p.add_argument("--adapter-steps", type=positive_int, default=adapter.steps, help="adapter optimizer steps")
    p.add_argument(
        "--adapter-weight-decay", type=nonnegative_number, default=adapter.weight_decay, help="decay of the adapter toward its zero-shot start"
    )
    p.add_argument("--adapter-batch-size", type=positive_int, default=adapter.batch_size, help="adapter samples per head per step")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(prog="python -m fewshot_core", description="Few-shot Lab: CLIP + Q-Former + LLM text few-shot classification.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and show tracebacks)")
    parser.add_argument("--events", type=Path, default=None, help="also append progress as JSON lines (step, done, total, message, metrics) to FILE")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from .datasets.download import downloadable_datasets

    p = sub.add_parser("download", help="download and extract an official dataset archive")
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(downloadable_datasets())}")
    p.add_argument("--root", required=True, type=Path, help="folder to put the dataset in")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("verify-dataset", help="check a dataset folder and print a JSON report")
    add_dataset_args(p)
    p.add_argument("--quick", action="store_true", help="do not decode every image")
    p.set_defaults(func=cmd_verify_dataset)

    p = sub.add_parser("features", help="encode a dataset's images with CLIP into the feature cache")
    add_dataset_args(p)
    add_backbone_args(p)
    p.add_argument("--splits", nargs="+", default=None, help="splits to encode (default: all the dataset has: train, test, and val if any)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="image decoding workers (default: on a GPU cores - 1, max 16; on a CPU 0 below 8 cores, else cores / 8, max 4)",
    )
    p.add_argument("--export", type=Path, default=None, help="also write <split>.npz and provenance.json into this folder")
    p.add_argument("--executor", default="local", help="local (default: this process) or ray (Ray Data: decoding tasks, one encoder per GPU)")
    p.add_argument(
        "--ray-address", default=None, help="with --executor ray: the cluster to join (ray://host:10001, host:6379, auto); default: a local instance"
    )
    p.set_defaults(func=cmd_features)

    from .descriptions.generate import DescribeRequest
    from .descriptions.registry import SOURCE_REGISTRY
    from .descriptions.sources import GenerationSettings

    request, sampling = DescribeRequest(), GenerationSettings()  # the defaults, from the dataclasses
    p = sub.add_parser("describe", help="generate class descriptions into the store (resumable)")
    add_dataset_args(p)
    p.add_argument("--source", default=request.source, choices=list(SOURCE_REGISTRY))
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://localhost:11434/v1")
    p.add_argument("--api-key-env", default=request.api_key_env, metavar="NAME", help="openai-compatible: variable holding its key (default: none)")
    p.add_argument(
        "--allow-insecure-http", action="store_true", help="openai-compatible: allow plain http:// to another machine (default: loopback only)"
    )
    models = ", ".join(f"{s.name}: {s.default_model}" for s in SOURCE_REGISTRY.values() if s.default_model)
    p.add_argument("--model", default=None, help=f"LLM name (default: the source's own; {models})")
    p.add_argument("--prompt", default=request.prompt, help="must contain {class_name}")
    p.add_argument("--classes", default=None, help="a number (the first N classes) or comma-separated class names")
    p.add_argument("--samples", type=int, default=sampling.samples, help="completions per class")
    p.add_argument("--temperature", type=float, default=sampling.temperature)
    p.add_argument("--max-tokens", type=int, default=sampling.max_tokens)
    p.add_argument("--batch-size", type=int, default=request.batch_size, help="classes per round (local: one batched generate call)")
    p.add_argument("--timeout", type=positive_float, default=request.timeout, help="seconds one request to the LLM server may take (each try)")
    p.add_argument(
        "--retries", type=int, default=request.retries, help="further tries after a timeout, connection error, 429 or 5xx (each one announced)"
    )
    p.add_argument(
        "--deadline", type=positive_float, default=None, help="seconds the whole run may take (default: no limit); finished classes are kept"
    )
    p.add_argument("--captions-root", default=None, help="captions source: folder with Reed et al.'s text_c10/")
    p.add_argument("--cache", type=Path, default=None)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("import-descriptions", help='import {"class name": ["sentence", ...]} JSON into the store')
    add_dataset_args(p)
    p.add_argument("--file", required=True, type=Path)
    p.add_argument("--cache", type=Path, default=None)
    p.set_defaults(func=cmd_import_descriptions)

    p = sub.add_parser("judge-descriptions", help="score each description against its class's images with CLIP (JSON)")
    add_dataset_args(p)
    add_backbone_args(p)
    p.add_argument("--descriptions", required=True, type=Path, help="a stored description set folder (<cache>/descriptions/<dataset>/<key>)")
    p.set_defaults(func=cmd_judge_descriptions)

    p = sub.add_parser("report", help="a run's Figure 4 (HTML, PNG, SVG), gains figure, Table 1 (CSV, LaTeX) and summary.json")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder (the 'run folder:' line of reproduce)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the files into (created if needed)")
    p.add_argument("--no-images", action="store_true", help="skip figure4.png, figure4.svg and gains.png (they need Chrome or Chromium)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="the offline demo: re-create its CLIP weights")
    demo_sub = p.add_subparsers(dest="demo_command", required=True, metavar="DEMO_COMMAND")
    q = demo_sub.add_parser("train-clip", help="train the demo CLIP from scratch (CPU, minutes) into assets/")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=None, help="training steps (default: the committed weights' 200)")
    q.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (a GPU takes minutes, a CPU hours)")
    q.add_argument("--workers", type=int, default=None, help="processes rendering the training images (default: cores, max 16)")
    q.add_argument("--out", type=Path, default=None, help="weights file (default: assets/demo-clip.safetensors)")
    q.set_defaults(func=cmd_demo_train_clip)
    q = demo_sub.add_parser("report", help="the demo CLIP's figures on the demo (zero-shot, probe, 15-shot; seen vs held-out classes)")
    q.add_argument("--weights", type=Path, default=None, help="weights file (default: assets/demo-clip.safetensors)")
    q.add_argument("--device", default="cpu")
    q.add_argument("--root", type=Path, default=None, help="the demo folder (default: generated under the cache)")
    q.add_argument("--cache", type=Path, default=None, help="cache root (default $FEWSHOT_CACHE or ~/.cache/fewshot-lab)")
    q.set_defaults(func=cmd_demo_report)

    p = sub.add_parser("estimate", help="how long a reproduce sweep will take here: one unit timed on synthetic features of the data's size")
    add_sweep_args(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--classes", type=positive_int, default=200, help="classes of the dataset (default 200, CUB)")
    p.add_argument("--images-per-class", type=positive_int, default=30, help="training images per class (default 30, CUB)")
    p.add_argument("--texts-per-class", type=positive_int, default=30, help="descriptions per class (default 30)")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("reproduce", help="features -> Q-Former -> sweep -> Table 1, printed")
    p.add_argument(
        "--stability-seed",
        type=int,
        default=None,
        help="run the same sweep again with this adapter batch-sampling seed and report whether every cell's mark stays (JSON: stability)",
    )
    add_dataset_args(p, extra=("synthetic",))  # synthetic: features only, no --root
    add_backbone_args(p)
    p.add_argument("--descriptions", type=Path, default=None, help='JSON file {"class name": ["sentence", ...]} or a stored description set folder')
    add_sweep_args(p)
    p.add_argument("--run-dir", type=Path, default=None, help="where results go (default: <cache>/runs/<dataset>-<key>)")
    p.add_argument("--json", action="store_true", help="also print Table 1 as one JSON object, the last line of stdout")
    p.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="local (this process) or ray (units as Ray tasks, missing image features through Ray Data; pip install 'fewshot-lab[ray]')",
    )
    p.add_argument("--ray-address", default=None, help="a Ray cluster to join (ray://head:10001, head:6379 or auto); default: start a local one")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 done, 2 a user error, 130 interrupted by Ctrl-C)."""
    args, code = None, 2
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "dataset", None) == "demo" and getattr(args, "root", None) is None and getattr(args, "cache", None):
            args.root = args.cache / "demo-data"  # --cache relocates the generated demo images too
        setup_logging(args.verbose)
        open_events(args)
        if hasattr(args, "cache") or getattr(args, "dataset", None) == "demo":  # a cache that cannot be a folder: one line, now
            from .storage import checked_cache_root

            checked_cache_root(getattr(args, "cache", None))
        code = int(args.func(args) or 0)
        return code
    except SystemExit as e:  # argparse: --help (0) or a bad argument (2, message already printed)
        return e.code if isinstance(e.code, int) else 2
    except FewShotError as e:
        if args is not None and args.verbose:
            raise
        close_progress_bars()
        message = redact_text(str(e))  # a URL with credentials in it is never printed or logged
        print(f"error: {message}", file=sys.stderr)
        emit("error", message=message)
        return 2
    except KeyboardInterrupt:
        code = 130
        close_progress_bars()
        print("interrupted; finished work is kept in the cache", file=sys.stderr)
        return 130
    except BaseException as e:
        code = 1
        emit("error", message=redact_text(f"{type(e).__name__}: {e}"))
        raise
    finally:
        emit("end", exit_code=code)
        close_events()

"""The argument parser: one subcommand per job spec (plus ``demo``), its flags from ``flags.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..jobspec import SPECS
from . import commands_data, commands_other, commands_sweep, commands_text
from .flags import CACHE, Flag, add_flags, as_path, backbone_flags, dataset_flags, executor_flags, flag, sweep_flags
from .io import Parser, positive_float, positive_int

RAY_ADDRESS_HELP = "with --executor ray: the cluster to join (ray://host:10001, host:6379, auto); default: a local instance"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(prog="python -m fewshot_core", description="Few-shot Lab: CLIP + Q-Former + LLM text few-shot classification.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and show tracebacks)")
    parser.add_argument("--events", type=Path, default=None, help="also append progress as JSON lines (step, done, total, message, metrics) to FILE")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, run, flags) in _commands().items():
        p = sub.add_parser(name, help=help_text)
        add_flags(p, flags, SPECS[name]())
        p.set_defaults(run=run)
    _add_demo(sub)
    return parser


def _commands() -> dict[str, tuple[str, object, list[Flag]]]:
    """Each spec command: (help, the function running its spec, its flags), in the order ``--help`` lists them."""
    from ..datasets import list_datasets
    from ..datasets.download import downloadable_datasets
    from ..descriptions.registry import SOURCE_REGISTRY
    from ..executors import EXECUTORS

    datasets = list_datasets()
    return {
        "download": (
            "download and extract an official dataset archive",
            commands_data.cmd_download,
            [
                flag("--dataset", "dataset.name", f"one of {', '.join(downloadable_datasets())}"),
                flag("--root", "dataset.root", "folder to put the dataset in", type=as_path),
            ],
        ),
        "verify-dataset": (
            "check a dataset folder and print a JSON report",
            commands_data.cmd_verify_dataset,
            [*dataset_flags(datasets), flag("--quick", "quick", "do not decode every image", action="store_const", const=True)],
        ),
        "features": ("encode a dataset's images with CLIP into the feature cache", commands_data.cmd_features, _features_flags(datasets)),
        "describe": (
            "generate class descriptions into the store (resumable)",
            commands_text.cmd_describe,
            _describe_flags(datasets, list(SOURCE_REGISTRY)),
        ),
        "import-descriptions": (
            'import {"class name": ["sentence", ...]} JSON into the store',
            commands_data.cmd_import_descriptions,
            [*dataset_flags(datasets), flag("--file", "file", "the JSON file", type=as_path), CACHE],
        ),
        "judge-descriptions": (
            "score each description against its class's images with CLIP (JSON)",
            commands_text.cmd_judge_descriptions,
            [
                *dataset_flags(datasets),
                *backbone_flags(),
                flag("--descriptions", "descriptions", "a stored description set folder (<cache>/descriptions/<dataset>/<key>)", type=as_path),
            ],
        ),
        "report": (
            "a run's Figure 4 (HTML, PNG, SVG), gains figure, Table 1 (CSV, LaTeX) and summary.json",
            commands_other.cmd_report,
            [
                flag("run_dir", "run_dir", "a run folder (the 'run folder:' line of reproduce)", type=as_path, nargs="?", metavar="RUN_DIR"),
                flag("--out", "out", "folder to write the files into (created if needed)", type=as_path),
                flag(
                    "--no-images",
                    "images",
                    "skip figure4.png, figure4.svg and gains.png (they need Chrome or Chromium)",
                    action="store_const",
                    const=False,
                ),
            ],
        ),
        "estimate": (
            "how long a reproduce sweep will take here: one unit timed on synthetic features of the data's size",
            commands_sweep.cmd_estimate,
            [
                *sweep_flags(),
                flag("--device", "sweep.device", "auto, cpu, cuda, cuda:N or mps"),
                flag("--classes", "classes", "classes of the dataset (default {default}, CUB)", type=positive_int),
                flag("--images-per-class", "images_per_class", "training images per class (default {default}, CUB)", type=positive_int),
                flag("--texts-per-class", "texts_per_class", "descriptions per class (default {default})", type=positive_int),
            ],
        ),
        "reproduce": ("features -> Q-Former -> sweep -> Table 1, printed", commands_sweep.cmd_reproduce, _reproduce_flags(datasets, EXECUTORS)),
    }


def _features_flags(datasets: list[str]) -> list[Flag]:
    workers = "image decoding workers (default: on a GPU cores - 1, max 16; on a CPU 0 below 8 cores, else cores / 8, max 4)"
    return [
        *dataset_flags(datasets),
        *backbone_flags(),
        flag("--splits", "splits", "splits to encode (default: all the dataset has: train, test, and val if any)", nargs="+"),
        flag("--batch-size", "batch_size", "images per encoder call (default {default})", type=int),
        flag("--workers", "workers", workers, type=int),
        flag("--export", "export", "also write <split>.npz and provenance.json into this folder", type=as_path),
        *executor_flags(None, "local (default: this process) or ray (Ray Data: decoding tasks, one encoder per GPU)", RAY_ADDRESS_HELP),
    ]


def _describe_flags(datasets: list[str], sources: tuple[str, ...]) -> list[Flag]:
    return [
        *dataset_flags(datasets),
        flag("--source", "request.source", "default {default}", choices=sources),
        flag("--base-url", "request.base_url", "OpenAI-compatible server, e.g. http://localhost:11434/v1"),
        flag("--api-key-env", "request.api_key_env", "openai-compatible: variable holding its key (default: none)", metavar="NAME"),
        flag(
            "--allow-insecure-http",
            "request.allow_insecure_http",
            "openai-compatible: allow plain http:// to another machine (default: loopback only)",
            action="store_const",
            const=True,
        ),
        flag("--model", "request.settings.model", f"LLM name (default: the source's own; {_default_models()})"),
        flag("--prompt", "request.prompt", "must contain {class_name}"),
        flag("--classes", "classes", "a number (the first N classes) or comma-separated class names"),
        flag("--samples", "request.settings.samples", "completions per class", type=int),
        flag("--temperature", "request.settings.temperature", "", type=float),
        flag("--max-tokens", "request.settings.max_tokens", "", type=int),
        flag("--batch-size", "request.batch_size", "classes per round (local: one batched generate call; default {default})", type=int),
        flag("--timeout", "request.timeout", "seconds one request to the LLM server may take (each try; default {default})", type=positive_float),
        flag("--retries", "request.retries", "further tries after a timeout, connection error, 429 or 5xx (default {default})", type=int),
        flag("--deadline", "request.deadline", "seconds the whole run may take (default: no limit); finished classes are kept", type=positive_float),
        flag("--captions-root", "request.captions_root", "captions source: folder with Reed et al.'s text_c10/"),
        CACHE,
    ]


def _reproduce_flags(datasets: list[str], executors: tuple[str, ...]) -> list[Flag]:
    stability = "run the same sweep again with this adapter batch-sampling seed and report whether every cell's mark stays (JSON: stability)"
    executor = "local (this process) or ray (units as Ray tasks, missing image features through Ray Data; pip install 'fewshot-lab[ray]')"
    return [
        flag("--stability-seed", "stability_seed", stability, type=int),
        *dataset_flags([*datasets, "synthetic"]),  # synthetic: features only, no --root
        *backbone_flags(device_paths=("backbone.device", "sweep.device")),
        flag("--descriptions", "descriptions", 'JSON file {"class name": ["sentence", ...]} or a stored description set folder', type=as_path),
        *sweep_flags(),
        flag("--run-dir", "run_dir", "where results go (default: <cache>/runs/<dataset>-<key>)", type=as_path),
        flag("--json", "json_summary", "also print Table 1 as one JSON object, the last line of stdout", action="store_const", const=True),
        *executor_flags(executors, executor, "a Ray cluster to join (ray://head:10001, head:6379 or auto); default: start a local one"),
    ]


def _add_demo(sub: argparse._SubParsersAction) -> None:
    """``demo``: flag-only subcommands (no spec: they make the demo's CLIP, they are no job of the app)."""
    p = sub.add_parser("demo", help="the offline demo: re-create its CLIP weights")
    demo_sub = p.add_subparsers(dest="demo_command", required=True, metavar="DEMO_COMMAND")
    q = demo_sub.add_parser("train-clip", help="train the demo CLIP from scratch (CPU, minutes) into assets/")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=None, help="training steps (default: the committed weights' 200)")
    q.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (a GPU takes minutes, a CPU hours)")
    q.add_argument("--workers", type=int, default=None, help="processes rendering the training images (default: cores, max 16)")
    q.add_argument("--out", type=Path, default=None, help="weights file (default: assets/demo-clip.safetensors)")
    q.set_defaults(run_flags=commands_other.cmd_demo_train_clip)
    q = demo_sub.add_parser("report", help="the demo CLIP's figures on the demo (zero-shot, probe, 15-shot; seen vs held-out classes)")
    q.add_argument("--weights", type=Path, default=None, help="weights file (default: assets/demo-clip.safetensors)")
    q.add_argument("--device", default="cpu")
    q.add_argument("--root", type=Path, default=None, help="the demo folder (default: generated under the cache)")
    q.add_argument("--cache", type=Path, default=None, help="cache root (default $FEWSHOT_CACHE or ~/.cache/fewshot-lab)")
    q.set_defaults(run_flags=commands_other.cmd_demo_report)


def _default_models() -> str:
    """ "local: smollm2, openai: gpt-3.5-turbo, ...": each description source's default model (its registry entry)."""
    from ..descriptions.registry import SOURCE_REGISTRY

    return ", ".join(f"{s.name}: {s.default_model}" for s in SOURCE_REGISTRY.values() if s.default_model)

"""The CLI's flags, each naming the spec setting it overrides (``jobspec.py``).

A flag never has a default of its own: an unset flag leaves the spec's value, which is the default of its
config dataclass or the value in the ``--config`` file. Help texts show those defaults (``{default}``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..jobspec import DescribeSpec, JobSpec, describe_settings, resolve_backbone
from .io import nonnegative_number, positive_int, positive_number


@dataclass(frozen=True)
class Flag:
    """One command-line option (or positional) and the spec setting(s) its value goes to."""

    option: str  # "--shots", or a positional's name
    paths: tuple[str, ...]  # dotted settings of the spec ("sweep.shots"); --device sets two in reproduce
    help: str = ""  # "{default}" is replaced by the spec's default
    kwargs: dict[str, Any] = field(default_factory=dict)  # type, nargs, choices, action, metavar, const
    convert: Callable[[Any], Any] | None = None  # the flag's value -> the setting's (a seed count -> the seeds)

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")


def flag(option: str, path: str | tuple[str, ...], help: str = "", convert: Callable[[Any], Any] | None = None, **kwargs: Any) -> Flag:
    return Flag(option, (path,) if isinstance(path, str) else path, help, kwargs, convert)


def as_path(text: str) -> str:
    """argparse type of a path setting: kept as text, normalised as ``pathlib`` does (``a//b/`` -> ``a/b``)."""
    return str(Path(text))


def dataset_flags(names: list[str], folder_help: str | None = None) -> list[Flag]:
    """--dataset (checked by the registry: a one-line error), --root and --split-file."""
    return [
        flag("--dataset", "dataset.name", f"one of {', '.join(names)} (demo: generated offline)"),
        flag(
            "--root",
            "dataset.root",
            folder_help or "the dataset folder or its parent; folder: your tree of class folders (demo: optional)",
            type=as_path,
        ),
        flag("--split-file", "dataset.split_file", "CoOp-format JSON {train, val, test}: replaces the splits and the validation draw", type=as_path),
    ]


CACHE = flag("--cache", "cache", "cache root (default $FEWSHOT_CACHE or ~/.cache/fewshot-lab)", type=as_path)


def backbone_flags(device_paths: tuple[str, ...] = ("backbone.device",)) -> list[Flag]:
    return [
        flag("--model", "backbone.model", "open_clip model name (default ViT-B-32; the demo: its own CLIP)"),
        flag("--pretrained", "backbone.pretrained", "open_clip tag or local checkpoint file ('' = random; default openai)"),
        flag("--quick-gelu", "backbone.quick_gelu", "force QuickGELU on/off (default: from the weights)", action=argparse.BooleanOptionalAction),
        flag("--device", device_paths, "auto, cpu, cuda, cuda:N or mps"),
        flag("--precision", "backbone.precision", "auto, fp32, bf16 or fp16"),
        CACHE,
    ]


def executor_flags(choices: tuple[str, ...] | None, executor_help: str, address_help: str) -> list[Flag]:
    kwargs = {"choices": choices} if choices else {}
    return [flag("--executor", "executor.name", executor_help, **kwargs), flag("--ray-address", "executor.address", address_help)]


def sweep_flags() -> list[Flag]:
    """The sweep settings (``SweepConfig``) shared by ``reproduce`` and ``estimate``."""
    from ..config import ADAPTER_INITS, LOSSES, METHODS, OPT_IN_METHODS, PROTOCOLS, QFORMER_INPUTS, TRANSLATIONS, VAL_AS_SHOTS, SweepConfig

    return [
        flag("--shots", "sweep.shots", "shots per class (default {default})", type=int, nargs="+"),
        flag("--texts", "sweep.text_counts", "descriptions per class (0 = image only; default {default})", type=int, nargs="+"),
        flag(
            "--seeds",
            "sweep.seeds",
            f"number of seeds (0..N-1; default {len(SweepConfig().seeds)})",
            convert=lambda n: list(range(n)),
            type=positive_int,
        ),
        flag("--methods", "sweep.methods", f"default: all but {', '.join(OPT_IN_METHODS)} (slower: asked for by name)", nargs="+", choices=METHODS),
        flag("--translations", "sweep.translations", "how texts become image features (default: all)", nargs="+", choices=TRANSLATIONS),
        flag(
            "--protocol",
            "sweep.protocol",
            "images the translators learn from: support (the k shots only, default) or train-split (every training image but validation)",
            choices=PROTOCOLS,
        ),
        flag(
            "--val-per-class",
            "sweep.val_per_class",
            f"validation images per class: they choose text counts and hyper-parameters (default {{default}}), or {VAL_AS_SHOTS!r}: as many as the shots",
            type=val_per_class,
        ),
        flag("--qformer-size", "sweep.qformer_size", "a Q-Former size from qformer_configs/ (default {default})"),
        flag("--qformer-loss", "sweep.qformer_train.loss", "default {default}", choices=LOSSES),
        flag("--qformer-input", "sweep.qformer_text_input", "pooled text embedding or per-token states (default {default})", choices=QFORMER_INPUTS),
        flag("--qformer-epochs", "sweep.qformer_train.epochs", "default {default}", type=positive_int),
        flag("--adapter-lr", "sweep.adapter.lr", "adapter learning rate (AdamW, cosine to 0; default {default})", type=positive_number),
        flag("--adapter-steps", "sweep.adapter.steps", "adapter optimizer steps (default {default})", type=positive_int),
        flag(
            "--adapter-weight-decay",
            "sweep.adapter.weight_decay",
            "decay of the adapter toward its start (default {default})",
            type=nonnegative_number,
        ),
        flag("--adapter-batch-size", "sweep.adapter.batch_size", "adapter samples per head per step (default {default})", type=positive_int),
        flag(
            "--adapter-init",
            "sweep.adapter.init",
            "the classifier the adapter starts from and decays toward: the descriptions' mean embeddings or the class-name prompts (default {default})",
            choices=ADAPTER_INITS,
        ),
    ]


def val_per_class(text: str) -> int | str:
    """argparse type of ``--val-per-class``: a whole number of at least 1, or "k" (as many as the shots)."""
    from ..config import VAL_AS_SHOTS

    return VAL_AS_SHOTS if text.strip().lower() == VAL_AS_SHOTS else positive_int(text)


def add_flags(parser: argparse.ArgumentParser, flags: list[Flag], defaults: JobSpec) -> None:
    """Add ``flags`` to a subcommand's parser, and ``--config``; their help shows ``defaults``' values."""
    parser.add_argument(
        "--config", type=Path, default=None, metavar="SPEC.json", help="a job spec (JSON) to run; flags given as well override its settings"
    )
    for f in flags:
        text = f.help.replace("{default}", _shown(get_setting(defaults, f.paths[0]))) if "{default}" in f.help else f.help
        if f.option.startswith("-"):
            parser.add_argument(f.option, dest=f.dest, default=argparse.SUPPRESS, help=text, **f.kwargs)
        else:
            parser.add_argument(f.option, default=argparse.SUPPRESS, help=text, **f.kwargs)
    parser.set_defaults(flags=flags)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags on the command line set, by dotted path (flags not given are absent)."""
    out: dict[str, Any] = {}
    for f in args.flags:
        if hasattr(args, f.dest):
            value = getattr(args, f.dest)
            out |= dict.fromkeys(f.paths, f.convert(value) if f.convert else value)
    return out


def apply_settings(spec: JobSpec, given: dict[str, Any]) -> JobSpec:
    """``spec`` with ``given`` settings set. A CLIP or sampling settings the spec leaves unset (None) are made
    from what is given (``resolve_backbone``, ``describe_settings``), so that e.g. ``--model RN50`` alone means
    RN50 with openai weights, as it always has."""
    groups: dict[str, dict[str, Any]] = {"backbone.": {}, "request.settings.": {}}
    for path, value in given.items():
        group = next((g for g in groups if path.startswith(g)), None)
        if group is None:
            set_setting(spec, path, value)
        else:
            groups[group][path.removeprefix(group)] = value
    if hasattr(spec, "backbone"):
        chosen = groups["backbone."]
        spec.backbone = replace(spec.backbone, **chosen) if spec.backbone is not None else resolve_backbone(spec.dataset.name, **chosen)
    if isinstance(spec, DescribeSpec):
        request, chosen = spec.request, groups["request.settings."]
        request.settings = replace(request.settings, **chosen) if request.settings is not None else describe_settings(request.source, **chosen)
    return spec


def get_setting(spec: Any, path: str) -> Any:
    for name in path.split("."):
        spec = getattr(spec, name)
    return spec


def set_setting(spec: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    setattr(get_setting(spec, ".".join(parents)) if parents else spec, last, value)


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)

"""Job specs in plain words (``JobSpec.describe``): what the app shows of a job instead of its JSON.

Functions take the spec objects of ``jobspec.py`` (read by attribute, so this module imports none of them).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import SweepConfig
from .datasets import is_generated

_NAMES = {  # sweep settings in words, for the changed-from-default list
    "translations": "translations",
    "qformer_text_input": "Q-Former input",
    "qformer_train.lr": "Q-Former lr",
    "qformer_train.batch_size": "Q-Former batch size",
    "qformer_train.weight_decay": "Q-Former weight decay",
    "qformer_train.seed": "Q-Former seed",
    "adapter.weight_decay": "decay toward zero-shot",
    "adapter.batch_size": "adapter batch size",
    "device": "device",
}
# shown in the main list, so never repeated among the changes
_SHOWN = {"shots", "text_counts", "seeds", "protocol", "qformer_size", "qformer_train.loss", "qformer_train.epochs", "adapter.lr", "adapter.steps"}


def dataset_words(dataset: Any) -> str:
    """``cub at /data/CUB_200_2011, splits from s.json``; the demo without a folder is "generated"."""
    text = dataset.name or "no dataset chosen"
    if dataset.root:
        text += f" at {dataset.root}"
    elif is_generated(dataset.name):
        text += " (generated)"
    return text + (f", splits from {dataset.split_file}" if dataset.split_file else "")


def clip_words(backbone: Any) -> str:
    """``CLIP ViT-B-32 (openai) on auto``; None is the dataset's own CLIP."""
    if backbone is None:
        return "the dataset's CLIP"
    precision = f", {backbone.precision}" if backbone.precision != "auto" else ""
    return f"CLIP {backbone.model} ({backbone.pretrained or 'random weights'}) on {backbone.device}{precision}"


def executor_words(executor: Any) -> str:
    return f"{executor.name} executor" + (f" ({executor.address})" if executor.address else "")


def cache_words(cache: str | None) -> str:
    return f"the cache {cache}" if cache else "the default cache"


def features_words(spec: Any) -> str:
    """A features job: dataset, CLIP, splits, cache, executor."""
    splits = ", ".join(spec.splits) if spec.splits else "every split"
    return (
        f"encode {splits} of {dataset_words(spec.dataset)} with {clip_words(spec.backbone)} into {cache_words(spec.cache)}, "
        f"{spec.batch_size} images a batch, {executor_words(spec.executor)}" + (f"; also exported to {spec.export}" if spec.export else "")
    )


def describe_words(spec: Any) -> str:
    """A describe job: source, model and sampling (LLM sources), server, classes."""
    request = spec.request
    parts = [f"source {request.source}"]
    from .descriptions.registry import SOURCE_REGISTRY  # the source's own record says whether it is an LLM

    source = SOURCE_REGISTRY.get(request.source)
    if source is not None and source.completes:
        settings = request.settings
        if settings is not None:
            parts.append(f"model {settings.model}, temperature {settings.temperature}, at most {settings.max_tokens} tokens")
            parts.append(f"{settings.samples} sample{'s' if settings.samples != 1 else ''} per class")
        if request.base_url:
            parts.append(f"server {request.base_url}")
    if request.source == "captions":
        parts.append(f"captions from {request.captions_root or 'no folder given'}")
    classes = spec.classes
    parts.append(f"classes: first {classes}" if str(classes or "").strip().isdigit() else f"classes: {classes}" if classes else "all classes")
    return ", ".join(parts)


def span(values: list) -> str:
    """``1–15`` for a run of more than two values, else the values."""
    return f"{values[0]}–{values[-1]}" if len(values) > 2 else ", ".join(map(str, values))


def grid_words(cfg: SweepConfig) -> list[str]:
    """The grid and the main settings of a sweep."""
    q, a = cfg.qformer_train, cfg.adapter
    return [
        f"shots {span(cfg.shots)}",
        f"texts {span(cfg.text_counts)}",
        f"{len(cfg.seeds)} seeds",
        f"{cfg.protocol} protocol",
        f"Q-Former {cfg.qformer_size}, {q.loss} loss, {q.epochs} epochs",
        f"adapter lr {a.lr}, {a.steps} steps",
    ]


def changed_words(cfg: SweepConfig) -> str:
    """Every sweep setting not in ``grid_words`` that differs from its default, as "name value (default d)"."""
    defaults, given = _flat(asdict(SweepConfig())), _flat(asdict(cfg))
    changed = [
        f"{_NAMES.get(k, k.replace('_', ' ').replace('.', ' '))} {_value(v)} (default {_value(defaults[k])})"
        for k, v in given.items()
        if k in defaults and k not in _SHOWN and v != defaults[k]
    ]
    return f"; also changed: {'; '.join(changed)}" if changed else "; everything else as the defaults"


def sweep_words(spec: Any) -> str:
    """A reproduce job: dataset, grid, main settings, executor, CLIP and descriptions, then what else changed."""
    parts = [dataset_words(spec.dataset), *grid_words(spec.sweep), executor_words(spec.executor)]
    if spec.dataset.name != "synthetic":
        parts.append(clip_words(spec.backbone))
        parts.append(f"descriptions {Path(spec.descriptions).name}" if spec.descriptions else "the dataset's own descriptions")
    return " · ".join(parts) + changed_words(spec.sweep)


def estimate_words(spec: Any) -> str:
    """An estimate job: the grid, and the size of the synthetic data it is timed on."""
    size = f"{spec.classes} classes × {spec.images_per_class} images, {spec.texts_per_class} texts per class"
    return "time estimate · " + " · ".join(grid_words(spec.sweep)) + f" · on synthetic features of {size}"


def _flat(record: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in record.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _value(v: Any) -> str:
    if v is None:
        return "not set"
    return ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

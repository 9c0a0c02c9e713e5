"""Where the CLI's work goes and runs: the one place ``--cache`` (or ``$FEWSHOT_CACHE``) becomes the cache root,
and the one place the spec's executor is handed to the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..jobspec import JobSpec


def resolve_paths(spec: JobSpec) -> JobSpec:
    """The spec with its cache root resolved and checked (one line, now, when it cannot be a folder), and the
    demo's generated images put under a cache given explicitly (``--cache`` relocates them too)."""
    from ..storage import checked_cache_root

    dataset = getattr(spec, "dataset", None)
    demo = dataset is not None and dataset.name == "demo"
    if not hasattr(spec, "cache") and not demo:
        return spec
    given = getattr(spec, "cache", None)
    root = checked_cache_root(given)
    if demo and dataset.root is None and given:
        dataset.root = str(root / "demo-data")
    if hasattr(spec, "cache"):
        spec.cache = str(root)
    return spec


def cache_root(spec: Any) -> Path:
    """The spec's cache root (filled in by ``resolve_paths``)."""
    return Path(spec.cache)


def check_executor(spec: Any) -> None:
    """Refuse an unknown executor, or an address without Ray, before any work (and before torch is imported)."""
    from ..ray_cluster import check_executor as check

    check(spec.executor.name, spec.executor.address)


def executor_args(spec: Any) -> dict[str, Any]:
    """The library's executor arguments for the spec's executor."""
    return {"executor": spec.executor.name, "ray_address": spec.executor.address}

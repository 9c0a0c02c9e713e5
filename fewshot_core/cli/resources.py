"""Where the CLI's work goes and runs: the one place ``--cache`` (or ``$FEWSHOT_CACHE``) becomes the cache root,
and the one place the spec's executor is handed to the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..jobspec import JobSpec


def resolve_paths(spec: JobSpec) -> JobSpec:
    """The spec with its cache root resolved and checked (one line, now, when it cannot be a folder), and the
    images of a generated dataset (the demo) put under the cache's ``<name>-data`` (``--cache`` relocates them too)."""
    from ..datasets import is_generated
    from ..layout import CacheLayout

    dataset = getattr(spec, "dataset", None)
    generated = dataset is not None and is_generated(dataset.name)
    if not hasattr(spec, "cache") and not generated:
        return spec
    given = getattr(spec, "cache", None)
    layout = CacheLayout.resolve(given)
    root = layout.root
    if generated and dataset.root is None:  # a generated dataset's images live in the cache (its layout says where)
        dataset.root = str(layout.generated_data(dataset.name))
    if hasattr(spec, "cache"):
        spec.cache = str(root)
    return spec


def cache_root(spec: Any) -> Path:
    """The spec's cache root (filled in by ``resolve_paths``)."""
    return Path(spec.cache)


def check_executor(spec: Any) -> None:
    """Refuse an unknown executor, or an address without Ray, before any work (and before torch is imported)."""
    from ..executors import make_executor

    make_executor(spec.executor.name, spec.executor.address).check()


def executor_args(spec: Any) -> dict[str, Any]:
    """The library's executor argument for the spec's executor (an ``executors.Executor``)."""
    from ..executors import make_executor

    return {"executor": make_executor(spec.executor.name, spec.executor.address)}

"""Where the heavy work runs: this process (``LocalExecutor``) or Ray (``RayExecutor``), behind one small interface.

An executor does two things: it runs a sweep's (shots, seed) units (``run_units``) and it encodes the images of a
feature-cache miss (``extract_images``). Either way the run folder, the cache entries and the numbers are the same.
Nothing heavy is imported here: torch and Ray load inside the methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import FewShotError
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress

if TYPE_CHECKING:
    import numpy as np

    from .backbone import Backbone
    from .bundle import FeatureBundle
    from .config import SweepConfig

EXECUTORS = ("local", "ray")  # the names --executor and the sidebar accept
SaveFn = Callable[[int, int, Any], None]  # save(shots, seed, unit result), called as each unit finishes


class Executor(Protocol):
    """Runs sweep units and encodes images; ``name`` is recorded with every unit it ran."""

    name: str

    def check(self, device: str | None = None) -> None:
        """Refuse, before any work, an executor that cannot run here (Ray not installed) or a ``device`` it cannot
        use. Raises FewShotError."""
        ...

    def run_units(
        self,
        bundle: FeatureBundle,
        cfg: SweepConfig,
        units: list[tuple[int, int]],
        val_idx: np.ndarray,
        qformer_cache: Any,
        save: SaveFn,
        should_cancel: CancelFn = never_cancel,
        on_progress: ProgressFn = no_progress,
    ) -> None:
        """Compute every (shots, seed) of ``units`` and ``save`` each result as it finishes (``qformer_cache``: the cache
        root, or its ``CacheLayout``, whose Q-Formers are reused; None: none kept)."""
        ...

    def extract_images(
        self,
        backbone: Backbone,
        paths: Sequence[Path],
        batch_size: int = 64,
        num_workers: int | None = None,
        on_progress: ProgressFn = no_progress,
        should_cancel: CancelFn = never_cancel,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """What ``features.image_features`` computes on a cache miss: (N, D) float32 features, (N,) valid flags and the
        precision actually used."""
        ...


@dataclass(frozen=True)
class LocalExecutor:
    """Everything in this process: units one after another, images through a DataLoader."""

    name: str = "local"

    def check(self, device: str | None = None) -> None:
        if device is not None:
            from .backbone import resolve_device

            resolve_device(device)

    def run_units(self, bundle, cfg, units, val_idx, qformer_cache, save, should_cancel=never_cancel, on_progress=no_progress) -> None:
        from .backbone import resolve_device
        from .translator import Translator
        from .units import compute_unit

        device = resolve_device(cfg.device)
        translator = Translator(bundle, cfg, device, qformer_cache, val_idx, should_cancel, on_progress)
        for shots, seed in units:
            check_cancel(should_cancel, "The sweep")
            save(shots, seed, compute_unit(bundle, cfg, shots, seed, translator, device, should_cancel))

    def extract_images(self, backbone, paths, batch_size=64, num_workers=None, on_progress=no_progress, should_cancel=never_cancel):
        from .encode import encode_images

        return encode_images(backbone, paths, batch_size, num_workers, on_progress, should_cancel)


@dataclass(frozen=True)
class RayExecutor:
    """Ray: units as Ray tasks (``sweep_ray.py``), images through Ray Data (``features_ray.py``), on the cluster at
    ``address`` (``ray://head:10001``, ``head:6379``, ``auto``) or, with none, a private local instance."""

    address: str | None = None
    name: str = "ray"

    def check(self, device: str | None = None) -> None:
        """Ray must be importable (the cluster's devices are checked when it is joined)."""
        from .ray_cluster import import_ray

        import_ray()

    def run_units(self, bundle, cfg, units, val_idx, qformer_cache, save, should_cancel=never_cancel, on_progress=no_progress) -> None:
        from .sweep_ray import run_units_on_ray

        run_units_on_ray(bundle, cfg, units, val_idx, qformer_cache, self.address, save, should_cancel)

    def extract_images(self, backbone, paths, batch_size=64, num_workers=None, on_progress=no_progress, should_cancel=never_cancel):
        """``num_workers`` does not apply: Ray Data runs a decoding task per batch."""
        from .features_ray import encode_images_ray

        return encode_images_ray(backbone, paths, batch_size, self.address, on_progress, should_cancel)


LOCAL = LocalExecutor()  # the default of every library function that takes an executor


def make_executor(name: str = "local", address: str | None = None) -> Executor:
    """The executor called ``name`` (``--executor``), joining the Ray cluster at ``address`` (``--ray-address``).

    Raises:
        FewShotError: an unknown name, or an address given to the local executor.
    """
    if name not in EXECUTORS:
        raise FewShotError(f"Unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}.")
    if address and name != "ray":
        raise FewShotError("--ray-address only applies with --executor ray.")
    return RayExecutor(address or None) if name == "ray" else LOCAL

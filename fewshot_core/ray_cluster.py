"""Connecting to Ray, the optional executor (``--executor ray``, ``executors.RayExecutor``): one place that imports it.

Without an address, a local Ray instance is started on this machine (as many CPUs as it has, or
``num_cpus``); with one (``ray://host:10001``, ``host:6379`` or ``auto``), the driver joins that
cluster, whose workers must have fewshot-lab installed (README, "Scaling out").

A local instance is private to this machine and this process (``ray_local.py``): it listens on
127.0.0.1 only, keeps its session files in a folder only its user can read, and is stopped fully when
the process exits, Ctrl-C included.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .errors import FewShotError
from .ray_local import shutdown_ray, start_local_instance

__all__ = ["gpu_plan", "import_ray", "init_ray", "shutdown_ray"]
log = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, or a FewShotError that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise FewShotError("The Ray executor needs Ray: pip install 'fewshot-lab[ray]' (or pip install 'ray[data]==2.60.0').") from e
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Connect to the Ray cluster at ``address``, or start a local instance bound to 127.0.0.1; returns the module.

    An instance this process already joined is reused; without an address a *new* local instance is started
    (never one found through ``RAY_ADDRESS`` or /tmp/ray).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    shutdown_ray()  # what is left of an instance someone stopped with a bare ray.shutdown()
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            start_local_instance(ray, num_cpus or os.cpu_count() or 1, options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise FewShotError(f"Could not start or join {where}: {e}. Check the address (ray status on the head node shows it).") from e
    log.info("Ray: %s", ray.cluster_resources())
    return ray


def gpu_plan(ray: Any, device: str) -> int:
    """GPUs the cluster offers to work on ``device`` (0: run on CPUs); ``cuda`` on a cluster without any is refused."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if device.startswith("cuda") and not gpus:
        raise FewShotError(f"--device {device} asks for GPUs, but the Ray cluster has none. Use --device auto or cpu.")
    return gpus if device == "auto" or device.startswith("cuda") else 0

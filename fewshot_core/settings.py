"""Settings shared by every app page, persisted to a small JSON file so they survive a refresh."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .config import SweepConfig
from .datasets import is_generated, list_datasets
from .demo import dataset as demo
from .executors import EXECUTORS
from .layout import CacheLayout, default_cache_root
from .storage import read_json, write_json

DEVICES = ("auto", "cpu", "cuda", "mps")  # what the sidebar offers
MAX_SEEDS = 50  # the sidebar's upper bound on seeds
log = logging.getLogger(__name__)


@dataclass
class LabSettings:
    """What the sidebar sets: dataset, CLIP, device, cache, seeds and executor."""

    dataset: str = "demo"  # a name from datasets.list_datasets() (demo: the offline default, generated, nothing to download)
    dataset_root: str = ""  # folder of the dataset (or its parent; for "folder", your tree of class folders); empty = not configured yet
    split_file: str = ""  # optional CoOp-format split file (JSON train/val/test lists); empty = the dataset's own splits
    model: str = demo.CLIP_MODEL  # open_clip model name (the demo's own CLIP; e.g. ViT-B-32 for CUB and Pets)
    pretrained: str = str(demo.CLIP_WEIGHTS)  # open_clip tag (e.g. openai) or local checkpoint file
    device: str = "auto"  # auto | cpu | cuda | mps
    cache_root: str = ""  # empty = the default cache root
    seeds: int = field(default_factory=lambda: len(SweepConfig().seeds))  # number of seeds for few-shot runs: SweepConfig's default (20)
    executor: str = "local"  # local | ray: where training and feature jobs run (executors.py)
    ray_address: str = ""  # a Ray cluster to join (ray://head:10001, head:6379, auto); empty = a local Ray instance

    def split_path(self) -> str | None:
        """The split file to use, or None."""
        return self.split_file.strip() or None

    def cache_path(self) -> Path:
        """The cache root these settings name (empty: the default one)."""
        return Path(self.cache_root).expanduser() if self.cache_root else default_cache_root()

    def layout(self) -> CacheLayout:
        """The layout of ``cache_path``: the folders every page reads and every job started from the app writes."""
        return CacheLayout(self.cache_path())

    def dataset_folder(self) -> str | None:
        """The folder the pages load the dataset from: the sidebar's; with none, for a dataset the lab generates (the
        demo), its folder in this cache (``CacheLayout.generated_data``, where a job given ``--cache`` makes it too)."""
        if self.dataset_root:
            return self.dataset_root
        return str(self.layout().generated_data(self.dataset)) if is_generated(self.dataset) else None


def settings_file() -> Path:
    """Where the app keeps its settings: in the default cache (beside, not inside, the cache root they name)."""
    return CacheLayout.default().settings_file


def load_settings(path: Path | None = None) -> LabSettings:
    """Saved settings; defaults when none are saved or the file is damaged (not JSON, not an object), and for each
    value of the wrong type or out of range (an unknown dataset, device or executor, seeds outside 1..50), so
    that every page still loads. Unknown keys are ignored."""
    path = path or settings_file()
    try:
        data = read_json(path)
    except (OSError, ValueError, RecursionError):
        return LabSettings()
    if not isinstance(data, dict):
        log.warning("%s is not a JSON object; using the default settings", path)
        return LabSettings()
    kept = {f.name: data[f.name] for f in fields(LabSettings) if f.name in data and _valid(f.name, data[f.name])}
    dropped = sorted(set(data) & {f.name for f in fields(LabSettings)} - set(kept))
    if dropped:
        log.warning("%s: invalid %s; using the default", path, ", ".join(dropped))
    return LabSettings(**kept)


def _valid(name: str, value: Any) -> bool:
    """Whether a stored setting has its field's type (and, for choices, a value the sidebar offers)."""
    default = getattr(LabSettings(), name)
    if type(value) is not type(default):  # exact: True is not a seed count
        return False
    choices = {"dataset": list_datasets(), "device": DEVICES, "executor": EXECUTORS}.get(name)
    if choices is not None:
        return value in choices
    return 1 <= value <= MAX_SEEDS if name == "seeds" else True


def save_settings(settings: LabSettings, path: Path | None = None) -> None:
    """Persist settings atomically."""
    write_json(path or settings_file(), asdict(settings))

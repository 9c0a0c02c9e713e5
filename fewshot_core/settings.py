"""Settings shared by every app page, persisted to a small JSON file so they survive a refresh."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .datasets import demo
from .storage import default_cache_root, read_json, write_json


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
    seeds: int = 5  # number of seeds for few-shot runs (as SweepConfig: the default sweep fits its time budget with 5)
    executor: str = "local"  # local | ray: where training and feature jobs run (ray_cluster.py)
    ray_address: str = ""  # a Ray cluster to join (ray://head:10001, head:6379, auto); empty = a local Ray instance

    def split_path(self) -> str | None:
        """The split file to use, or None."""
        return self.split_file.strip() or None

    def cache_path(self) -> Path:
        return Path(self.cache_root).expanduser() if self.cache_root else default_cache_root()


def settings_file() -> Path:
    """Where the app keeps its settings (beside, not inside, the cache root it names)."""
    return default_cache_root() / "app_settings.json"


def load_settings(path: Path | None = None) -> LabSettings:
    """Saved settings, ignoring unknown keys; defaults when none are saved or the file is damaged."""
    path = path or settings_file()
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return LabSettings()
    known = {f.name for f in fields(LabSettings)}
    return LabSettings(**{k: v for k, v in data.items() if k in known})


def save_settings(settings: LabSettings, path: Path | None = None) -> None:
    """Persist settings atomically."""
    write_json(path or settings_file(), asdict(settings))

"""The one owner of the cache layout: every folder and file under the cache root is named here.

The CLI builds one ``CacheLayout`` from ``--cache`` (or ``$FEWSHOT_CACHE``), the app from its sidebar setting, and
each passes it (or its root) down, so both find the same features, runs, description sets and demo images.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import FewShotError

ENV_CACHE = "FEWSHOT_CACHE"


def default_cache_root() -> Path:
    """The per-user cache root: ``$FEWSHOT_CACHE`` if set, else ``$XDG_CACHE_HOME/fewshot-lab`` (``~/.cache/fewshot-lab``)."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fewshot-lab"


@dataclass(frozen=True)
class CacheLayout:
    """Where everything lives under one cache root."""

    root: Path

    @classmethod
    def resolve(cls, root: Path | str | None = None) -> CacheLayout:
        """The layout of ``root`` (None: ``default_cache_root``), refused with one clear line when the root cannot be a
        folder: a file, a dangling or looping symbolic link, or a path under a file. Creates nothing.

        Raises:
            FewShotError: saying which setting (``--cache``, ``$FEWSHOT_CACHE``) to point elsewhere.
        """
        path = Path(root).expanduser() if root else default_cache_root()
        where = "--cache" if root else (f"${ENV_CACHE}" if os.environ.get(ENV_CACHE) else "The cache root")
        _check_folder(path, where)
        return cls(path)

    @classmethod
    def of(cls, cache: CacheLayout | Path | str) -> CacheLayout:
        """``cache`` as a layout (a root folder is taken as given, unchecked: the library's callers pass either)."""
        return cache if isinstance(cache, CacheLayout) else cls(Path(cache).expanduser())

    @classmethod
    def default(cls) -> CacheLayout:
        """The per-user default layout, unchecked: where the app keeps its own files (settings, remembered choices),
        beside whatever cache root its settings name."""
        return cls(default_cache_root())

    @property
    def features(self) -> Path:
        """Image and text features (``feature_cache.FeatureCache``)."""
        return self.root / "features"

    @property
    def runs(self) -> Path:
        """Run folders (``runs.RunFolder``), one per sweep."""
        return self.root / "runs"

    @property
    def qformers(self) -> Path:
        """Trained Q-Formers, keyed by everything they depend on (``translator.py``)."""
        return self.root / "qformers"

    @property
    def descriptions(self) -> Path:
        """Stored description sets (``descriptions.store.DescriptionStore``)."""
        return self.root / "descriptions"

    @property
    def uploads(self) -> Path:
        """Description files the app received, by SHA-256."""
        return self.root / "uploads"

    @property
    def models(self) -> Path:
        """The local LLM converted once for transformers (``descriptions/local_llm.py``)."""
        return self.root / "models"

    @property
    def jobs(self) -> Path:
        """The app's job folders (``fewshot_app/jobs.py``)."""
        return self.root / "jobs"

    def generated_data(self, dataset: str) -> Path:
        """Where a dataset the lab generates itself (``DatasetInfo.needs_root`` False) is made when no folder is
        given: ``<root>/<dataset>-data``."""
        return self.root / f"{dataset}-data"

    @property
    def demo_data(self) -> Path:
        """Where the offline demo dataset is generated when no folder is given."""
        return self.generated_data("demo")

    @property
    def settings_file(self) -> Path:
        """The app's sidebar settings."""
        return self.root / "app_settings.json"

    @property
    def choices_file(self) -> Path:
        """The app's remembered choices (the last description set picked, ...)."""
        return self.root / "app_choices.json"

    @property
    def atomic_folders(self) -> tuple[Path, ...]:
        """The folders whose files are written atomically (``storage.clean_cache`` removes what killed writes left);
        not the demo images, which are written by a rename of their whole folder."""
        return (self.features, self.qformers, self.descriptions, self.uploads, self.runs)

    def run_dir(self, name: str) -> Path:
        """The run folder called ``name``."""
        return self.runs / _checked_name(name, "run")

    def job_dir(self, kind: str, slot: str = "") -> Path:
        """The folder of job ``kind`` in ``slot`` (``<kind>-<slot>``; one job runs per folder)."""
        return self.jobs / _checked_name(f"{kind}-{slot}" if slot else kind, "job")


def _checked_name(name: str, what: str) -> str:
    """A folder name of letters, digits, '-' and '_' only (never a path)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise FewShotError(f"{what.capitalize()} names are letters, digits, '-' and '_' (got {name!r}).")
    return name


def _check_folder(root: Path, where: str) -> None:
    """Refuse a cache root that cannot be a folder (it is created later, where missing)."""
    fix = f"Point {where} at a folder (it is created if missing)."
    try:
        mode = root.stat().st_mode  # follows links: a loop raises ELOOP, a dangling link ENOENT
    except FileNotFoundError:
        if root.is_symlink():
            raise FewShotError(f"{where} {root} is a symbolic link to {os.readlink(root)}, which does not exist. {fix}") from None
        return
    except OSError as e:
        raise FewShotError(f"{where} {root} cannot be used ({e.strerror or e}). {fix}") from None
    if not stat.S_ISDIR(mode):
        raise FewShotError(f"{where} {root} is a file, not a folder. {fix}")

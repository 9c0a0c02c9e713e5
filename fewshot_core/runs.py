"""Resumable, self-describing run folders and the rows they hold.

A run folder holds ``config.json`` (every setting, the feature provenance, library versions),
``units/<shots>-<seed>.json`` (one file per finished unit of work, written atomically) with its test
predictions in ``units/<shots>-<seed>.npz`` (keys ``adapter-0`` for image only,
``adapter-<translation>-<texts>``, ``linear-probe``, ``tip-adapter``; ``zeroshot`` in ``zeroshot.npz``),
and the tidy ``results.csv`` / ``results.jsonl`` rebuilt from them. Re-running a finished run does
nothing; an interrupted one resumes at the first missing unit; a damaged unit (unreadable JSON, or its
predictions file gone) is recomputed.

``config.json`` also records ``qformer_images_per_class``: for the ``train-split`` protocol the median
number of labelled images per class the translators learned from; ``null`` for ``support``, where it
is the shot count k of each row (the support set).
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import FewShotError
from .storage import atomic_path, read_json, write_json

if TYPE_CHECKING:
    from .bundle import FeatureBundle

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["dataset", "method", "protocol", "translation", "head", "shots", "texts", "seed", "val_acc", "test_acc", "chosen"]


@dataclass
class ResultRow:
    """One accuracy of one method in one setting: a row of ``results.csv``."""

    dataset: str
    method: str  # adapter | zeroshot | description-zeroshot | linear-probe | tip-adapter
    shots: int  # labelled images per class (0: no images)
    texts: int  # descriptions per class (0: none)
    seed: int
    val_acc: float  # on the validation images (drawn from the training split)
    test_acc: float
    protocol: str = ""  # which images trained the translators (adapter rows only)
    translation: str = ""  # adapter rows: "none" (texts == 0), "raw", "mean-shift" or "qformer"; "" for other methods
    head: str = ""  # adapter rows: the classifier it starts from ("zeroshot": class-name prompts, "descriptions", "zeros")
    chosen: dict[str, Any] = field(default_factory=dict)  # hyper-parameters a baseline chose on validation

    def record(self) -> dict[str, Any]:
        """The row as stored: accuracies rounded, ``chosen`` as canonical JSON."""
        row = asdict(self)
        row.update(val_acc=round(float(self.val_acc), 6), test_acc=round(float(self.test_acc), 6), chosen=json.dumps(self.chosen, sort_keys=True))
        return {k: row[k] for k in RESULT_COLUMNS}


def library_versions() -> dict[str, str]:
    """Versions that can change the numbers (read from the installed metadata: importing open_clip
    and transformers only to ask would cost seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "torch": installed("torch"),
        "open_clip": installed("open_clip_torch"),
        "transformers": installed("transformers"),
        "scikit-learn": installed("scikit-learn"),
        "numpy": np.__version__,
    }


class RunFolder:
    """A self-describing, resumable run folder."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.units = self.path / "units"

    def start(self, config: dict[str, Any]) -> None:
        """Write config.json, or check that an existing one describes the same run."""
        target = self.path / "config.json"
        if target.is_file():
            try:
                old = read_json(target)
            except (OSError, ValueError) as e:
                raise FewShotError(f"{target} is damaged ({e}); delete the run folder {self.path} to start over, or choose another one.") from e
            if old.get("key") != config["key"]:
                raise FewShotError(f"{self.path} holds a run with other settings or features; choose a new run folder (or delete it to start over).")
            return
        write_json(target, config)

    def unit_record(self, unit: str) -> dict[str, Any] | None:
        """The stored record of a finished unit; None if missing or damaged (unreadable, or predictions gone)."""
        path = self.units / f"{unit}.json"
        try:
            record = read_json(path)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or not isinstance(record.get("rows"), list):
            return None
        keys = record.get("predictions")
        needs_npz = bool(keys) if keys is not None else unit != "zeroshot"  # older runs do not list their keys
        if needs_npz and not (self.units / f"{unit}.npz").is_file():
            return None
        return record

    def done(self, unit: str) -> bool:
        return self.unit_record(unit) is not None

    def drop_damaged_units(self) -> list[str]:
        """Delete unit files that cannot be used (so the sweep recomputes them); returns their names."""
        dropped = [p.stem for p in sorted(self.units.glob("*.json")) if self.unit_record(p.stem) is None]
        for unit in dropped:
            log.warning("Run unit %s in %s is damaged or incomplete; it will be recomputed.", unit, self.path)
            (self.units / f"{unit}.json").unlink(missing_ok=True)
            (self.units / f"{unit}.npz").unlink(missing_ok=True)
        return dropped

    def save_unit(
        self, unit: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None, predictions: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store a finished unit: its predictions first, then its rows (whose file marks it done)."""
        if predictions:
            with atomic_path(self.units / f"{unit}.npz") as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **{k: v.astype(np.int16) for k, v in predictions.items()})
        write_json(self.units / f"{unit}.json", {"rows": rows, **(extra or {}), "predictions": sorted(predictions or {})})

    def save_test_index(self, bundle: FeatureBundle) -> None:
        """Test labels, class names and (when known) image paths, for per-class views."""
        if not (self.path / "test_index.json").is_file():
            write_json(
                self.path / "test_index.json", {"class_names": bundle.class_names, "labels": bundle.test_labels.tolist(), "paths": bundle.test_paths}
            )

    def predictions(self, unit: str) -> dict[str, np.ndarray]:
        """Test predictions of a unit by key ("adapter-<texts>", "linear-probe", ...); empty if none."""
        path = self.units / f"{unit}.npz"
        if not path.is_file():
            return {}
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    def results(self) -> pd.DataFrame:
        """All finished rows as a tidy table (runs made before translations: adapter rows with texts are "qformer")."""
        rows = []
        for path in sorted(self.units.glob("*.json")):
            record = self.unit_record(path.stem)
            if record is None:
                raise FewShotError(f"Run unit {path} is damaged or its predictions are missing; run the sweep again to recompute it.")
            rows.extend(record["rows"])
        df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        missing = df.translation.isna()
        if missing.any():
            adapter = df.method == "adapter"
            df.loc[missing, "translation"] = np.where(adapter[missing], np.where(df.texts[missing] == 0, "none", "qformer"), "")
        return df

    def write_tables(self) -> pd.DataFrame:
        """Rebuild results.csv and results.jsonl from the unit files (atomically)."""
        df = self.results()
        with atomic_path(self.path / "results.csv") as tmp:
            df.to_csv(tmp, index=False)
        with atomic_path(self.path / "results.jsonl") as tmp:
            df.to_json(tmp, orient="records", lines=True)
        return df


def list_runs(cache_root: Path | str) -> list[dict[str, Any]]:
    """Every run folder under ``<cache>/runs``, newest first, with its config and result count."""
    runs = []
    for config_path in Path(cache_root, "runs").glob("*/config.json"):
        try:
            config = read_json(config_path)
        except (OSError, ValueError):
            continue  # a damaged folder is skipped, not fatal
        folder = RunFolder(config_path.parent)
        runs.append({"path": str(folder.path), "name": folder.path.name, "config": config, "units": len(list(folder.units.glob("*.json")))})
    return sorted(runs, key=lambda r: r["config"].get("created", ""), reverse=True)

"""Resumable, self-describing run folders and the rows they hold.

A run folder holds ``config.json`` (every setting, the feature provenance, library versions),
``units/<shots>-<seed>.json`` (one file per finished unit of work, written atomically) with its test
predictions in ``units/<shots>-<seed>.npz`` (keys ``adapter-0`` for image only,
``adapter-<translation>-<texts>``, ``linear-probe``, ``tip-adapter``; ``zeroshot`` in ``zeroshot.npz``),
and the tidy ``results.csv`` / ``results.jsonl`` rebuilt from them. Re-running a finished run does
nothing; an interrupted one resumes at the first missing unit; a damaged unit is recomputed.

Integrity. A run folder holds a ``.fewshot-run`` marker written when it is created: the sweep writes only
into a folder it made (or an empty or new one), never over a user's files. ``config.json`` and every unit
record carry a ``checksum``: SHA-256 over their canonical JSON (``storage.canonical_sha256``), and a unit's
covers its own name and the SHA-256 of its ``.npz``. A unit is damaged when it is unreadable, its checksum
does not match (an edited accuracy), it is another unit's record (swapped files), a row lacks a field or
has one of the wrong type or an accuracy outside [0, 1], its rows are of other shots or seeds than its
name says, or its predictions file is gone or changed (truncated); a damaged unit is never served, and
the sweep recomputes it. A ``config.json`` that does not match its checksum is refused (a run's settings
cannot be edited after the fact), and so is a run of a version before these records (no marker, no checksum):
this is a 0.1 project, which reads no older run format.

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
from .layout import CacheLayout
from .storage import atomic_path, canonical_sha256, read_json, remove_stale_tmp, sha256_file, timestamp, write_json

if TYPE_CHECKING:
    from .bundle import FeatureBundle

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["dataset", "method", "protocol", "translation", "head", "shots", "texts", "seed", "val_acc", "test_acc", "chosen"]
MARKER = ".fewshot-run"  # written into every run folder this tool creates; the sweep writes into no other non-empty folder
ACCURACIES = ("val_acc", "test_acc")
# The type every stored row field must have (a column not listed must be present, of any type).
ROW_TYPES: dict[str, type | tuple[type, ...]] = {
    "dataset": str,
    "method": str,
    "protocol": str,
    "translation": str,
    "head": str,
    "shots": int,
    "texts": int,
    "seed": int,
    "val_acc": (int, float),
    "test_acc": (int, float),
    "chosen": str,
}


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

    def check_usable(self) -> None:
        """Refuse (one line) a folder the sweep must not write into: a file, or a non-empty folder it did not create
        (no ``MARKER`` in it: a user's folder, or a run of a version before the marker, which is not resumed).
        Creates nothing."""
        if not (self.path.exists() or self.path.is_symlink()):
            return
        if not self.path.is_dir():
            what = "a broken symbolic link" if self.path.is_symlink() and not self.path.exists() else "a file"
            raise FewShotError(f"The run folder {self.path} is {what}. Choose a new folder for the run; it is created.")
        if (self.path / MARKER).is_file():
            return
        try:
            entries = {p.name for p in self.path.iterdir()}
        except OSError as e:
            raise FewShotError(f"The run folder {self.path} cannot be read ({e.strerror or e}). Choose another folder.") from e
        if entries and self._holds_old_run():
            raise FewShotError(
                f"{self.path} holds a run without the {MARKER} file this version writes into every run folder (an older "
                "version's run, or the file was removed), so it is not resumed. Choose a new folder with --run-dir, or delete it to run again."
            )
        if entries:
            raise FewShotError(
                f"{self.path} is not empty and is not a run folder of this tool (no {MARKER} file in it), so results will not be "
                "written there (your files stay as they are). Choose a new or empty folder with --run-dir."
            )

    def _holds_old_run(self) -> bool:
        """Whether the folder's config.json is a run's (a JSON object with a key), as older versions wrote it."""
        try:
            config = read_json(self.path / "config.json")
        except (OSError, ValueError, RecursionError):
            return False
        return isinstance(config, dict) and "key" in config

    def start(self, config: dict[str, Any]) -> None:
        """Create the run folder and write config.json (with its checksum), or check that an existing one is this
        tool's and describes the same run.

        Raises:
            FewShotError: the folder is a file, a user's non-empty folder, an older version's run, read-only, or holds
                another or a damaged or hand-edited run.
        """
        self.check_usable()
        target = self.path / "config.json"
        if not (self.path / MARKER).is_file():
            write_json(self.path / MARKER, {"tool": "fewshot-lab", "created": timestamp()})
        remove_stale_tmp(self.path)
        if target.is_file():
            if self.config().get("key") != config["key"]:
                raise FewShotError(f"{self.path} holds a run with other settings or features; choose a new run folder (or delete it to start over).")
            return
        write_json(target, seal(config))

    def config(self) -> dict[str, Any]:
        """The run's config.json, verified against its checksum.

        Raises:
            FewShotError: missing, unreadable, not a JSON object, or changed since the run wrote it.
        """
        target = self.path / "config.json"
        try:
            config = read_json(target)
        except FileNotFoundError:
            raise FewShotError(f"{self.path} has no config.json: it is not a run folder, or its run never started.") from None
        except (OSError, ValueError, RecursionError) as e:
            raise FewShotError(f"{target} is damaged ({e}); delete the run folder {self.path} to start over, or choose another one.") from e
        if not isinstance(config, dict):
            raise FewShotError(f"{target} is damaged (not a JSON object); delete the run folder {self.path} to start over, or choose another one.")
        if "checksum" not in config and "key" in config:  # a whole run config, as versions before the checksum wrote it
            raise FewShotError(
                f"{target} was written by an older version of Few-shot Lab (it has no checksum), whose runs this version does not "
                f"read. Run the sweep again into a new folder, or delete {self.path}."
            )
        if config.get("checksum") != checksum(config):
            raise FewShotError(
                f"{target} was changed after the run wrote it (its checksum does not match), so its results cannot be trusted. "
                f"Delete the run folder {self.path} to start over, or choose another one."
            )
        return config

    def unit_problem(self, unit: str) -> str | None:
        """Why a unit cannot be used (missing, unreadable, checksum, swapped, schema, predictions), or None if it can."""
        return self._checked_unit(unit)[0]

    def _checked_unit(self, unit: str) -> tuple[str | None, dict[str, Any] | None]:
        """(problem, None) for a unit that cannot be used, (None, record) for one that can."""
        try:
            record = read_json(self.units / f"{unit}.json")
        except FileNotFoundError:
            return "missing", None
        except (OSError, ValueError, RecursionError) as e:
            return f"unreadable ({e})", None
        problem = self._record_problem(unit, record)
        return (problem, None) if problem else (None, record)

    def _record_problem(self, unit: str, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("checksum") != checksum(record):
            return "its checksum does not match (edited, or written by an older version)"
        if record.get("unit") != unit:
            return f"it is the record of unit {record.get('unit')!r} (files swapped or copied)"
        problem = rows_problem(record.get("rows"), unit)
        if problem:
            return problem
        keys = record.get("predictions")
        if not isinstance(keys, list):
            return "its list of predictions is missing"
        if not keys:
            return None
        npz = self.units / f"{unit}.npz"
        if not npz.is_file():
            return "its predictions file is missing"
        if sha256_file(npz) != record.get("predictions_sha256"):
            return "its predictions file was changed or cut short"
        return None

    def unit_record(self, unit: str) -> dict[str, Any] | None:
        """The stored record of a finished unit; None if missing or damaged (``unit_problem``)."""
        return self._checked_unit(unit)[1]

    def done(self, unit: str) -> bool:
        return self.unit_problem(unit) is None

    def drop_damaged_units(self) -> list[str]:
        """Delete unit files that cannot be used (so the sweep recomputes them); returns their names."""
        names = sorted({p.stem for p in self.units.glob("*.json")} | {p.stem for p in self.units.glob("*.npz")})
        dropped = []
        for unit in names:
            problem = self.unit_problem(unit)
            if problem is None:
                continue
            if problem != "missing":
                log.warning("Run unit %s in %s is damaged (%s); it will be recomputed.", unit, self.path, problem)
            (self.units / f"{unit}.json").unlink(missing_ok=True)
            (self.units / f"{unit}.npz").unlink(missing_ok=True)
            dropped.append(unit)
        return dropped

    def save_unit(
        self, unit: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None, predictions: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store a finished unit: its predictions first, then its rows (whose file marks it done), sealed with a
        checksum over the record, its name and its predictions file's SHA-256.

        Raises:
            ValueError: rows that break the schema (``rows_problem``): a bug in the caller, never stored.
        """
        problem = rows_problem(rows, unit)
        if problem:
            raise ValueError(f"Refusing to store unit {unit}: {problem}.")
        npz_sha256 = None
        if predictions:
            with atomic_path(self.units / f"{unit}.npz") as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **{k: v.astype(np.int16) for k, v in predictions.items()})
                npz_sha256 = sha256_file(tmp)
        record = {"unit": unit, "rows": rows, **(extra or {}), "predictions": sorted(predictions or {}), "predictions_sha256": npz_sha256}
        write_json(self.units / f"{unit}.json", seal(record))

    def save_test_index(self, bundle: FeatureBundle) -> None:
        """Test labels, class names and (when known) image paths, for per-class views."""
        if not (self.path / "test_index.json").is_file():
            write_json(
                self.path / "test_index.json", {"class_names": bundle.class_names, "labels": bundle.test_labels.tolist(), "paths": bundle.test_paths}
            )

    def predictions(self, unit: str) -> dict[str, np.ndarray]:
        """Test predictions of a unit by key (``units.prediction_key``: "adapter-0", "adapter-<translation>-<texts>", "linear-probe",
        ...); empty if none or damaged."""
        path = self.units / f"{unit}.npz"
        if not path.is_file() or self.unit_problem(unit) is not None:
            return {}
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    def results(self) -> pd.DataFrame:
        """All finished rows as a tidy table."""
        rows = []
        for path in sorted(self.units.glob("*.json")):
            problem, record = self._checked_unit(path.stem)
            if record is None:
                raise FewShotError(f"Run unit {path} is damaged ({problem}); run the sweep again to recompute it.")
            rows.extend(record["rows"])
        return pd.DataFrame(rows, columns=RESULT_COLUMNS)

    def write_tables(self) -> pd.DataFrame:
        """Rebuild results.csv and results.jsonl from the unit files (atomically)."""
        df = self.results()
        with atomic_path(self.path / "results.csv") as tmp:
            df.to_csv(tmp, index=False)
        with atomic_path(self.path / "results.jsonl") as tmp:
            df.to_json(tmp, orient="records", lines=True)
        return df


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as it reads back from JSON, with its ``checksum`` added (``checksum``)."""
    plain = json.loads(json.dumps({k: v for k, v in record.items() if k != "checksum"}, default=str))
    return {**plain, "checksum": checksum(plain)}


def checksum(record: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of a record without its ``checksum`` field."""
    return canonical_sha256({k: v for k, v in record.items() if k != "checksum"})


def rows_problem(rows: Any, unit: str) -> str | None:
    """What is wrong with a unit's rows (None: nothing): every row has every column with its type (``ROW_TYPES``),
    accuracies in [0, 1] (NaN allowed), and the shots and seed the unit's name ``<shots>-<seed>`` says
    (``zeroshot``: shots 0)."""
    if not isinstance(rows, list):
        return "it has no list of rows"
    shots, _, seed = unit.partition("-")
    expected = {"shots": 0} if unit == "zeroshot" else ({"shots": int(shots), "seed": int(seed)} if shots.isdigit() and seed.isdigit() else {})
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return f"row {i} is not a record"
        missing = [c for c in RESULT_COLUMNS if c not in row]
        if missing:
            return f"row {i} lacks {', '.join(missing)}"
        wrong = [c for c, kind in ROW_TYPES.items() if c in row and (isinstance(row[c], bool) or not isinstance(row[c], kind))]
        if wrong:
            return f"row {i} has a {wrong[0]} of the wrong type ({type(row[wrong[0]]).__name__})"
        bad = [c for c in ACCURACIES if not (0 <= row[c] <= 1 or row[c] != row[c])]  # NaN (x != x): no validation image
        if bad:
            return f"row {i} has {bad[0]} {row[bad[0]]}, outside [0, 1]"
        other = [c for c, v in expected.items() if row[c] != v]
        if other:
            return f"row {i} has {other[0]} {row[other[0]]}, but the unit is {unit}"
    return None


def list_runs(cache_root: CacheLayout | Path | str) -> list[dict[str, Any]]:
    """Every run folder under ``<cache>/runs`` (``CacheLayout.runs``), newest first, with its config and result count
    (a damaged or hand-edited config.json is skipped, with a warning in the log)."""
    runs = []
    for config_path in CacheLayout.of(cache_root).runs.glob("*/config.json"):
        folder = RunFolder(config_path.parent)
        try:
            config = folder.config()
        except FewShotError as e:
            log.warning("%s", e)
            continue  # a damaged folder is skipped, not fatal
        runs.append({"path": str(folder.path), "name": folder.path.name, "config": config, "units": len(list(folder.units.glob("*.json")))})
    return sorted(runs, key=lambda r: r["config"].get("created", ""), reverse=True)

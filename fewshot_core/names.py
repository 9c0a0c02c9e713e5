"""Readable, editable names for run folders and description sets (their folder names are content keys).

A name is kept in ``label.txt`` inside the folder; without one, a name is made from what the folder
records (dataset, source, model, settings), so a user never has to read a hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABEL_FILE = "label.txt"
MAX_LABEL = 80


def read_label(folder: Path | str) -> str | None:
    """The name the user gave a folder, if any."""
    try:
        text = (Path(folder) / LABEL_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text[:MAX_LABEL] or None


def write_label(folder: Path | str, label: str) -> None:
    """Rename a folder for display (an empty label goes back to the made-up name)."""
    path = Path(folder) / LABEL_FILE
    label = " ".join(label.split())[:MAX_LABEL]
    if label:
        path.write_text(label + "\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


def set_label(dset: Any) -> str:
    """A description set's name: the user's, else ``source · model · date``."""
    given = read_label(dset.path)
    if given:
        return given
    try:
        meta = dset.meta
    except (OSError, ValueError):
        return dset.path.name
    model = meta.get("settings", {}).get("model", "")
    return " · ".join(x for x in (meta.get("source", "?"), model, str(meta.get("created", ""))[:16].replace("T", " ")) if x)


def descriptions_label(config: dict[str, Any]) -> str:
    """The name of the description set a run used (``config.json``'s features.descriptions): the set's own name
    for a stored set, the file's name for a JSON file, "" when the run records none (synthetic features)."""
    source = (config.get("features") or {}).get("descriptions")
    if not source:
        return ""
    path = Path(str(source))
    if (path / "meta.json").is_file():
        from .descriptions.store import DescriptionSet

        return set_label(DescriptionSet(path))
    return path.name


def unique_run_labels(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Path -> name for ``list_runs`` entries, every name different: where two runs share one, the later
    created get " (2)", " (3)", ... (a failed run beside a good one with the same settings is told apart)."""
    by_age = sorted(runs, key=lambda r: (str(r.get("config", {}).get("created", "")), r["path"]))
    labels: dict[str, str] = {}
    taken: set[str] = set()
    for run in by_age:
        base = label = run_label(run)
        n = 1
        while label in taken:
            n += 1
            label = f"{base} ({n})"
        taken.add(label)
        labels[run["path"]] = label
    return {r["path"]: labels[r["path"]] for r in runs}


def run_label(run: dict[str, Any]) -> str:
    """A run's name (a ``list_runs`` entry): the user's, else ``dataset · description set · shots · texts ·
    protocol · date`` (``unique_run_labels`` tells apart runs that share one)."""
    given = read_label(run["path"])
    if given:
        return given
    config = run.get("config", {})
    sweep = config.get("sweep", {})
    shots, texts = sweep.get("shots") or [], sweep.get("text_counts") or []
    grid = f"{min(shots)}-{max(shots)} shots" if shots else ""
    grid += f", {min(texts)}-{max(texts)} texts" if texts else ""
    created = str(config.get("created", ""))[:16].replace("T", " ")
    described = descriptions_label(config).removesuffix(f" · {created}")  # a set made in the run's minute: one date
    parts = (config.get("dataset", "?"), described, grid, sweep.get("protocol", ""), created)
    return " · ".join(p for p in parts if p)


def name_some(names: list[str], shown: int = 3) -> str:
    """The first few of a list of names and how many more ("Ant, Bee, Cat and 43 more")."""
    names = [str(n) for n in names]
    if len(names) <= shown + 1:
        return ", ".join(names[:-1]) + (f" and {names[-1]}" if len(names) > 1 else names[-1] if names else "")
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"

"""The description store: generated text saved class by class, user edits kept apart.

``<cache>/descriptions/<dataset>/<key>/`` holds ``meta.json`` (source, model, prompt, sampling
settings), ``classes/NNNN.json`` (the parsed lines, the raw completions and token usage of one class,
written atomically the moment it arrives), ``edits/NNNN.json`` (lines the user added, deleted or
rewrote; ``edits.py``: nothing the user wrote is ever erased) and ``removals.json`` (batch removals, e.g.
of the lines a judge flagged, each undoable as a whole). A crash or a cancel loses at most the requests in
flight; a re-run skips finished classes; regenerating one class never touches another class's edits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FewShotError
from ..layout import CacheLayout
from ..storage import content_key, read_json, timestamp, write_json
from .edits import Edits, apply_edits, empty_edits, lines_in_effect, undelete

log = logging.getLogger(__name__)
REMOVALS_FILE = "removals.json"  # the batch removals of a set (what "Restore" undoes)


@dataclass
class Usage:
    """Token counts of the requests that produced a set."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Any) -> None:
        """Add a record's counts (anything that is not a count, in a damaged record, counts as 0)."""
        count = lambda key: other.get(key) if isinstance(other, dict) and type(other.get(key)) is int else 0  # noqa: E731
        self.prompt_tokens += count("prompt_tokens")
        self.completion_tokens += count("completion_tokens")


class DescriptionSet:
    """One generation setting's descriptions for one dataset."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DescriptionSet) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"DescriptionSet({str(self.path)!r})"

    @property
    def meta(self) -> dict[str, Any]:
        return read_json(self.path / "meta.json")

    def _class_file(self, kind: str, c: int) -> Path:
        return self.path / kind / f"{c:04d}.json"

    def done_classes(self) -> set[int]:
        """Classes whose generation has finished (a damaged class file does not count: it is generated again)."""
        return {int(p.stem) for p in (self.path / "classes").glob("*.json") if p.stem.isdigit() and _read_checked(p, CLASS_FIELDS) is not None}

    def save_generated(self, c: int, class_name: str, lines: list[str], raw: list[str], usage: dict[str, int] | None = None) -> None:
        """Store one class's parsed lines and raw completions (replaces an earlier generation)."""
        record = {
            "class_index": c,
            "class_name": class_name,
            "generated": lines,
            "raw": raw,
            "usage": usage or {},
            "created": timestamp(),
        }
        write_json(self._class_file("classes", c), record)

    def record(self, c: int) -> dict[str, Any]:
        """Class c's generated record: empty when not generated yet, or when its file cannot be read (cut off by a
        crash: logged, and generated again by the next describe).

        Raises:
            FewShotError: the file reads but has the wrong shape (a hand edit): say so rather than guess.
        """
        return _read_for_use(self._class_file("classes", c), CLASS_FIELDS, f"Run describe again to regenerate class {c}, or fix the file.") or {
            "generated": [],
            "raw": [],
            "usage": {},
        }

    def edits(self, c: int) -> Edits:
        """The user's edits of class c: none yet (or an unreadable file, logged): empty lists.

        Raises:
            FewShotError: the file reads but has the wrong shape (a hand edit); it is not overwritten either.
        """
        return _read_for_use(self._class_file("edits", c), EDIT_FIELDS, "Fix it, or delete it to drop those edits.") or empty_edits()

    def lines(self, c: int) -> list[str]:
        """The lines in effect for class c: generated (rewritten in place), then the user's, minus deletions."""
        return lines_in_effect(self.record(c)["generated"], self.edits(c))

    def edit(self, c: int, add: list[str] = (), delete: list[str] = (), replace: dict[str, str] | None = None) -> None:
        """Record user edits for class c (kept apart from generated text; see ``edits.apply_edits``).

        A deleted line is hidden, never erased, so ``restore`` can always bring it back; a rewrite keeps
        the line's position.
        """
        edits = apply_edits(self.record(c)["generated"], self.edits(c), add, delete, replace)
        write_json(self._class_file("edits", c), edits)

    def restore(self, c: int, lines: list[str]) -> None:
        """Undo deletions of class c's lines, whoever wrote them: they come back where they were."""
        write_json(self._class_file("edits", c), undelete(self.edits(c), lines))

    def all_lines(self, num_classes: int) -> dict[int, list[str]]:
        return {c: self.lines(c) for c in range(num_classes)}

    def classes_with_lines(self, num_classes: int) -> list[int]:
        """The classes (of ``0..num_classes-1``) that have at least one line in effect."""
        return [c for c in range(num_classes) if self.lines(c)]

    def remove(self, lines: dict[int, list[str]], reason: str = "removed by the user", judged_with: dict[str, Any] | None = None) -> dict[str, Any]:
        """Delete lines of several classes as one batch that ``restore_removal`` can undo; returns its record.

        Only lines in effect are recorded (one deleted earlier by hand stays deleted on a restore).
        ``judged_with``: which training images judged the lines (``judge.judged_with``), when a judge flagged
        them; the set's meta then records that training labels shaped it (``provenance``).
        """
        removed = {}
        for c, texts in sorted(lines.items()):
            shown = self.lines(c)
            picked = [t for t in dict.fromkeys(texts) if t in shown]
            if picked:
                self.edit(c, delete=picked)
                removed[str(c)] = picked
        earlier = self.removals()
        record = {
            "id": f"r{len(earlier) + 1}",
            "time": timestamp(),
            "reason": reason,
            "lines": removed,
            "count": sum(map(len, removed.values())),
            "judged_with": judged_with,
            "restored": None,
        }
        self._write_removals([*earlier, record])
        return record

    def removals(self) -> list[dict[str, Any]]:
        """Every batch removal of this set, oldest first (restored ones carry the time of their restore)."""
        data = _read_checked(self.path / REMOVALS_FILE, REMOVAL_FIELDS)
        return list(data["removals"]) if data is not None and isinstance(data["removals"], list) else []

    def restore_removal(self, removal_id: str) -> int:
        """Bring back every line of one batch removal, where it was; returns how many lines came back."""
        log_ = self.removals()
        record = next((r for r in log_ if r.get("id") == removal_id and not r.get("restored")), None)
        if record is None:
            return 0
        for c, texts in record["lines"].items():
            self.restore(int(c), texts)
        record["restored"] = timestamp()
        self._write_removals(log_)
        return int(record["count"])

    def _write_removals(self, removals: list[dict[str, Any]]) -> None:
        """The removal log, and the meta's record of the removals a judge made that still hold."""
        write_json(self.path / REMOVALS_FILE, {"removals": removals})
        meta = self.meta
        meta["pruning"] = [
            {"removal": r["id"], "time": r["time"], "lines": r["count"], "judged_with": r["judged_with"]}
            for r in removals
            if r.get("judged_with") and not r.get("restored") and r.get("count")
        ]
        write_json(self.path / "meta.json", meta)

    def provenance(self) -> dict[str, Any]:
        """What a run on this set must record about it: its source and whether training labels pruned it.

        Keys: ``description_set`` (folder name), ``source``, ``pruned_by_judge`` (lines a judge flagged were
        removed and not restored), ``pruned_with_labels_per_class`` (at most this many labelled training
        images per class judged them; None when not pruned), ``pruned_with_all_training_labels`` and
        ``pruning`` (each such removal: time, lines, ``judged_with``).
        """
        meta = self.meta
        pruning = [p for p in meta.get("pruning") or [] if isinstance(p, dict) and isinstance(p.get("judged_with"), dict)]
        labels = [int(p["judged_with"].get("labels_per_class", 0)) for p in pruning]
        return {
            "description_set": self.path.name,
            "source": meta.get("source"),
            "pruned_by_judge": bool(pruning),
            "pruned_with_labels_per_class": max(labels) if labels else None,
            "pruned_with_all_training_labels": any(bool(p["judged_with"].get("all_training_labels")) for p in pruning),
            "pruning": pruning,
        }

    def usage(self) -> Usage:
        total = Usage()
        for c in self.done_classes():
            total.add(self.record(c).get("usage", {}))
        return total

    def export(self, names: list[str]) -> dict[str, list[str]]:
        """``{"class name": [lines]}`` (CuPL format) for every class with lines."""
        return {names[c]: lines for c, lines in self.all_lines(len(names)).items() if lines}


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


# The fields each kind of store file must have, with their check and what the check asks, for the message.
Fields = dict[str, tuple[Callable[[Any], bool], str]]
CLASS_FIELDS: Fields = {"generated": (_strings, "a list of sentences"), "raw": (_strings, "a list of completions")}
EDIT_FIELDS: Fields = {
    "added": (_strings, "a list of sentences"),
    "deleted": (_strings, "a list of sentences"),
    "replaced": (_string_map, "an object of sentence rewrites"),
}
REMOVAL_FIELDS: Fields = {"removals": (lambda v: isinstance(v, list), "a list of batch removals")}
META_FIELDS: Fields = {"source": (lambda v: isinstance(v, str), "a name"), "settings": (lambda v: isinstance(v, dict), "an object")}


def _read_fields(path: Path, fields: Fields) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(record, None, _) for a sound store file; (None, None, _) when it is missing; (None, what is wrong, readable)
    when it is damaged: unreadable (truncated, not JSON) or read but of the wrong shape (not an object, a field
    missing or of the wrong type)."""
    if not path.is_file():
        return None, None, False
    try:
        data = read_json(path)
    except (OSError, ValueError, RecursionError) as e:
        return None, str(e), False
    if not isinstance(data, dict):
        return None, "not a JSON object", True
    for name, (ok, what) in fields.items():
        if name not in data:
            return None, f"no {name!r} field", True
        if not ok(data[name]):
            return None, f"{name!r} is not {what}", True
    return data, None, True


def _read_checked(path: Path, fields: Fields) -> dict[str, Any] | None:
    """A store file, or None when it is missing or damaged (``_read_fields``); damage is logged."""
    data, problem, _ = _read_fields(path, fields)
    if problem:
        log.warning("%s is damaged (%s); it is ignored (a class is generated again)", path, problem)
    return data


def _read_for_use(path: Path, fields: Fields, fix: str) -> dict[str, Any] | None:
    """``_read_checked``, but a file that reads and has the wrong shape (a hand edit, not a crash) is an error."""
    data, problem, readable = _read_fields(path, fields)
    if problem and readable:
        raise FewShotError(f"{path} has the wrong shape ({problem}). {fix}")
    if problem:
        log.warning("%s is damaged (%s); it is ignored (a class is generated again)", path, problem)
    return data


class DescriptionStore:
    """All description sets under ``<cache>/descriptions`` (``CacheLayout.descriptions``)."""

    def __init__(self, cache_root: CacheLayout | Path | str):
        self.root = CacheLayout.of(cache_root).descriptions

    def open(self, dataset: str, source: str, settings: dict[str, Any]) -> DescriptionSet:
        """The set keyed by dataset, source and settings (model, prompt, sampling); created if new."""
        key = content_key({"dataset": dataset, "source": source, **settings}, 16)
        path = self.root / dataset / f"{source}-{key}"
        if _read_checked(path / "meta.json", META_FIELDS) is None:
            write_json(path / "meta.json", {"dataset": dataset, "source": source, "settings": settings, "created": timestamp()})
        return DescriptionSet(path)

    def list(self, dataset: str) -> list[DescriptionSet]:
        """Every stored set of a dataset, newest first."""
        sets = [DescriptionSet(p.parent) for p in (self.root / dataset).glob("*/meta.json") if _read_checked(p, META_FIELDS)]
        return sorted(sets, key=lambda s: s.meta.get("created", ""), reverse=True)


def description_provenance(path: Path | str) -> dict[str, Any]:
    """``DescriptionSet.provenance`` of a stored set's folder; for a JSON file, what can be known (nothing
    about pruning: ``pruned_by_judge`` and ``pruned_with_labels_per_class`` are None)."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / "meta.json").is_file():
        return DescriptionSet(path).provenance()
    return {
        "description_set": None,
        "source": "file",
        "pruned_by_judge": None,
        "pruned_with_labels_per_class": None,
        "pruned_with_all_training_labels": None,
        "pruning": [],
    }

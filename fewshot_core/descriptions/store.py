"""The description store: generated text saved class by class, user edits kept apart.

``<cache>/descriptions/<dataset>/<key>/`` holds ``meta.json`` (source, model, prompt, sampling
settings), ``classes/NNNN.json`` (the parsed lines, the raw completions and token usage of one class,
written atomically the moment it arrives) and ``edits/NNNN.json`` (lines the user added, deleted or
rewrote). A crash or a cancel loses at most the requests in flight; a re-run skips finished classes;
regenerating one class never touches another class's edits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FewShotError
from ..storage import content_key, read_json, timestamp, write_json

log = logging.getLogger(__name__)


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

    def edits(self, c: int) -> dict[str, Any]:
        """The user's edits of class c: none yet (or an unreadable file, logged): empty lists.

        Raises:
            FewShotError: the file reads but has the wrong shape (a hand edit); it is not overwritten either.
        """
        return _read_for_use(self._class_file("edits", c), EDIT_FIELDS, "Fix it, or delete it to drop those edits.") or {
            "added": [],
            "deleted": [],
            "replaced": {},
        }

    def lines(self, c: int) -> list[str]:
        """The lines in effect for class c: generated, minus deletions, with rewrites, plus additions."""
        e = self.edits(c)
        deleted, replaced = set(e["deleted"]), e["replaced"]
        kept = [replaced.get(line, line) for line in self.record(c)["generated"] if line not in deleted]
        return kept + [line for line in e["added"] if line not in kept]

    def edit(self, c: int, add: list[str] = (), delete: list[str] = (), replace: dict[str, str] | None = None) -> None:
        """Record user edits for class c (kept apart from generated text)."""
        e = self.edits(c)
        for line in add:
            if line.strip() and line.strip() not in e["added"]:
                e["added"].append(line.strip())
        for line in delete:
            if line in e["added"]:
                e["added"].remove(line)
            elif line not in e["deleted"]:
                e["deleted"].append(line)
        e["replaced"].update({k: v.strip() for k, v in (replace or {}).items() if v.strip()})
        write_json(self._class_file("edits", c), e)

    def restore(self, c: int, lines: list[str]) -> None:
        """Undo deletions of class c's lines (the user's edits stay reversible)."""
        e = self.edits(c)
        e["deleted"] = [line for line in e["deleted"] if line not in set(lines)]
        write_json(self._class_file("edits", c), e)

    def all_lines(self, num_classes: int) -> dict[int, list[str]]:
        return {c: self.lines(c) for c in range(num_classes)}

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
    """All description sets under ``<cache>/descriptions``."""

    def __init__(self, cache_root: Path | str):
        self.root = Path(cache_root) / "descriptions"

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

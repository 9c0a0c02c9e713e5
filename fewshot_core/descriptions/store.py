"""The description store: generated text saved class by class, user edits kept apart.

``<cache>/descriptions/<dataset>/<key>/`` holds ``meta.json`` (source, model, prompt, sampling
settings), ``classes/NNNN.json`` (the parsed lines, the raw completions and token usage of one class,
written atomically the moment it arrives) and ``edits/NNNN.json`` (lines the user added, deleted or
rewrote). A crash or a cancel loses at most the requests in flight; a re-run skips finished classes;
regenerating one class never touches another class's edits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage import content_key, read_json, timestamp, write_json

log = logging.getLogger(__name__)


@dataclass
class Usage:
    """Token counts of the requests that produced a set."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: dict[str, int]) -> None:
        self.prompt_tokens += int(other.get("prompt_tokens", 0))
        self.completion_tokens += int(other.get("completion_tokens", 0))


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
        return {int(p.stem) for p in (self.path / "classes").glob("*.json") if p.stem.isdigit() and _read_checked(p) is not None}

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
        record = _read_checked(self._class_file("classes", c), ("generated", "raw"))
        return record if record is not None else {"generated": [], "raw": [], "usage": {}}

    def edits(self, c: int) -> dict[str, Any]:
        edits = _read_checked(self._class_file("edits", c), ("added", "deleted", "replaced"))
        return edits if edits is not None else {"added": [], "deleted": [], "replaced": {}}

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


def _read_checked(path: Path, required: tuple[str, ...] = ("generated", "raw")) -> dict[str, Any] | None:
    """A store file, or None when it is missing or damaged (truncated, not JSON, wrong shape); damage is logged."""
    if not path.is_file():
        return None
    try:
        data = read_json(path)
        if not isinstance(data, dict) or not all(k in data for k in required):
            raise ValueError("missing fields")
    except (OSError, ValueError) as e:
        log.warning("%s is damaged (%s); it is ignored (a class is generated again)", path, e)
        return None
    return data


class DescriptionStore:
    """All description sets under ``<cache>/descriptions``."""

    def __init__(self, cache_root: Path | str):
        self.root = Path(cache_root) / "descriptions"

    def open(self, dataset: str, source: str, settings: dict[str, Any]) -> DescriptionSet:
        """The set keyed by dataset, source and settings (model, prompt, sampling); created if new."""
        key = content_key({"dataset": dataset, "source": source, **settings}, 16)
        path = self.root / dataset / f"{source}-{key}"
        if _read_checked(path / "meta.json", ("source", "settings")) is None:
            write_json(path / "meta.json", {"dataset": dataset, "source": source, "settings": settings, "created": timestamp()})
        return DescriptionSet(path)

    def list(self, dataset: str) -> list[DescriptionSet]:
        """Every stored set of a dataset, newest first."""
        sets = [DescriptionSet(p.parent) for p in (self.root / dataset).glob("*/meta.json") if _read_checked(p, ("source", "settings"))]
        return sorted(sets, key=lambda s: s.meta.get("created", ""), reverse=True)

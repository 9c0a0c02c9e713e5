"""A user's edits of one class's descriptions, kept apart from the generated text and never lossy.

An edits record is ``{"added": [...], "deleted": [...], "replaced": {generated line: its rewrite}}``:

- ``added``: lines the user wrote, in the order written. A rewrite of one changes it in place; a deletion
  never takes it out of this list (it is hidden instead), so every line the user wrote can come back;
- ``deleted``: lines hidden from the lines in effect (generated, rewritten or added ones, by their text);
- ``replaced``: rewrites of generated lines, shown where the generated line was.

The lines in effect are the generated lines (rewritten) in their order, then the added ones, minus the
hidden ones. Undoing a deletion therefore brings a line back exactly where it was, with its rewrite.
"""

from __future__ import annotations

from typing import Any

Edits = dict[str, Any]


def empty_edits() -> Edits:
    """An edits record with no edits."""
    return {"added": [], "deleted": [], "replaced": {}}


def lines_in_effect(generated: list[str], edits: Edits) -> list[str]:
    """Generated lines (with rewrites) in order, then the user's lines, minus the deleted ones; no repeats."""
    hidden, replaced = set(edits["deleted"]), edits["replaced"]
    out: list[str] = []
    for line in generated:
        shown = replaced.get(line, line)
        if line not in hidden and shown not in hidden and shown not in out:
            out.append(shown)
    return out + [line for line in dict.fromkeys(edits["added"]) if line not in hidden and line not in out]


def apply_edits(generated: list[str], edits: Edits, add: list[str] = (), delete: list[str] = (), replace: dict[str, str] | None = None) -> Edits:
    """``edits`` with lines added, deleted (hidden, never erased) and rewritten in place; returns a new record.

    ``replace`` maps a line as it is shown to its new text: a user line is changed where it stands, a
    generated line (or its earlier rewrite) gets the new rewrite. Adding a line that was deleted brings it back.
    """
    e = {"added": list(edits["added"]), "deleted": list(edits["deleted"]), "replaced": dict(edits["replaced"])}
    for old, new in (replace or {}).items():
        _rewrite(generated, e, old, new.strip())
    for line in (x.strip() for x in add):
        if not line:
            continue
        if line in e["deleted"]:
            e["deleted"].remove(line)  # written again: it comes back where it was
        elif line not in e["added"] and line not in lines_in_effect(generated, e):
            e["added"].append(line)
    for line in delete:
        if line not in e["deleted"]:
            e["deleted"].append(line)
    return e


def _rewrite(generated: list[str], e: Edits, old: str, new: str) -> None:
    """Rewrite the line shown as ``old`` in place (an empty rewrite is a deletion)."""
    if not new or new == old:
        if not new and old not in e["deleted"]:
            e["deleted"].append(old)
        return
    if old in e["added"]:
        e["added"][e["added"].index(old)] = new
        return
    for line in generated:
        if e["replaced"].get(line, line) == old:
            if new == line:
                e["replaced"].pop(line, None)  # rewritten back to the generated text
            else:
                e["replaced"][line] = new
            return
    if new not in e["added"]:
        e["added"].append(new)  # the line is gone (regenerated meanwhile): keep the user's text anyway


def undelete(edits: Edits, lines: list[str]) -> Edits:
    """``edits`` with ``lines`` no longer deleted (they come back where they were)."""
    gone = set(lines)
    return {**edits, "deleted": [line for line in edits["deleted"] if line not in gone]}


def table_changes(
    lines: list[str], edited_rows: dict[int, dict[str, Any]], deleted_rows: list[int], added_rows: list[dict[str, Any]], column: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """(added, deleted, rewritten) from a table editor's changes to ``lines`` (rows by index, as st.data_editor
    reports them): an edited row is a rewrite in place, not a deletion plus an addition; emptied rows are deleted."""
    gone = {int(i) for i in deleted_rows}
    delete = [lines[i] for i in sorted(gone) if 0 <= i < len(lines)]
    replace = {}
    for i, row in edited_rows.items():
        i = int(i)
        if i in gone or not 0 <= i < len(lines) or column not in row:
            continue
        new = str(row[column] or "").strip()
        if not new:
            delete.append(lines[i])
        elif new != lines[i]:
            replace[lines[i]] = new
    add = [str(row.get(column) or "").strip() for row in added_rows]
    return [a for a in add if a], delete, replace

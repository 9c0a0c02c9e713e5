"""Typed dataclasses from JSON and back: what makes a job spec file safe to read.

``decode(cls, data, where)`` builds a dataclass from a JSON object, field by field, from its type hints
(``int``, ``float``, ``str``, ``bool``, ``X | None``, ``int | str``, ``list[X]``, nested dataclasses). An
unknown key or a value of the wrong type is one ``FewShotError`` naming the setting (``sweep.shots[1]``), never
a traceback later in the run. A whole number given for a float setting becomes a float, so a spec written by
hand (``"lr": 1``) describes the same run as one written by the app (``"lr": 1.0``).
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any

from .errors import FewShotError

FIX = "Fix it in the file, or leave the setting out to use its default."
_KIND = {bool: "true or false", int: "a whole number", float: "a number", str: "a text", type(None): "null"}


def decode(cls: type, data: Any, where: str, path: str = "") -> Any:
    """A ``cls`` instance from the JSON object ``data``; missing keys take the dataclass defaults. ``where`` names
    the file in errors, ``path`` the setting ``data`` is (empty: the whole spec).

    Raises:
        FewShotError: ``data`` is no object, has a key ``cls`` does not know, or a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise FewShotError(f"{where}: {path or 'the spec'} must be a JSON object of settings (got {_shown(data)}). {FIX}")
    hints = _hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise FewShotError(f"{where}: {path or 'the spec'} has no setting {unknown[0]!r}; its settings are: {', '.join(hints)}. {FIX}")
    return cls(**{name: convert(hints[name], value, where, f"{path}.{name}" if path else name) for name, value in data.items()})


def convert(hint: Any, value: Any, where: str, path: str) -> Any:
    """``value`` (parsed JSON) as the type ``hint`` says, or a FewShotError naming the setting ``path`` in ``where``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return convert(option, value, where, path)
            except FewShotError:
                continue
        raise _wrong(hint, value, where, path)
    if origin is list:
        if not isinstance(value, list):
            raise _wrong(hint, value, where, path)
        return [convert(args[0], item, where, f"{path}[{i}]") for i, item in enumerate(value)]
    if is_dataclass(hint):
        return decode(hint, value, where, path)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (hint is bool) or not isinstance(value, hint):
        raise _wrong(hint, value, where, path)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    """The init fields of a dataclass with their resolved types, in declaration order."""
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in fields(cls) if f.init}


def type_words(hint: Any) -> str:
    """A type in words: ``list[int] | None`` -> "a list of whole numbers, or null"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return ", or ".join(type_words(a) for a in args)
    if origin is list:
        return f"a list of {type_words(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if is_dataclass(hint):
        return "an object of settings"
    return _KIND.get(hint, getattr(hint, "__name__", str(hint)))


def _wrong(hint: Any, value: Any, where: str, path: str) -> FewShotError:
    return FewShotError(f"{where}: the setting {path} must be {type_words(hint)} (got {_shown(value)}). {FIX}")


def _shown(value: Any) -> str:
    """A JSON value as the error shows it (cut short: a spec may hold a long list)."""
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."

"""Reading a scenario YAML file with positions, and checking its fields.

Every complaint is one ``InputError`` naming the file, the line of the key (when
the YAML parser saw one) and the key path (``raids[2].count``), so a user can go
straight to the mistake.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import yaml

from airshield.errors import InputError

_MISSING = object()


def join(path: str, key: str | int) -> str:
    """``raids`` + 2 -> ``raids[2]``; ``raids[2]`` + ``count`` -> ``raids[2].count``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Loader(yaml.SafeLoader):
    """SafeLoader whose node tree we also keep, for the line of every key."""


def load_yaml(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML -> (data, {key path: line}). Syntax errors and duplicate keys
    raise InputError with the line."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1 if e.position is not None else None
        raise InputError(f"YAML syntax error: unacceptable character #x{e.character:04x}",
                         file=file, line=line) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError("empty scenario file", file=file)
        lines: dict[str, int] = {}
        _walk(node, "", lines, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        what = (e.problem or e.context or "syntax error").strip()
        raise InputError(f"YAML syntax error: {what}", file=file, line=line) from None
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1 if e.position is not None else None
        raise InputError(f"YAML syntax error: unacceptable character #x{e.character:04x}",
                         file=file, line=line) from None
    except yaml.YAMLError as e:
        raise InputError(f"YAML error: {e}".splitlines()[0], file=file) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", file=file) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: str, lines: dict[str, int], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = str(k.value)
            sub = join(path, key)
            if key in seen:
                raise InputError("duplicate key", file=file, line=k.start_mark.line + 1, field=sub)
            seen.add(key)
            lines[sub] = k.start_mark.line + 1
            _walk(v, sub, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, join(path, i), lines, file)


class Fields:
    """Checks values of one scenario file; errors carry file, line and key path."""

    def __init__(self, file: str | Path, lines: dict[str, int] | None = None):
        self.file = str(file)
        self.lines = lines or {}

    def error(self, path: str, message: str) -> InputError:
        line = None
        p = path
        while p:  # the key itself, else its nearest parent that the parser saw
            line = self.lines.get(p)
            if line is not None:
                break
            p = p[: max(p.rfind("."), p.rfind("["), 0)]
        return InputError(message, file=self.file, line=line, field=path or None)

    def mapping(self, obj: Any, path: str, allowed: set[str] | tuple, required: tuple = ()) -> dict:
        if not isinstance(obj, dict):
            raise self.error(path, f"expected a mapping, got {_kind(obj)}")
        for k in obj:
            if str(k) not in allowed:
                raise self.error(join(path, str(k)), f"unknown key (expected one of: {', '.join(sorted(allowed))})")
        for k in required:
            if k not in obj or obj[k] is None:
                raise self.error(join(path, k), "missing")
        return obj

    def seq(self, obj: Any, path: str, *, min_len: int = 0) -> list:
        if obj is None:
            obj = []
        if not isinstance(obj, list):
            raise self.error(path, f"expected a list, got {_kind(obj)}")
        if len(obj) < min_len:
            raise self.error(path, f"expected at least {min_len} item{'s' if min_len > 1 else ''}")
        return obj

    def number(self, obj: dict, key: str, path: str, *, default: Any = _MISSING,
               lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> float:
        p = join(path, key)
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                raise self.error(p, "missing")
            return default
        return self.value(obj[key], p, lo=lo, hi=hi, lo_open=lo_open)

    def value(self, v: Any, p: str, *, lo: float = -math.inf, hi: float = math.inf,
              lo_open: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(p, f"expected a number, got {_kind(v)}")
        v = float(v)
        if not math.isfinite(v):
            raise self.error(p, "not a finite number")
        if v < lo or v > hi or (lo_open and v == lo):
            side = "(" if lo_open else "["
            raise self.error(p, f"{v:g} outside {side}{lo:g}, {hi:g}]")
        return v

    def integer(self, obj: dict, key: str, path: str, *, default: Any = _MISSING,
                lo: int = 0, hi: int = 2**63 - 1) -> int:
        p = join(path, key)
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                raise self.error(p, "missing")
            return default
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(p, f"expected an integer, got {_kind(v)}")
        if v < lo or v > hi:
            raise self.error(p, f"{v} outside [{lo}, {hi}]")
        return int(v)

    def string(self, obj: dict, key: str, path: str, *, default: Any = _MISSING,
               choices: tuple[str, ...] | None = None) -> str:
        p = join(path, key)
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                raise self.error(p, "missing")
            return default
        v = obj[key]
        if not isinstance(v, str) or not v.strip():
            raise self.error(p, f"expected a non-empty string, got {_kind(v)}")
        if choices is not None and v not in choices:
            raise self.error(p, f"{v!r} is not one of {', '.join(choices)}")
        return v

    def boolean(self, obj: dict, key: str, path: str, *, default: bool) -> bool:
        v = obj.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.error(join(path, key), f"expected true or false, got {_kind(v)}")
        return v

    def band(self, obj: dict, key: str, path: str, *, lo: float, hi: float,
             default: Any = None) -> tuple[float, float] | None:
        """A number (fixed) or a two-number list [low, high] (drawn uniformly)."""
        p = join(path, key)
        v = obj.get(key)
        if v is None:
            return default
        if isinstance(v, list):
            if len(v) != 2:
                raise self.error(p, "expected a number or a [low, high] pair")
            a = self.value(v[0], join(p, 0), lo=lo, hi=hi)
            b = self.value(v[1], join(p, 1), lo=lo, hi=hi)
            if b < a:
                raise self.error(p, f"low {a:g} is above high {b:g}")
            return (a, b)
        x = self.value(v, p, lo=lo, hi=hi)
        return (x, x)

    def time_s(self, obj: dict, key: str, path: str, epoch: _dt.datetime, *,
               default: float = 0.0) -> float:
        """Seconds after the epoch, given as seconds or as an ISO 8601 time."""
        p = join(path, key)
        v = obj.get(key)
        if v is None:
            return default
        if isinstance(v, (str, _dt.datetime, _dt.date)) and not isinstance(v, bool):
            s = (parse_time(v, self, p) - epoch).total_seconds()
        else:
            s = self.value(v, p)
        if s < 0:
            raise self.error(p, f"{s:g} s is before the scenario epoch")
        return s


def parse_time(v: Any, fields: Fields, path: str) -> _dt.datetime:
    """ISO 8601 (string or YAML timestamp) -> aware UTC datetime. A time without
    a zone is taken as UTC, as the contract's epoch is."""
    if isinstance(v, _dt.datetime):
        d = v
    elif isinstance(v, _dt.date):
        d = _dt.datetime(v.year, v.month, v.day)
    elif isinstance(v, str):
        try:
            d = _dt.datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise fields.error(path, f"{v!r} is not an ISO 8601 time (e.g. 2025-09-09T21:30:00Z)") from None
    else:
        raise fields.error(path, f"expected an ISO 8601 time, got {_kind(v)}")
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.astimezone(_dt.timezone.utc)


def iso_utc(d: _dt.datetime) -> str:
    s = d.astimezone(_dt.timezone.utc).isoformat()
    return s.replace("+00:00", "Z")


def plain(obj: Any) -> Any:
    """YAML data -> JSON-ready data (timestamps become ISO strings)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    if isinstance(obj, _dt.datetime):
        return iso_utc(obj if obj.tzinfo else obj.replace(tzinfo=_dt.timezone.utc))
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    return obj


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)

"""JSON and JSON Lines with errors that name the file, line and field.

orjson is used for speed: a mass raid writes millions of lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from airshield.errors import InputError, Skipped

_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def dumps_line(obj: Any) -> bytes:
    """One JSON Lines record (with its newline)."""
    return orjson.dumps(obj, default=_default, option=_OPTS)


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records, one per line. Returns how many were written."""
    n = 0
    with open(path, "wb") as f:
        buf: list[bytes] = []
        for rec in records:
            buf.append(dumps_line(rec))
            n += 1
            if len(buf) >= 8192:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return n


def write_json(path: str | Path, obj: Any) -> None:
    Path(path).write_bytes(orjson.dumps(obj, default=_default,
                                        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")


def read_json(path: str | Path) -> Any:
    """A whole JSON file; InputError with the line of a syntax error."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", file=p)
    data = p.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        line = data[: e.pos].count(b"\n") + 1 if e.pos is not None else None
        raise InputError(f"malformed JSON ({e.msg})", file=p, line=line) from None


def iter_jsonl(path: str | Path, skipped: list[Skipped] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (line_number, object) for each non-blank line.

    A line that is not a JSON object is never silently dropped: it is appended
    to ``skipped`` when a list is given, otherwise it raises InputError.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", file=p)
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                err = Skipped(str(p), lineno, None, f"malformed JSON ({e.msg})")
                if skipped is None:
                    raise InputError(err.message, file=p, line=lineno) from None
                skipped.append(err)
                continue
            if not isinstance(obj, dict):
                err = Skipped(str(p), lineno, None, "expected a JSON object")
                if skipped is None:
                    raise InputError(err.message, file=p, line=lineno)
                skipped.append(err)
                continue
            yield lineno, obj


def number(obj: dict, key: str, *, required: bool = True, default: float = math.nan,
           lo: float = -math.inf, hi: float = math.inf) -> float:
    """Field ``key`` of ``obj`` as a finite float in [lo, hi]. Raises
    ``KeyError``-free ``ValueError`` with the field name for the caller to wrap."""
    if key not in obj or obj[key] is None:
        if required:
            raise FieldError(key, "missing")
        return default
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FieldError(key, f"expected a number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v):
        raise FieldError(key, "not a finite number")
    if v < lo or v > hi:
        raise FieldError(key, f"{v:g} outside [{lo:g}, {hi:g}]")
    return v


class FieldError(ValueError):
    """A bad field inside one record; the reader adds file and line."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_records(items: list, parse, *, file: str, key: str, noun: str = "a mapping",
                  unique: str | None = None, id_of=None) -> list[tuple[int, Any]]:
    """Parse every mapping of a list (scenario ``assets:``, ``effectors:``,
    sensors.json ``sensors``) with ``parse``. A bad item is a one-line
    InputError naming ``key[i].field``; with ``unique`` (the id's field name),
    a repeated id (``id_of(parsed)``, one or a list per item) is one too.
    Returns (index, parsed) pairs in order."""
    out, seen = [], set()
    for i, obj in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(obj, dict):
            raise InputError(f"expected {noun}", file=file, field=where)
        try:
            row = parse(obj)
        except FieldError as e:
            raise InputError(e.message, file=file, field=f"{where}.{e.field}") from None
        if unique is not None:
            ids = id_of(row)
            for rid in ids if isinstance(ids, list) else [ids]:
                if rid in seen:
                    raise InputError(f"duplicate {key.rstrip('s')} {unique} {rid!r}", file=file,
                                     field=f"{where}.{unique}")
                seen.add(rid)
        out.append((i, row))
    return out

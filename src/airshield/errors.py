"""Errors that reach the user as one line: where (file, line, field) and what."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class InputError(Exception):
    """Bad outside input. Rendered as ``file:line: field: message``.

    The CLI prints ``str(err)`` on stderr and exits with code 2.
    """

    message: str
    file: str | Path | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
        parts = [p for p in (where, self.field) if p]
        return ": ".join(parts + [self.message])


@dataclass
class Skipped:
    """A record that was read but not used, with why. Never silently dropped:
    readers collect these and the CLI reports them."""

    file: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        f = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {f}{self.message}"

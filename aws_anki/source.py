"""Where a fact is written: `Source(path, line)`, a notes-relative file path and a 1-based line.

A value, never a "path:line" string to split again; `str(source)` is that string, as cards (the
Source field), reports and `inspect` show it.
"""
from __future__ import annotations

from typing import NamedTuple


class Source(NamedTuple):
    """A place in the notes (a tuple: a big vault makes hundreds of thousands)."""

    path: str  # relative to the notes root, `/`-separated
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

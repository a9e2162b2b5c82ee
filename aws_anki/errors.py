"""One exception hierarchy and the warning record every stage reports through."""
from __future__ import annotations

from dataclasses import dataclass


class AwsAnkiError(Exception):
    """Base class of every error aws_anki raises on purpose."""


class InputError(AwsAnkiError):
    """The notes given cannot be read at all (no such path, no Markdown files)."""


class PackageError(AwsAnkiError):
    """The deck could not be written."""


@dataclass(frozen=True)
class BuildWarning:
    """Something a build skipped or repaired, with where it happened and what to do."""

    path: str
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message} [{self.code}]"

"""One exception hierarchy and the warning record every stage reports through."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Control characters (a terminal obeys ESC sequences, BEL rings) and lone surrogates (the bytes of
# a file name that is not UTF-8, which cannot even be printed).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def printable(text: str) -> str:
    """`text` with control characters and undecodable bytes written as `\\xNN`, safe for a terminal."""
    return _UNPRINTABLE.sub(_escaped, text) if _UNPRINTABLE.search(text) else text


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"


class AwsAnkiError(Exception):
    """Base class of every error aws_anki raises on purpose."""


class InputError(AwsAnkiError):
    """The notes given cannot be read at all (no such path, no Markdown files)."""


class PackageError(AwsAnkiError):
    """An output (the deck, its state, the preview page) could not be written."""


class OutputError(PackageError):
    """An output path is refused before anything is written: it would replace a note or an input."""


@dataclass(frozen=True)
class BuildWarning:
    """Something a build skipped or repaired, with where it happened and what to do."""

    path: str
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return printable(f"{where}: {self.message} [{self.code}]")

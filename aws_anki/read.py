"""Read stage: turn scanned note files into text: decoded, cleaned, bullets and icons as Markdown,
YAML front matter split off.

Nothing here raises for a bad file: every problem becomes a ``BuildWarning`` and the other files
are still read. Finding the files and reading their bytes is `scan` (all the up-to-date check
needs: see ``aws_anki.uptodate``); bytes to clean text is `decode`; front matter is `frontmatter`.

Consumers should split ``SourceFile.text`` on ``"\\n"`` only (not ``str.splitlines``, which also
breaks on form feeds and U+2028) so that line N of the text is line N of the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .decode import clean_text, decode_bytes
from .errors import BuildWarning
from .frontmatter import EMPTY_METADATA, split_front_matter
from .bullets import text_bullets_to_markdown
from .glyphs import icon_words
from .scan import Scan, ScannedFile, relative_path, scan_file, scan_sources

__all__ = ["ReadResult", "SourceFile", "decode_sources", "read_source", "read_sources"]

@dataclass(frozen=True)
class SourceFile:
    """One decoded note file, ready for the parse stage."""

    path: Path
    rel_path: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: EMPTY_METADATA, hash=False)
    content_hash: str = ""
    mtime: float = 0.0


@dataclass(frozen=True)
class ReadResult:
    """The files read, sorted by ``rel_path``, and what went wrong on the way."""

    files: tuple[SourceFile, ...]
    warnings: tuple[BuildWarning, ...]
    excluded: tuple[str, ...] = ()  # notes-relative paths left out by patterns (folders end in "/")


def read_sources(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> ReadResult:
    """Find and read every Markdown file under ``paths`` but those ``exclude`` patterns (gitignore
    syntax) or a notes root's `.aws-anki-ignore` leave out; raise InputError for a missing path."""
    return decode_sources(scan_sources(paths, exclude))


def decode_sources(scan: Scan) -> ReadResult:
    """Decode the files of a scan: the text of each, sorted by ``rel_path``, and every warning."""
    files: list[SourceFile] = []
    warnings: list[tuple[str, BuildWarning]] = []
    for scanned in scan.files:
        source, file_warnings = _decode_file(scanned)
        if source is not None:
            files.append(source)
        warnings.extend((scanned.rel_path, w) for w in file_warnings)
    files.sort(key=lambda s: (s.rel_path, str(s.path)))
    warnings.sort(key=lambda item: item[0])  # stable: a file's own warnings keep their order
    return ReadResult(files=tuple(files), warnings=scan.warnings + tuple(w for _, w in warnings), excluded=scan.excluded)


def read_source(path: Path, root: Path) -> tuple[SourceFile | None, tuple[BuildWarning, ...]]:
    """Read one note file; return None with a warning when it is skipped."""
    path = Path(os.path.abspath(path))
    return _decode_file(scan_file(path, relative_path(path, Path(os.path.abspath(root)))))


def _decode_file(scanned: ScannedFile) -> tuple[SourceFile | None, tuple[BuildWarning, ...]]:
    """Decode one scanned file; return None with a warning when it is skipped."""
    rel_path = scanned.rel_path

    def warn(code: str, message: str, line: int | None = None) -> BuildWarning:
        return BuildWarning(path=rel_path, line=line, code=code, message=message)

    raw = scanned.raw
    if raw is None:
        return None, (warn("unreadable", scanned.error),)
    decoded = decode_bytes(raw)
    if decoded.text is None:
        return None, (warn(decoded.warning_code or "binary", decoded.message or "", decoded.line),)
    warnings: list[BuildWarning] = []
    if decoded.warning_code is not None:
        warnings.append(warn(decoded.warning_code, decoded.message or "", decoded.line))
    text = decoded.text
    if text.startswith("\ufeff"):  # a second byte-order mark, left by some editors
        text = text.lstrip("\ufeff")
    if not text or text.isspace():
        return None, (warn("empty", "file is empty or blank; skipped. Write some notes in it or delete it."),)
    text, changes = clean_text(text, raw if decoded.from_utf8 else None)
    warnings.extend(warn(code, message, line) for code, message, line in changes)
    # Bullets typed as glyphs (`•`, `o`) become Markdown lists; emoji go, check marks become words.
    text = text_bullets_to_markdown(text)
    if not text.isascii():
        text = icon_words(text)
    metadata: Mapping[str, Any] = EMPTY_METADATA
    if text.startswith("---"):
        text, metadata, front_warnings, body_empty = split_front_matter(text, warn)
        warnings.extend(front_warnings)
        if body_empty:
            warnings.append(warn(
                "empty",
                "file has only front matter and no notes; skipped. "
                "Write notes below the closing '---' or delete the file.",
            ))
            return None, tuple(warnings)
    source = SourceFile(scanned.path, rel_path, text, metadata, scanned.content_hash, scanned.mtime)
    return source, tuple(warnings)

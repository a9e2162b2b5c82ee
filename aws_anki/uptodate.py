"""Up-to-date check: a rebuild whose inputs, options and code are those of the deck on disk does nothing.

After writing a deck, a build records in the cache folder (one small file per output path):

- a digest of everything that decides the deck: each note file's path and content hash, what went
  wrong reading files, the build options, the aws_anki code and templates (`package_fingerprint`);
- every image lookup the notes made (reference, file, line, package name or None);
- the size and modification time of the deck and of its build state, as written;
- the build's report, and the GUIDs it wrote.

The next build with the same output reads the files (it must, to hash them), and if the digest,
every image lookup, the deck and the build state all match, it reports what the record says instead
of parsing, making notes and packaging again. Anything else (a record missing, corrupt, for other
inputs, a deck or state file touched since) means a full build. Like the per-file cache, the record
is never trusted beyond what it can check, and is only used with the cache and the build state on.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .cache import package_fingerprint
from .read import ReadResult

__all__ = ["Record", "file_stamp", "forget", "inputs_digest", "load_record", "lookups_of", "record_path", "save_record"]

RECORD_VERSION = 1
_FOLDER = f"builds-v{RECORD_VERSION}"

# (notes-relative file, image reference, line, package name or None)
Lookup = tuple[str, str, int, "str | None"]


@dataclass(frozen=True)
class Record:
    """What the last build into one output path was made from and what it wrote."""

    digest: str
    lookups: tuple[Lookup, ...]
    deck: tuple[int, int]  # (size, mtime_ns) of the .apkg as written
    state: tuple[int, int]  # the same for its .lock.json
    report: dict[str, Any]  # BuildReport.as_dict(), with warnings as [path, line, code, message]
    guids: tuple[str, ...]
    media: int

    def current(self, digest: str, deck: Path, state: Path, resolve: Callable[[str, str, int], str | None]) -> bool:
        """Whether a build of `digest` into `deck` would write what is there (images looked up again)."""
        return (
            digest == self.digest
            and file_stamp(deck) == self.deck
            and file_stamp(state) == self.state
            and all(resolve(target, source, line) == name for source, target, line, name in self.lookups)
        )


def inputs_digest(read: ReadResult, options: str) -> str:
    """A hash of the note files (path and content), the read warnings, `options` and the code."""
    digest = hashlib.sha256(f"{package_fingerprint()}\0{options}\0".encode())
    for source in read.files:
        digest.update(f"{source.path}\0{source.rel_path}\0{source.content_hash}\0".encode("utf-8", "surrogatepass"))
    for warning in read.warnings:
        digest.update(f"{warning}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a file, or (-1, -1) when it is missing."""
    try:
        info = path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


def record_path(cache_dir: Path, deck: Path) -> Path:
    """Where the record for the deck at `deck` lives."""
    key = hashlib.sha256(str(deck.resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir / _FOLDER / f"{key}.json"


def load_record(cache_dir: Path, deck: Path) -> Record | None:
    """The record of the last build into `deck`, or None if there is none that reads back whole."""
    try:
        raw = json.loads(record_path(cache_dir, deck).read_text(encoding="utf-8"))
        if raw["version"] != RECORD_VERSION or raw["deck_path"] != str(deck.resolve()):
            return None
        return Record(
            digest=str(raw["digest"]),
            lookups=tuple((str(s), str(t), int(n), None if m is None else str(m)) for s, t, n, m in raw["lookups"]),
            deck=(int(raw["deck"][0]), int(raw["deck"][1])),
            state=(int(raw["state"][0]), int(raw["state"][1])),
            report=dict(raw["report"]),
            guids=tuple(str(g) for g in raw["guids"]),
            media=int(raw["media"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def save_record(cache_dir: Path, deck: Path, record: Record) -> None:
    """Store the record atomically; a cache folder that cannot be written only costs speed."""
    target = record_path(cache_dir, deck)
    data = {
        "version": RECORD_VERSION,
        "deck_path": str(deck.resolve()),
        "digest": record.digest,
        "lookups": [list(lookup) for lookup in record.lookups],
        "deck": list(record.deck),
        "state": list(record.state),
        "report": record.report,
        "guids": list(record.guids),
        "media": record.media,
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(prefix=".record-", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False, separators=(",", ":"))
            os.replace(staged, target)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def forget(cache_dir: Path, deck: Path) -> None:
    """Drop the record of `deck` (before writing it: a failed write must not look up to date)."""
    record_path(cache_dir, deck).unlink(missing_ok=True)


def lookups_of(per_file: Sequence[Any]) -> tuple[Lookup, ...]:
    """Every image lookup of a build's `FileNotes`, with the file it was made for."""
    return tuple((f.source, target, line, name) for f in per_file for target, line, name in f.media)

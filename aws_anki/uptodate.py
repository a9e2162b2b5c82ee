"""Up-to-date check: a rebuild whose inputs, options and code are those of the deck on disk does nothing.

After writing a deck, a build records in the cache folder (a small header per output path):

- a digest of everything that decides the deck: each note file's path and content hash, what went
  wrong finding and reading files, the build options, the aws_anki code and templates
  (`code_fingerprint`);
- every image lookup the notes made (reference, file, line, package name or None);
- the size and modification time of the deck and of its build state, as written;
- the build's report and the GUIDs of the deck's notes.

The next build with the same output reads the files' bytes (it must, to hash them; it does not
decode them: `read.scan_sources`), and if the digest, every image lookup, the deck and the build
state all match, it reports what the header says instead of decoding, parsing, making notes and
packaging again. Anything else (a header missing, corrupt, for other inputs, a deck or state file
touched since) means a full build. Like the per-file cache, the record is signed with the user's key
(`cache.signing_key`: a record aws-anki did not write is no record), never trusted beyond what it can
check, and only used with the cache and the build state on.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import code_fingerprint, sign, signing_key, tag_folder, verified, write_atomic
from . import models
from .scan import Scan
from .report import BuildReport

__all__ = [
    "Record", "file_stamp", "forget", "inputs_digest", "load_record", "lookups_of", "record_path", "save_record",
    "setup_digest",
]

RECORD_VERSION = 4
# The folder keeps its name across record versions: an old record in it reads as no record, and the
# next build overwrites it instead of leaving it behind.
_FOLDER = "builds-v1"

# (notes-relative file, image reference, line, package name or None)
Lookup = tuple[str, str, int, "str | None"]


@dataclass(frozen=True)
class Record:
    """What the last build into one output path was made from and what it wrote."""

    digest: str
    lookups: tuple[Lookup, ...]
    deck: tuple[int, int]  # (size, mtime_ns) of the .apkg as written
    state: tuple[int, int]  # the same for its .lock.json
    report: BuildReport  # the last build's counts and warnings (not its timings or quality measures)
    guids: tuple[str, ...]  # of every note in the deck
    media: int

    def current(self, digest: str, deck: Path, state: Path, resolve: Callable[[str, str, int], str | None]) -> bool:
        """Whether a build of `digest` into `deck` would write what is there (images looked up again)."""
        return (
            digest == self.digest
            and self._untouched(deck, state)
            and all(resolve(target, source, line) == name for source, target, line, name in self.lookups)
        )

    def _untouched(self, deck: Path, state: Path) -> bool:
        """Whether the deck and its state file are as this build wrote them."""
        return file_stamp(deck) == self.deck and file_stamp(state) == self.state


def setup_digest(scan: Scan, options: str) -> str:
    """A hash of what decides a deck but the note files' paths and contents: the code, the note
    types' templates and CSS, `options`, what went wrong finding files, and which could not be read."""
    digest = hashlib.sha256(_setup(options).encode())
    for file in scan.files:
        if file.error:
            digest.update(f"{file.path}\0{file.rel_path}\0{file.error}\0".encode("utf-8", "surrogatepass"))
    for warning in scan.warnings:
        digest.update(f"{warning}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def inputs_digest(scan: Scan, setup: str) -> str:
    """A hash of everything that decides a deck: `setup` (`setup_digest` of the scan and options)
    and the note files (path and bytes, or why they could not be read). The files are hashed before
    decoding: what decoding makes of them (text and warnings) follows from their bytes and the code."""
    digest = hashlib.sha256(setup.encode())
    for file in scan.files:
        digest.update(f"{file.path}\0{file.rel_path}\0{file.content_hash}\0{file.error}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _setup(options: str) -> str:
    return f"{code_fingerprint()}\0{models.basic_type().fingerprint} {models.cloze_type().fingerprint}\0{options}\0"


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
        signed = verified(signing_key(), record_path(cache_dir, deck).read_bytes())
        if signed is None:
            return None
        raw = json.loads(signed)
        if raw["version"] != RECORD_VERSION or raw["deck_path"] != str(deck.resolve()):
            return None
        guids = tuple(raw["guids"])
        "".join(guids)  # TypeError unless strings
        return Record(
            digest=str(raw["digest"]),
            lookups=tuple((str(s), str(t), int(n), None if m is None else str(m)) for s, t, n, m in raw["lookups"]),
            deck=(int(raw["deck"][0]), int(raw["deck"][1])),
            state=(int(raw["state"][0]), int(raw["state"][1])),
            report=BuildReport.from_record(raw["report"]),
            guids=guids,
            media=int(raw["media"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):  # a damaged file is no record
        return None


def save_record(cache_dir: Path, deck: Path, record: Record) -> None:
    """Store the record atomically; a cache folder that cannot be written only costs speed."""
    header = {
        "version": RECORD_VERSION,
        "deck_path": str(deck.resolve()),
        "digest": record.digest,
        "lookups": [list(lookup) for lookup in record.lookups],
        "deck": list(record.deck),
        "state": list(record.state),
        "report": record.report.as_record(),
        "guids": list(record.guids),
        "media": record.media,
    }
    path = record_path(cache_dir, deck)
    try:
        tag_folder(path.parent)
        write_atomic(path, sign(signing_key(), _dumps(header)))
    except OSError:
        pass


def _dumps(data: Any) -> bytes:
    # ASCII, so that paths with undecodable bytes (lone surrogates) round-trip; dump() encodes in Python.
    return json.dumps(data, separators=(",", ":")).encode("ascii")


def forget(cache_dir: Path, deck: Path) -> None:
    """Drop the record of `deck` (before writing it: a failed write must not look up to date)."""
    record_path(cache_dir, deck).unlink(missing_ok=True)


def lookups_of(per_file: Sequence[Any]) -> tuple[Lookup, ...]:
    """Every image lookup of a build's `FileNotes`, with the file it was made for."""
    return tuple((f.source, target, line, name) for f in per_file for target, line, name in f.media)

"""Up-to-date check: a rebuild whose inputs, options and code are those of the deck on disk does nothing.

After writing a deck, a build records in the cache folder (one small file per output path):

- a digest of everything that decides the deck: each note file's path and content hash, what went
  wrong reading files, the build options, the aws_anki code and templates (`package_fingerprint`);
- every image lookup the notes made (reference, file, line, package name or None);
- the size and modification time of the deck and of its build state, as written;
- the build's report, and the notes it wrote (GUID, note ID and a digest of each row).

It also keeps the deck's uncompressed collection next to the record. A build that is not up to
date updates that collection in place (only the notes whose rows differ: see
`package.write_package`) when the deck, its state and the collection are all as the last
build left them; otherwise it writes a new one.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import package_fingerprint
from .read import ReadResult

if TYPE_CHECKING:
    from .package import KeptCollection

__all__ = [
    "Record", "file_stamp", "forget", "inputs_digest", "kept_path", "load_record", "lookups_of", "record_path", "save_record",
]

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
    notes: Mapping[str, tuple[int, str]]  # guid -> (note ID, row digest) in the kept collection
    media: int
    layout: str = ""  # decks and note types of the kept collection (package.KeptCollection)
    collection: tuple[int, int] = (-1, -1)  # (size, mtime_ns) of the kept collection as left
    kept_at: str = ""  # where the collection is kept

    def kept(self, deck: Path, state: Path) -> KeptCollection | None:
        """The collection the last build kept, if it is still the one inside `deck` (whose state
        file is `state`): nothing has touched the deck, the state or the collection since."""
        from .package import KeptCollection

        kept = Path(self.kept_at)
        if self.kept_at and self.layout and self._untouched(deck, state) and file_stamp(kept) == self.collection:
            return KeptCollection(kept, self.notes, self.layout)
        return None

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


def inputs_digest(read: ReadResult, options: str) -> str:
    """A hash of the note files (path and content), the read warnings, `options`, the code and
    the note types' templates and CSS."""
    from .models import basic_type, cloze_type

    models = f"{basic_type().fingerprint} {cloze_type().fingerprint}"
    digest = hashlib.sha256(f"{package_fingerprint()}\0{models}\0{options}\0".encode())
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


def kept_path(cache_dir: Path, deck: Path) -> Path:
    """Where the uncompressed collection of the deck at `deck` is kept between builds."""
    return record_path(cache_dir, deck).with_suffix(".anki2")


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
            notes=_kept_notes(raw["notes"]),
            media=int(raw["media"]),
            layout=str(raw["layout"]),
            collection=(int(raw["collection"][0]), int(raw["collection"][1])),
            kept_at=str(raw["kept_at"]),
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
        # Three parallel lists: JSON of lists of plain values is encoded and decoded in C.
        "notes": {
            "guid": list(record.notes),
            "id": [nid for nid, _ in record.notes.values()],
            "digest": [digest for _, digest in record.notes.values()],
        },
        "media": record.media,
        "layout": record.layout,
        "collection": list(record.collection),
        "kept_at": record.kept_at,
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(prefix=".record-", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))  # dump() encodes in Python
            os.replace(staged, target)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def _kept_notes(raw: dict[str, list[Any]]) -> dict[str, tuple[int, str]]:
    guids, ids, digests = raw["guid"], raw["id"], raw["digest"]
    if not (len(guids) == len(ids) == len(digests)):
        raise ValueError("notes of the wrong shape")
    "".join(guids) + "".join(digests)  # TypeError unless strings
    if not all(type(i) is int for i in ids):
        raise ValueError("note IDs must be integers")
    return dict(zip(guids, zip(ids, digests)))


def forget(cache_dir: Path, deck: Path) -> None:
    """Drop the record of `deck` (before writing it: a failed write must not look up to date)."""
    record_path(cache_dir, deck).unlink(missing_ok=True)


def lookups_of(per_file: Sequence[Any]) -> tuple[Lookup, ...]:
    """Every image lookup of a build's `FileNotes`, with the file it was made for."""
    return tuple((f.source, target, line, name) for f in per_file for target, line, name in f.media)

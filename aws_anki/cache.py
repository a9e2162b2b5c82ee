"""Per-file cache of parse, extract and notes results, so a rebuild only works on the files that changed.

An entry holds one file's `FileNotes` (its notes before merging across files, and what the report
needs of its facts). There is one slot per note file (its path), so editing a file replaces its
entry instead of adding one and the cache does not grow with edits. An entry is valid only for the
content it was made from (`SourceFile.content_hash`, SHA-256 of the file's bytes, and its
notes-relative path), for the note options it was made with (deck, tags, reverse cards), and for
the aws_anki code that wrote it: every entry records a fingerprint of the modules the read, parse,
extract and notes stages use, the package data, and the libraries whose output ends up in notes
(mistune, nh3, Pygments...). The images a file's notes use are looked up again on every build
(`FileNotes.media`), so an image changed on disk is never served from the cache. An entry is never
trusted:

- every entry is signed (HMAC-SHA256) with a secret key kept outside the cache folder
  (`signing_key`: in the user data folder, or `AWS_ANKI_DATA_DIR`), and its signature is checked
  before its body is decoded: an entry this user's aws-anki did not write (crafted, copied from
  elsewhere, in a cache folder others can write) is a miss, so every note served from the cache
  went through the HTML sanitiser when it was made, and no crafted body reaches `marshal` (whose
  declared sizes are allocated before they are read: 5 bytes can ask for 16 GiB);
- a missing, unreadable, truncated or corrupt entry (its signature does not match), one written by
  other code (different fingerprint) or for another file is a miss; the file is parsed again and
  the entry rewritten;
- writes are atomic (a temporary file in the same folder, then `os.replace`), so a crash or a
  concurrent build leaves either the old entry or the new one, never half of one.

An entry is its signature (hex, one line), a one-line JSON header (what it is for) and a body in
`marshal` format (see `encode_notes`), which reads several times faster than JSON. Not pickle: loading
marshal data calls no function and runs no code, so a cache folder someone else can write to can at
worst give wrong cards for a file, never run code; and the body's values are checked to be of the
expected types before they become notes, so an entry of the wrong shape is a miss.

Only the folders aws_anki makes here (`notes-v3/`, `builds-v1/`) are written, each tagged as its own
with a `CACHEDIR.TAG` (the Cache Directory Tagging convention, which backup tools honour); only a
tagged folder of an older format is ever deleted, so a cache folder that also holds the user's
files (`--cache-dir .`) loses none of them.

Where: `AWS_ANKI_CACHE_DIR` if set, else the user cache folder (`platformdirs`, e.g.
`~/.cache/aws-anki` on Linux); `RunOptions(cache_dir=...)` and `aws-anki build --cache-dir` override
both, `RunOptions(use_cache=False)` / `--no-cache` turn it off.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import marshal
import os
import shutil
import sys
import tempfile
from functools import cache, partial
from itertools import chain, starmap
from operator import attrgetter, itemgetter
from pathlib import Path
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from platformdirs import user_cache_dir

from .errors import BuildWarning
from .source import Source

if TYPE_CHECKING:  # the stages are imported when an entry is read or written: see decode_notes
    from .notes import FileNotes
    from .read import SourceFile

__all__ = ["CACHE_DIR_ENV", "DATA_DIR_ENV", "NotesCache", "code_fingerprint", "default_cache_dir", "signing_key"]

CACHE_DIR_ENV = "AWS_ANKI_CACHE_DIR"
DATA_DIR_ENV = "AWS_ANKI_DATA_DIR"  # where the signing key is kept (default: the user data folder)
FORMAT = 4
ENTRY_SUFFIX = ".entry"
_MARSHAL_VERSION = 4  # the format marshal writes since Python 3.4
# The folder keeps its name across entry formats: an older entry in it reads as a miss and is
# overwritten, instead of a new folder leaving the old one behind.
_ENTRY_FOLDER = "notes-v3"
_KEY_FILE = "cache-key"
_KEY_BYTES = 32
TAG_FILE = "CACHEDIR.TAG"
# The Cache Directory Tagging signature (https://bford.info/cachedir/), then what made the folder.
_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# This folder is a cache made by aws-anki; it may be deleted.\n"
# Libraries whose behaviour shapes an Extraction (tokens, sanitised and highlighted HTML).
_LIBRARIES = ("mistune", "nh3", "pygments", "yaml", "ftfy")
_PACKAGE = Path(__file__).resolve().parent


def default_cache_dir() -> Path:
    """`AWS_ANKI_CACHE_DIR`, else the user cache folder of aws-anki."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(user_cache_dir("aws-anki", appauthor=False))


def signing_key() -> bytes:
    """The secret key this user's aws-anki signs its cache entries and build records with, kept
    outside any cache folder: `AWS_ANKI_DATA_DIR/cache-key`, else in the user data folder
    (e.g. `~/.local/share/aws-anki`). Made (private to the user) on first use; where it cannot be
    kept, a new one for this process (the cache then only costs a slower next build)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        folder = Path(configured).expanduser()
    else:
        from platformdirs import user_data_dir  # ~10 ms: only when AWS_ANKI_DATA_DIR is not set

        folder = Path(user_data_dir("aws-anki", appauthor=False))
    return _key_at(folder / _KEY_FILE)


@cache
def _key_at(path: Path) -> bytes:
    """The key kept at `path`, made there if missing or damaged."""
    try:
        key = path.read_bytes()
        if len(key) == _KEY_BYTES:
            return key
    except OSError:
        pass
    key = os.urandom(_KEY_BYTES)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, key)  # mkstemp: private to the user (0600)
    except OSError:
        pass
    return key


def sign(key: bytes, data: bytes) -> bytes:
    """`data` preceded by its signature line (HMAC-SHA256 under `key`, hex)."""
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii") + b"\n" + data


def verified(key: bytes, raw: bytes) -> bytes | None:
    """The data of `raw` (as `sign` made it) if its signature is right under `key`, else None."""
    mark, newline, data = raw.partition(b"\n")
    if not newline:
        return None
    expected = hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")
    return data if hmac.compare_digest(mark, expected) else None


def tag_folder(folder: Path) -> None:
    """Mark `folder` as a cache aws-anki made (a `CACHEDIR.TAG` in it), making it if needed."""
    tag = folder / TAG_FILE
    if not tag.is_file():
        write_atomic(tag, _TAG)


def is_tagged(folder: Path) -> bool:
    """Whether `folder` is a real folder (not a link) that aws-anki tagged as its own."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        tag = folder / TAG_FILE
        return not tag.is_symlink() and tag.is_file() and tag.read_bytes() == _TAG
    except OSError:
        return False


@cache
def code_fingerprint() -> str:
    """A hash of everything that can decide what a build makes of a file: every module of this
    package (sub-packages included: following imports would miss a module that a moved stage
    reaches in a way the follower does not see, and serve stale notes), the package's data files,
    and the installed libraries (size and modification time of each one's `__init__`: an upgrade
    rewrites it). The up-to-date check uses it too (see `aws_anki.uptodate`)."""
    digest = hashlib.sha256(f"format {FORMAT} python {sys.version_info[:2]} marshal {_MARSHAL_VERSION}\n".encode())
    for library in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(library)
            origin = spec.origin if spec is not None else None
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            info = None
        stamp = f"{origin} {info.st_size} {info.st_mtime_ns}" if info else "-"
        digest.update(f"{library} {stamp}\n".encode())
    files = sorted(_PACKAGE.rglob("*.py")) + sorted(p for p in (_PACKAGE / "data").rglob("*") if p.is_file())
    for path in files:
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


class NotesCache:
    """The entries in one cache folder, for one code fingerprint."""

    def __init__(self, directory: str | Path | None = None, *, fingerprint: str | None = None, key: bytes | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.fingerprint = fingerprint or code_fingerprint()
        self.key = key or signing_key()
        self.hits = 0
        self.misses = 0
        self._tagged = False

    def path_for(self, source: SourceFile) -> Path:
        """Where the entry of `source` lives (one slot per file; the header says for which content)."""
        key = hashlib.sha256(f"{source.path}\0{source.rel_path}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.directory / _ENTRY_FOLDER / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def get(self, source: SourceFile, variant: str = "") -> FileNotes | None:
        """The cached notes of `source` made with `variant` (the note options), or None."""
        found = self._load(source, variant) if source.content_hash else None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _load(self, source: SourceFile, variant: str) -> FileNotes | None:
        try:
            signed = verified(self.key, self.path_for(source).read_bytes())
        except OSError:
            return None
        if signed is None:  # damaged, or not written by this user's aws-anki: never decoded
            return None
        header_end = signed.find(b"\n")
        if header_end < 0:
            return None
        try:
            header = json.loads(signed[:header_end])
            body = signed[header_end + 1 :]
            if not (
                isinstance(header, dict)
                and header.get("format") == FORMAT
                and header.get("fingerprint") == self.fingerprint
                and header.get("path") == source.rel_path
                and header.get("content_hash") == source.content_hash
                and header.get("variant") == variant
            ):
                return None
            found = decode_notes(body)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError, RecursionError):
            return None
        return found if found.source == source.rel_path else None

    def prune_old_formats(self) -> None:
        """Delete the entries older versions of aws_anki left here in formats this one cannot read
        (`notes-v1`, `notes-v2`...): after an upgrade they would only take up space (224 MB for a
        45 MB vault). Only folders tagged as aws-anki's own (`is_tagged`) are deleted: one of the
        user's that happens to have such a name is left alone. Never raises."""
        try:
            old = [p for p in self.directory.glob("notes-v*") if p.name != _ENTRY_FOLDER]
        except OSError:
            return
        for folder in old:
            if folder.name[len("notes-v"):].isdigit() and is_tagged(folder):
                shutil.rmtree(folder, ignore_errors=True)

    def put(self, source: SourceFile, notes: FileNotes, variant: str = "") -> bool:
        """Store the notes of `source` atomically; False when they cannot be cached (never raises)."""
        if not source.content_hash:
            return False
        try:
            body = encode_notes(notes)
        except ValueError:  # a value marshal cannot write
            return False
        header = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "path": source.rel_path,
            "content_hash": source.content_hash,
            "variant": variant,
        }
        try:
            if not self._tagged:
                tag_folder(self.directory / _ENTRY_FOLDER)
                self._tagged = True
            write_atomic(self.path_for(source), sign(self.key, json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + body))
        except OSError:
            return False  # a read-only or full disk makes a slower build, not a failed one
        return True


def write_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` (making its folder) through a temporary file beside it and a rename:
    readers see the old file or the new one, never part of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staged = tempfile.mkstemp(prefix=".aws-anki-", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staged, target)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


# An entry's body is `marshal` of plain tuples: a FileNotes is
# (source, notes, warnings, unresolved, facts, skipped, media), a note is its 15 values in field
# order, a warning (path, line, code, message) and a `Source` (path, line): marshal writes no
# subclass of tuple. marshal keeps tuples, the sharing of strings many
# notes hold (context, tags, deck) and their interning, and reads 300,000 notes in a fraction of
# the time JSON takes.
_NOTE_FIELDS = ("guid", "note_type", "kind", "fields", "tags", "deck", "service", "category", "context", "source",
                "merged_sources", "identity", "content_hash", "media", "cards")
_STRINGS = itemgetter(0, 1, 2, 5, 6, 7, 8, 11, 12)
_STRING_TUPLES = itemgetter(3, 4, 13)
_SOURCE, _MERGED_SOURCES = itemgetter(9), itemgetter(10)
_CARDS = itemgetter(14)
_BEFORE_SOURCE = attrgetter(*_NOTE_FIELDS[:9])
_AFTER_SOURCES = attrgetter(*_NOTE_FIELDS[11:])
_PATH, _LINE = itemgetter(0), itemgetter(1)
_as_source = partial(tuple.__new__, Source)  # a checked (path, line) pair as a Source, without Python-level __new__


def encode_notes(notes: FileNotes) -> bytes:
    """The body of an entry (ValueError if `notes` holds a value marshal cannot write)."""
    body = (
        notes.source,
        tuple(
            (*_BEFORE_SOURCE(note), tuple(note.source), tuple(map(tuple, note.merged_sources)), *_AFTER_SOURCES(note))
            for note in notes.notes
        ),
        tuple((w.path, w.line, w.code, w.message) for w in notes.warnings),
        tuple(map(tuple, notes.unresolved)),
        notes.facts,
        notes.skipped,
        notes.media,
    )
    return marshal.dumps(body, _MARSHAL_VERSION)


def decode_notes(body: bytes) -> FileNotes:
    """A FileNotes from an entry's body; ValueError or TypeError unless every value has its type.

    The checks over notes are C calls over the whole file (`str.join` raises TypeError on anything
    but a string), not a loop per value: a build decodes every note of every unchanged file."""
    from .notes import CardNote, FileNotes  # ~50 ms: an up-to-date build imports this module, never this

    value = marshal.loads(body)
    if type(value) is not tuple or len(value) != 7:
        raise ValueError("not a FileNotes entry")
    source, notes, warnings, unresolved, facts, skipped, media = value
    _types((notes, warnings, unresolved, skipped, media), tuple)
    _types(notes, tuple)
    if set(map(len, notes)) - {len(_NOTE_FIELDS)}:
        raise ValueError("a note of the wrong shape")
    "".join(chain.from_iterable(map(_STRINGS, notes)))
    string_tuples = list(chain.from_iterable(map(_STRING_TUPLES, notes)))
    _types(string_tuples, tuple)
    "".join(chain.from_iterable(string_tuples))
    merged = list(map(_MERGED_SOURCES, notes))
    _types(merged, tuple)
    _sources([*map(_SOURCE, notes), *chain.from_iterable(merged), *unresolved])
    _types(map(_CARDS, notes), int)
    "".join((source,))
    _types((facts,), int)
    _shapes(warnings, (str,), (int, type(None)), (str,), (str,))
    _shapes(skipped, (str,), (int,))
    _shapes(media, (str,), (int,), (str, type(None)))
    return FileNotes(
        source=source,
        notes=tuple(CardNote(*n[:9], _as_source(n[9]), tuple(map(_as_source, n[10])), *n[11:]) for n in notes),
        warnings=tuple(starmap(BuildWarning, warnings)),
        unresolved=tuple(map(_as_source, unresolved)),
        facts=facts,
        skipped=skipped,
        media=media,
    )


def _sources(pairs: list[Any]) -> None:
    """ValueError or TypeError unless every value is a (path, line) pair of a string and an int."""
    _types(pairs, tuple)
    if set(map(len, pairs)) - {2}:
        raise ValueError("a source of the wrong shape")
    "".join(map(_PATH, pairs))
    _types(map(_LINE, pairs), int)


def _shapes(rows: tuple[Any, ...], *columns: tuple[type, ...]) -> None:
    """ValueError or TypeError unless every row is a tuple whose values have the columns' types."""
    _types(rows, tuple)
    for row in rows:
        if len(row) != len(columns):
            raise ValueError("a row of the wrong shape")
        for value, allowed in zip(row, columns):
            _types((value,), *allowed)


def _types(values: Iterable[Any], *allowed: type) -> None:
    """TypeError unless every value is exactly of an `allowed` type (not a subclass)."""
    if not set(map(type, values)) <= set(allowed):
        raise TypeError(f"expected {' or '.join(t.__name__ for t in allowed)}")

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

- a missing, unreadable, truncated or corrupt entry (its checksum does not match), one written by
  other code (different fingerprint) or for another file is a miss; the file is parsed again and
  the entry rewritten;
- writes are atomic (a temporary file in the same folder, then `os.replace`), so a crash or a
  concurrent build leaves either the old entry or the new one, never half of one.

Entries are JSON, not pickle: loading JSON runs no code, so a cache folder someone else can write to
can at worst give wrong cards for a file, never run code. Values JSON lacks (tuples, the dates and
sets YAML front matter gives, read-only mappings) are written as tagged objects and restored as
the same types; an entry holding anything else is simply not cached.

Where: `AWS_ANKI_CACHE_DIR` if set, else the user cache folder (`platformdirs`, e.g.
`~/.cache/aws-anki` on Linux); `build_deck(cache_dir=...)` and `aws-anki build --cache-dir` override
both, `use_cache=False` / `--no-cache` turn it off.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import fields
from functools import cache
import importlib.util
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the stages are imported when an entry is read or written: see _codec
    from .notes import FileNotes
    from .read import SourceFile

__all__ = ["CACHE_DIR_ENV", "NotesCache", "code_fingerprint", "default_cache_dir"]

CACHE_DIR_ENV = "AWS_ANKI_CACHE_DIR"
FORMAT = 2
_ENTRY_FOLDER = f"notes-v{FORMAT}"
# Libraries whose behaviour shapes an Extraction (tokens, sanitised and highlighted HTML).
_LIBRARIES = ("mistune", "nh3", "pygments", "yaml", "ftfy")
_PACKAGE = Path(__file__).resolve().parent
# `from .module import ...` or `from . import module, other` (lazy imports inside functions too).
_RELATIVE_IMPORT = re.compile(r"^[ \t]*from \.(?:(\w+)(?:\.\w+)*[ \t]+import|[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+))", re.M)


class _Unencodable(Exception):
    """A value the cache format cannot hold exactly."""


def default_cache_dir() -> Path:
    """`AWS_ANKI_CACHE_DIR`, else the user cache folder of aws-anki."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir  # lazy: only builds that cache need it

    return Path(user_cache_dir("aws-anki", appauthor=False))


@cache
def code_fingerprint() -> str:
    """A hash of everything that decides what the stages up to notes make of a file: the modules of
    this package that the read, parse, extract and notes stages import (found by following their `from .x
    import` lines, lazy ones included), the package's data files, and the installed libraries
    (size and modification time of each one's `__init__`: an upgrade rewrites it; this costs far
    less than importing `importlib.metadata` or the libraries themselves)."""
    digest = hashlib.sha256(f"format {FORMAT} python {sys.version_info[:2]}\n".encode())
    for library in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(library)
            origin = spec.origin if spec is not None else None
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            info = None
        stamp = f"{origin} {info.st_size} {info.st_mtime_ns}" if info else "-"
        digest.update(f"{library} {stamp}\n".encode())
    data = sorted(p for p in (_PACKAGE / "data").rglob("*") if p.is_file())
    for path in [*(_PACKAGE / f"{name}.py" for name in _stage_modules()), *data]:
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


@cache
def package_fingerprint() -> str:
    """`code_fingerprint` widened to every module of the package: what decides a whole deck, not
    only one file's notes (see `aws_anki.uptodate`, which adds the note types' templates)."""
    digest = hashlib.sha256(code_fingerprint().encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stage_modules() -> list[str]:
    """The package modules that `read`, `parse`, `extract`, `notes` and this module import, transitively."""
    seen: set[str] = set()
    todo = ["read", "parse", "extract", "notes", "cache"]
    while todo:
        name = todo.pop()
        path = _PACKAGE / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        for match in _RELATIVE_IMPORT.finditer(path.read_text(encoding="utf-8")):
            if match.group(1):
                todo.append(match.group(1))
            else:
                todo.extend(n.strip().split(" as ")[0] for n in match.group(2).strip("()").split(","))
    return sorted(seen)


class NotesCache:
    """The entries in one cache folder, for one code fingerprint."""

    def __init__(self, directory: str | Path | None = None, *, fingerprint: str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.fingerprint = fingerprint or code_fingerprint()
        self.hits = 0
        self.misses = 0

    def path_for(self, source: SourceFile) -> Path:
        """Where the entry of `source` lives (one slot per file; the header says for which content)."""
        key = hashlib.sha256(f"{source.path}\0{source.rel_path}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.directory / _ENTRY_FOLDER / key[:2] / f"{key}.json"

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
            raw = self.path_for(source).read_bytes()
        except OSError:
            return None
        header_end = raw.find(b"\n")
        if header_end < 0:
            return None
        try:
            header = json.loads(raw[:header_end])
            body = raw[header_end + 1 :]
            if not (
                isinstance(header, dict)
                and header.get("format") == FORMAT
                and header.get("fingerprint") == self.fingerprint
                and header.get("path") == source.rel_path
                and header.get("content_hash") == source.content_hash
                and header.get("variant") == variant
                and header.get("sha256") == hashlib.sha256(body).hexdigest()
            ):
                return None
            found = json.loads(body, object_hook=_decode_object)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            return None
        from .notes import FileNotes  # loaded by the decoding above already

        if not isinstance(found, FileNotes) or found.source != source.rel_path:
            return None
        return found

    def put(self, source: SourceFile, notes: FileNotes, variant: str = "") -> bool:
        """Store the notes of `source` atomically; False when they cannot be cached (never raises)."""
        if not source.content_hash:
            return False
        try:
            body = json.dumps(_encode(notes), separators=(",", ":"), allow_nan=True).encode("ascii")
        except (_Unencodable, ValueError, RecursionError):
            return False
        header = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "path": source.rel_path,
            "content_hash": source.content_hash,
            "variant": variant,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        target = self.path_for(source)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, staged = tempfile.mkstemp(prefix=".entry-", suffix=".part", dir=target.parent)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + body)
                os.replace(staged, target)
            except BaseException:
                Path(staged).unlink(missing_ok=True)
                raise
        except OSError:
            return False  # a read-only or full disk makes a slower build, not a failed one
        return True


# Encoding: JSON arrays are lists; every JSON object is a one-key tag, so metadata keys never clash.


@cache
def _codec() -> tuple[dict[type, str], dict[str, Callable[[Any], Any]]]:
    """The dataclasses an entry may hold, by tag, both ways (imported here, not at start-up: a build
    that is up to date never reads an entry, and should not pay for importing the stages)."""
    from .errors import BuildWarning
    from .extract import Extraction, Fact, Skip
    from .notes import CardNote, FileNotes

    classes: dict[str, type] = {"X": Extraction, "F": Fact, "S": Skip, "N": CardNote, "FN": FileNotes, "W": BuildWarning}
    decoders = {tag: _dataclass(cls) for tag, cls in classes.items()}
    decoders["N"] = _note_builder(CardNote)
    return {cls: tag for tag, cls in classes.items()}, {**decoders, **_DECODERS}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    kind = type(value)
    tag = _codec()[0].get(kind)
    if tag == "N":
        # Notes are most of an entry: their tuples of strings go as plain lists (made tuples again
        # on decoding), one decoding callback per note instead of five.
        return {tag: [list(v) if type(v) is tuple and all(type(x) is str for x in v) else _encode(v)
                      for v in (getattr(value, f.name) for f in fields(value))]}
    if tag is not None:
        return {tag: [_encode(getattr(value, f.name)) for f in fields(value)]}
    if kind is tuple:
        return {"t": [_encode(v) for v in value]}
    if kind is list:
        return [_encode(v) for v in value]
    if kind is dict or kind is MappingProxyType:
        return {"d" if kind is dict else "m": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if kind is dt.datetime:
        return {"dt": value.isoformat()}
    if kind is dt.date:
        return {"date": value.isoformat()}
    if kind is set or kind is frozenset:
        return {"set" if kind is set else "fset": [_encode(v) for v in value]}
    if kind is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    raise _Unencodable(kind.__name__)


# Note attributes most notes of a file share: decoded as one string object each, as they were made.
_SHARED = frozenset({"note_type", "kind", "tags", "deck", "service", "category", "context"})
# Note attributes that are tuples of strings, written as plain lists (see _encode).
_STRING_TUPLES = frozenset({"fields", "tags", "merged_sources", "media"})


def _dataclass(cls: type) -> Callable[[Any], Any]:
    names = [f.name for f in fields(cls)]

    def build(values: Any) -> Any:
        if not isinstance(values, list) or len(values) != len(names):
            raise ValueError(f"{cls.__name__} entry of the wrong shape")
        return cls(*values)

    return build


def _note_builder(cls: type) -> Callable[[Any], Any]:
    """A CardNote from its list of values: string lists made tuples, shared strings interned. A
    value of the wrong type raises TypeError (the entry is then a miss); this runs once per note
    of every cached file, so the checks are C calls, not loops."""
    names = [f.name for f in fields(cls)]
    intern = sys.intern
    tuples = [(i, name in _SHARED) for i, name in enumerate(names) if name in _STRING_TUPLES]
    shared = [i for i, name in enumerate(names) if name in _SHARED and name not in _STRING_TUPLES]

    def build(values: Any) -> Any:
        if type(values) is not list or len(values) != len(names):
            raise ValueError("CardNote entry of the wrong shape")
        for i, interned in tuples:
            strings = values[i]
            if type(strings) is not list:
                raise ValueError(f"CardNote.{names[i]} is not a list")
            "".join(strings)  # TypeError unless every item is a string
            values[i] = tuple(map(intern, strings)) if interned else tuple(strings)
        for i in shared:
            values[i] = intern(values[i])  # TypeError unless a string
        return cls(*values)

    return build


def _key(value: Any) -> Any:
    hash(value)  # a key that cannot be hashed is a corrupt entry (TypeError)
    return value


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "t": tuple,
    "d": lambda pairs: {_key(k): v for k, v in pairs},
    "m": lambda pairs: MappingProxyType({_key(k): v for k, v in pairs}),
    "dt": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "set": lambda items: {_key(v) for v in items},
    "fset": lambda items: frozenset(_key(v) for v in items),
    "b": lambda text: base64.b64decode(text, validate=True),
}


def _decode_object(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        raise ValueError("not a cache entry")
    ((tag, value),) = obj.items()
    return _codec()[1][tag](value)

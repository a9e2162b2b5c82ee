"""Scan: find the Markdown notes under the given paths and read their bytes (not decoded).

This is the only stage that touches the file system for notes. Nothing here raises for a bad
file: every problem becomes a ``BuildWarning`` and the other files are still read. Only a path
argument that does not exist raises ``InputError``. A scan is all the up-to-date check needs (see
``aws_anki.uptodate``); ``read.decode_sources`` turns it into text.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol, Sequence

from .errors import BuildWarning, InputError, printable

__all__ = ["Scan", "ScannedFile", "find_markdown", "notes_root", "relative_path", "scan_file", "scan_sources"]

MARKDOWN_SUFFIXES = (".md", ".markdown")
IGNORE_FILE = ".aws-anki-ignore"  # in a notes root: patterns (gitignore syntax) of files to leave out
# Named on the command line, these are read as Markdown too (notes kept as plain text).
TEXT_SUFFIXES = ("", ".txt", ".text", ".mdown", ".mkd", ".mkdn")
# A repository's own papers, not study notes: left out when walking a folder (read when named).
_HOUSEKEEPING = re.compile(
    r"^(?:licen[cs]e|copying|changelog|changes|history|contributing|code_of_conduct|security|authors|source|"
    r"pull_request_template|issue_template)(?:\.md|\.markdown)$",
    re.I,
)
_ESCAPED_BYTE = "[\udc80-\udcff]"  # a byte of a file name that is not UTF-8, as os.fsdecode gives it


class _Placed(Protocol):
    """A file found under a notes root (scanned or read)."""

    path: Path
    rel_path: str


def notes_root(source: _Placed) -> Path:
    """The notes folder a file was found under (what its `rel_path` is relative to)."""
    return source.path.parents[len(Path(source.rel_path).parts) - 1]


@dataclass(frozen=True)
class ScannedFile:
    """One note file as found on disk, read but not decoded (what the up-to-date check hashes)."""

    path: Path
    rel_path: str
    raw: bytes | None  # None: the file could not be read, `error` says why
    content_hash: str = ""  # SHA-256 of `raw`
    mtime: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Scan:
    """The note files found, in the order found, and what went wrong finding them."""

    files: tuple[ScannedFile, ...]
    warnings: tuple[BuildWarning, ...]
    excluded: tuple[str, ...] = ()  # notes-relative paths left out by patterns (folders end in "/")


@dataclass(frozen=True)
class _Found:
    """A Markdown file found by the walk, with the key that decides which copy wins."""

    file: Path
    root: Path
    order: tuple[int, int, str]  # (phase, argument index, notes-relative path)

    @property
    def rel_path(self) -> str:
        """The file's path relative to its notes root, NFC-normalised."""
        return self.order[2]


# ---------------------------------------------------------------- finding files


def find_markdown(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> list[tuple[Path, Path]]:
    """Return the (file, notes root) pairs to read; walk warnings are reported by read_sources."""
    walk = _find_markdown(paths, exclude)
    return [(item.file, item.root) for item in walk.found]


@dataclass
class _Walk:
    """What a walk of the notes has found so far, and what it has left to do."""

    ignores: list[_Ignore]  # per path argument
    found: list[_Found] = field(default_factory=list)
    warnings: list[BuildWarning] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # notes-relative; folders end in "/"
    visited: set[tuple[int, int]] = field(default_factory=set)
    pending: list[tuple[Path, Path, int]] = field(default_factory=list)  # symlinked folders: (link, root, argument index)


def _find_markdown(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> _Walk:
    """Walk the given paths; each file once, preferring real paths to symlinked ones, none excluded."""
    arguments = [Path(os.path.abspath(os.fspath(p))) for p in paths]
    for given, absolute in zip(paths, arguments):
        if not os.path.exists(absolute):
            broken = " (broken symbolic link)" if os.path.islink(absolute) else ""
            raise InputError(f"{printable(os.fspath(given))}: no such file or folder{broken}")
        if not os.path.isdir(absolute) and absolute.suffix.lower() not in (*MARKDOWN_SUFFIXES, *TEXT_SUFFIXES):
            raise InputError(
                f"{printable(os.fspath(given))}: not a Markdown file ({absolute.suffix or 'no extension'}); aws-anki reads notes written in "
                "Markdown (.md). Export the document to Markdown first, or name the folder that holds your .md notes."
            )
    warnings: list[BuildWarning] = []
    walk = _Walk([_ignore_for(a if os.path.isdir(a) else None, exclude, warnings) for a in arguments], warnings=warnings)

    # Phase 0 and 1: every real folder tree, so that a file's own path wins over a link to it.
    for index, argument in enumerate(arguments):
        if os.path.isdir(argument):
            _scan_tree(argument, argument, index, 0, walk)
        elif walk.ignores[index](argument.name):
            walk.excluded.append(relative_path(argument, argument.parent))
        else:
            walk.found.append(_Found(argument, argument.parent, (0, index, relative_path(argument, argument.parent))))
    # Phase 2: symlinked folders, in the order found; links found inside them are queued too.
    position = 0
    while position < len(walk.pending):
        link, root, index = walk.pending[position]
        position += 1
        _follow_link(link, root, index, walk)

    chosen: dict[object, _Found] = {}
    for item in sorted(walk.found, key=lambda f: f.order):
        chosen.setdefault(_identity(item.file), item)
    walk.found = list(chosen.values())
    return walk


def _scan_tree(top: Path, root: Path, index: int, phase: int, walk: _Walk) -> None:
    """Walk one real folder tree without recursion, queueing symlinked folders for later."""
    ignore = walk.ignores[index]
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
        except OSError as exc:
            walk.warnings.append(_folder_warning(folder, root, exc))
            continue
        key = (info.st_dev, info.st_ino)
        if key in walk.visited:  # already walked through an earlier argument or link
            continue
        walk.visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            walk.warnings.append(_folder_warning(folder, root, exc))
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()
                is_link = entry.is_symlink()
            except OSError:  # a link loop on the entry itself: read_source reports it
                is_dir, is_link = False, True
            is_note = not is_dir and entry.name.lower().endswith(MARKDOWN_SUFFIXES) and not _HOUSEKEEPING.match(entry.name)
            if (is_dir or is_note) and ignore:
                rel = relative_path(path, root) + ("/" if is_dir else "")
                if ignore(rel):
                    walk.excluded.append(rel)
                    continue
            if is_dir and is_link:
                walk.pending.append((path, root, index))
            elif is_dir:
                subfolders.append(path)
            elif is_note:
                if is_link and _leads_outside(path, root, walk.warnings):
                    continue
                file_phase = max(phase, 1) if is_link else phase
                walk.found.append(_Found(path, root, (file_phase, index, relative_path(path, root))))
        stack.extend(reversed(subfolders))


def _within(path: str, folder: str) -> bool:
    """Whether a resolved `path` is `folder` or lies below it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _follow_link(link: Path, root: Path, index: int, walk: _Walk) -> None:
    """Walk a symlinked folder unless it was walked already; warn when it loops."""
    try:
        info = os.stat(link)
    except OSError as exc:
        walk.warnings.append(_folder_warning(link, root, exc))
        return
    target = os.path.realpath(link)
    parent = os.path.realpath(link.parent)
    # A link to a folder that contains it (its own parent, the notes root, or "/") is a loop even
    # when that folder is outside the notes: following it would walk the notes again, or the disk.
    if _within(parent, target):
        walk.warnings.append(
            BuildWarning(
                path=relative_path(link, root),
                line=None,
                code="symlink-loop",
                message=(
                    f"symbolic link to {target} leads back into a folder that contains it; "
                    "not followed. Remove the link or point it at a folder outside the notes."
                ),
            )
        )
        return
    if (info.st_dev, info.st_ino) in walk.visited:  # its files were found by another path
        return
    if _leads_outside(link, root, walk.warnings):
        return
    _scan_tree(link, root, index, 2, walk)


class _Ignore:
    """Which paths below one notes root are left out: its `.aws-anki-ignore`, then `--exclude`
    patterns, both in gitignore syntax, matched against notes-relative paths (folders end in `/`)."""

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self._spec: Any = None
        if patterns:
            import pathspec  # ~10 ms (measured): most builds exclude nothing

            self._spec = pathspec.GitIgnoreSpec.from_lines(patterns)

    def __bool__(self) -> bool:
        return self._spec is not None

    def __call__(self, rel_path: str) -> bool:
        """Whether the notes-relative path (a folder's ending in `/`) is left out."""
        return self._spec is not None and bool(self._spec.match_file(rel_path))


def _ignore_for(root: Path | None, exclude: Sequence[str], warnings: list[BuildWarning]) -> _Ignore:
    """The patterns that leave files out below `root` (None: a file named on its own, which only
    `exclude` applies to); a bad `exclude` pattern raises InputError, a bad line of the file warns."""
    for pattern in exclude:
        if not _valid_pattern(pattern):
            raise InputError(
                f"--exclude {printable(pattern)!r}: not a valid pattern (gitignore syntax: '*.draft.md', 'drafts/', "
                "'archive/**'). A trailing backslash or a lone '!' is the usual cause."
            )
    patterns: list[str] = []
    ignore_file = root / IGNORE_FILE if root is not None else None
    if ignore_file is not None and ignore_file.is_file():
        try:
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").split("\n")
        except OSError as exc:
            warnings.append(BuildWarning(IGNORE_FILE, None, "unreadable", f"cannot be read ({_reason(ignore_file, exc)}); "
                                         "nothing is excluded by it. Check that you may read it."))
            lines = []
        for number, line in enumerate(lines, start=1):
            if _valid_pattern(line):
                patterns.append(line)
            else:
                warnings.append(BuildWarning(IGNORE_FILE, number, "ignore-pattern", f"{printable(line.strip())!r} is not a "
                                             "valid pattern (gitignore syntax); ignored. Fix or remove the line."))
    return _Ignore([*patterns, *exclude])


def _valid_pattern(line: str) -> bool:
    """Whether one line is a pattern (or a comment or blank line) gitignore syntax accepts."""
    if not line.strip() or line.startswith("#"):
        return True
    import pathspec  # ~10 ms (measured): only an ignore file's lines need checking

    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except ValueError:  # pathspec's pattern error is a ValueError
        return False
    return True


def _leads_outside(link: Path, root: Path, warnings: list[BuildWarning]) -> bool:
    """Tell whether a symbolic link found in the notes resolves outside the notes root, warning if so.

    The same rule as for images (see media): only what resolves inside the root the user named is
    read, so a link to a configuration file elsewhere never becomes cards."""
    target = os.path.realpath(link)
    real_root = os.path.realpath(root)
    if _within(target, real_root):
        return False
    warnings.append(
        BuildWarning(
            path=relative_path(link, root),
            line=None,
            code="outside-root",
            message=(
                f"symbolic link to {target} leads outside the notes folder {real_root}; not read. "
                "Copy what it points to into the notes, or name it on the command line to read it."
            ),
        )
    )
    return True


def _identity(path: Path) -> object:
    """Return what makes two paths the same file (device and inode), or the path itself."""
    try:
        info = os.stat(path)
    except OSError:
        return ("path", str(path))
    return (info.st_dev, info.st_ino)


def relative_path(path: Path, root: Path) -> str:
    """Return the POSIX path of ``path`` relative to ``root``, NFC-normalised, with control characters
    and the bytes of a name that is not valid UTF-8 written as `\\xNN` (the path still opens the file)."""
    try:
        rel = PurePath(path).relative_to(root).as_posix()
    except ValueError:
        rel = PurePath(path).as_posix()
    return unicodedata.normalize("NFC", printable(rel))


def _name_warnings(found: Sequence[_Found]) -> list[BuildWarning]:
    """A warning for each file whose name is not valid UTF-8 or holds control characters (it is
    read, under a name with those written as `\\xNN`)."""
    warnings = []
    for item in found:
        name = os.fspath(item.file)
        if printable(name) == name:
            continue
        problem = "is not valid UTF-8" if re.search(_ESCAPED_BYTE, name) else "holds control characters"
        warnings.append(BuildWarning(
            path=item.rel_path,
            line=None,
            code="file-name",
            message=f"file name {problem} (shown as \\xNN); read anyway. "
            "Rename the file so that Anki, terminals and other tools show its name correctly.",
        ))
    return warnings


def _folder_warning(folder: Path, root: Path, exc: OSError) -> BuildWarning:
    """Describe a folder that could not be listed."""
    return BuildWarning(
        path=relative_path(folder, root),
        line=None,
        code="unreadable",
        message=(
            f"folder cannot be read ({_reason(folder, exc)}); the notes in it are skipped. "
            "Check that it exists and that you may read it."
        ),
    )


def _reason(path: Path, exc: OSError) -> str:
    """Return a short human reason for an OSError on ``path``."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        return f"broken symbolic link to {os.readlink(path)}"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


# ---------------------------------------------------------------- reading the files


def scan_sources(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> Scan:
    """Find every Markdown file under ``paths`` (see `read.read_sources`) and read its bytes."""
    walk = _find_markdown(paths, exclude)
    warnings = (*walk.warnings, *_name_warnings(walk.found))
    files = tuple(scan_file(item.file, item.rel_path) for item in walk.found)
    return Scan(files=files, warnings=warnings, excluded=tuple(sorted(walk.excluded)))


def scan_file(path: Path, rel_path: str) -> ScannedFile:
    """Read the bytes of the note file at (absolute) `path`, or why they cannot be read."""
    raw_or_error = _read_bytes(path)
    if isinstance(raw_or_error, str):
        return ScannedFile(path, rel_path, None, error=raw_or_error)
    raw, mtime = raw_or_error
    return ScannedFile(path, rel_path, raw, hashlib.sha256(raw).hexdigest(), mtime)


def _read_bytes(path: Path) -> tuple[bytes, float] | str:
    """Return the bytes and mtime of a regular file, or why it cannot be read."""
    try:
        # O_NONBLOCK: opening a FIFO named x.md must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return _unreadable(path, exc)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return "is a folder, not a file; skipped. Rename the folder so it does not end in .md."
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file (a device or pipe); skipped. Replace it with a text file."
        with open(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    except OSError as exc:
        return _unreadable(path, exc)
    finally:
        os.close(fd)
    return raw, info.st_mtime


def _unreadable(path: Path, exc: OSError) -> str:
    """Return the unreadable-file message for ``exc``."""
    return (
        f"cannot be read ({_reason(path, exc)}); skipped. "
        "Check that the file exists and that you may read it."
    )


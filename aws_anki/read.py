"""Read stage: find Markdown notes, decode them, repair mojibake and split off YAML front matter.

This is the only stage that touches the file system for notes. Nothing here raises for a bad
file: every problem becomes a ``BuildWarning`` and the other files are still read. Only a path
argument that does not exist raises ``InputError``.

It runs in two steps: ``scan_sources`` finds the files and reads their bytes (all the up-to-date
check needs: see ``aws_anki.uptodate``), ``decode_sources`` turns them into text.

Consumers should split ``SourceFile.text`` on ``"\\n"`` only (not ``str.splitlines``, which also
breaks on form feeds and U+2028) so that line N of the text is line N of the file.
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
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import BuildWarning, InputError, printable
from .glyphs import icon_words, text_bullets_to_markdown

__all__ = [
    "ReadResult", "Scan", "ScannedFile", "SourceFile", "decode_sources", "find_markdown", "read_source", "read_sources",
    "scan_sources",
]

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

_EMPTY_METADATA: Mapping[str, Any] = MappingProxyType({})

# Byte-order marks, longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16", "UTF-16 BE"),
)

# The patterns below are compiled where they are used, on first use (`re` caches them): an up-to-date
# check imports this module but decodes nothing, and most files never need the fallbacks.

# Cheap gate for mojibake, run on UTF-8 bytes: UTF-8 text mis-decoded as Windows-1252 or Latin-1
# shows a lead character U+00C2..U+00F4 (UTF-8: C3 82..C3 B4) followed by a character that a
# continuation byte 0x80..0xBF decodes to: U+0080..U+00BF (C2 xx) or one of the Windows-1252
# extras such as € ’ – ™ Œ š ƒ ˆ (C5/C6/CB xx, E2 80..84 xx). "Â " and "Ã " are the same with a
# lost no-break space. ftfy decides whether a flagged line really is mis-decoded.
_MOJIBAKE_BYTES = rb"\xc3[\x82-\xb4](?:[\xc2\xc5\xc6\xcb]|\xe2[\x80-\x84])|\xc3[\x82\x83] "
# The same test on text, to find the lines to repair once the gate has fired.
_CP1252_CONTINUATION = (
    "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)
_MOJIBAKE_TEXT = f"[\xc2-\xf4][{_CP1252_CONTINUATION}]|[\xc2\xc3] "
# One whole mis-decoded character ("â€™" is three), and the word it stands in (shown in the warning).
_MOJIBAKE_RUN = f"[\xc2-\xf4][{_CP1252_CONTINUATION}]+|[\xc2\xc3] "
_MOJIBAKE_WORD = f"\\w*(?:{_MOJIBAKE_RUN})+\\w*"
_QUOTED = r'`[^`]*`|"[^"]*"'
_REPAIRS_SHOWN = 3

# Characters that do not belong in text: C0 controls other than tab and line breaks, DEL,
# C1 controls, and the replacement character left by a failed decode.
_NON_TEXT = "[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]"
_BINARY_RATIO = 0.10
# What is removed from text that is not binary: C0 controls but tab and line feed (carriage returns
# are line breaks by then), DEL and C1 controls; a terminal's CSI and OSC sequences go whole.
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
_TERMINAL_SEQUENCE = "\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b\n]*(?:\x07|\x1b\\\\)?|" + _CONTROL
_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "backspace", "\x0b": "vertical tab", "\x0c": "form feed",
                  "\x1b": "ESC", "\x7f": "DEL"}
_LINES_SHOWN = 5
# The same on raw 8-bit bytes: deleting every text byte leaves the control bytes to count.
_TEXT_BYTES = bytes(b for b in range(256) if not (b <= 0x08 or 0x0E <= b <= 0x1F or b == 0x7F))

# What Western European text decoded as Windows-1252 may contain besides ASCII: Latin-1 letters
# and the punctuation people type. Anything else (or a symbol inside a word, as in "Za¿ó³æ",
# Polish read as Windows-1252) means the guess is wrong and charset-normalizer decides instead.
_WESTERN_EXTRA = (
    "[^\t\n\r\x20-\x7e\xa0-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u20ac\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u2122]"
)
# (The middle dot of Catalan "l·l", the ordinals ª º and the acute accent typed as an apostrophe
# are allowed inside words.)
_SYMBOL_IN_WORD = "[a-zA-Z\xc0-\xff][\xa1-\xa9\xab-\xb3\xb5\xb6\xb8\xb9\xbb-\xbf\xd7\xf7][a-zA-Z\xc0-\xff]"
_NON_ASCII_LETTER = "[\xc0-\xd6\xd8-\xf6\xf8-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e]"
_ASCII_LETTER = "[a-zA-Z]"
_MAX_NON_ASCII_LETTERS = 0.3

_FRONT_MATTER_CLOSE = r"\n(?:---|\.\.\.)[ \t]*(?:\n|$)"
_TAG_SEPARATORS = r"[,\s]+"
_TAGS_KEY_LINE = r"(?im)^tags[ \t]*:"
_ESCAPED_BYTE = "[\udc80-\udcff]"
_NON_ASCII = "[^\x00-\x7f]"
_ASCII_BYTES = bytes(range(128))

_Warn = Callable[..., BuildWarning]


@dataclass(frozen=True)
class SourceFile:
    """One decoded note file, ready for the parse stage."""

    path: Path
    rel_path: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY_METADATA, hash=False)
    content_hash: str = ""
    mtime: float = 0.0


def notes_root(source: SourceFile | ScannedFile) -> Path:
    """The notes folder a file was found under (what its `rel_path` is relative to)."""
    return source.path.parents[len(Path(source.rel_path).parts) - 1]


@dataclass(frozen=True)
class ReadResult:
    """The files read, sorted by ``rel_path``, and what went wrong on the way."""

    files: tuple[SourceFile, ...]
    warnings: tuple[BuildWarning, ...]
    excluded: tuple[str, ...] = ()  # notes-relative paths left out by patterns (folders end in "/")


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


@dataclass(frozen=True)
class _Decoded:
    """Text decoded from bytes, or why it could not be."""

    text: str | None
    warning_code: str | None = None
    message: str | None = None
    line: int | None = None
    from_utf8: bool = False  # the bytes were UTF-8, so byte-level checks may run on them


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
            walk.excluded.append(_relative(argument, argument.parent))
        else:
            walk.found.append(_Found(argument, argument.parent, (0, index, _relative(argument, argument.parent))))
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
                rel = _relative(path, root) + ("/" if is_dir else "")
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
                walk.found.append(_Found(path, root, (file_phase, index, _relative(path, root))))
        stack.extend(reversed(subfolders))


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
    if parent == target or parent.startswith(target.rstrip(os.sep) + os.sep):
        walk.warnings.append(
            BuildWarning(
                path=_relative(link, root),
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
            import pathspec  # lazy: most builds exclude nothing

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
    import pathspec

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
    if target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep):
        return False
    warnings.append(
        BuildWarning(
            path=_relative(link, root),
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


def _relative(path: Path, root: Path) -> str:
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
        path=_relative(folder, root),
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


# ---------------------------------------------------------------- reading one file


def read_sources(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> ReadResult:
    """Find and read every Markdown file under ``paths`` but those ``exclude`` patterns (gitignore
    syntax) or a notes root's `.aws-anki-ignore` leave out; raise InputError for a missing path."""
    return decode_sources(scan_sources(paths, exclude))


def scan_sources(paths: Sequence[str | Path], exclude: Sequence[str] = ()) -> Scan:
    """Find every Markdown file under ``paths`` (see `read_sources`) and read its bytes."""
    walk = _find_markdown(paths, exclude)
    warnings = (*walk.warnings, *_name_warnings(walk.found))
    files = tuple(_scan_file(item.file, item.rel_path) for item in walk.found)
    return Scan(files=files, warnings=warnings, excluded=tuple(sorted(walk.excluded)))


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
    return _decode_file(_scan_file(path, _relative(path, Path(os.path.abspath(root)))))


def _scan_file(path: Path, rel_path: str) -> ScannedFile:
    """Read the bytes of the note file at (absolute) `path`, or why they cannot be read."""
    raw_or_error = _read_bytes(path)
    if isinstance(raw_or_error, str):
        return ScannedFile(path, rel_path, None, error=raw_or_error)
    raw, mtime = raw_or_error
    return ScannedFile(path, rel_path, raw, hashlib.sha256(raw).hexdigest(), mtime)


def _decode_file(scanned: ScannedFile) -> tuple[SourceFile | None, tuple[BuildWarning, ...]]:
    """Decode one scanned file; return None with a warning when it is skipped."""
    rel_path = scanned.rel_path

    def warn(code: str, message: str, line: int | None = None) -> BuildWarning:
        return BuildWarning(path=rel_path, line=line, code=code, message=message)

    raw = scanned.raw
    if raw is None:
        return None, (warn("unreadable", scanned.error),)

    warnings: list[BuildWarning] = []
    decoded = _decode(raw)
    if decoded.text is None:
        return None, (warn(decoded.warning_code or "binary", decoded.message or "", decoded.line),)
    if decoded.warning_code is not None:
        warnings.append(warn(decoded.warning_code, decoded.message or "", decoded.line))
    text = decoded.text
    if text.startswith("\ufeff"):  # a second byte-order mark, left by some editors
        text = text.lstrip("\ufeff")
    if not text or text.isspace():
        return None, (warn("empty", "file is empty or blank; skipped. Write some notes in it or delete it."),)

    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if re.search(_CONTROL, text):
        text, lines, names = _strip_controls(text)
        shown = ", ".join(map(str, lines[:_LINES_SHOWN])) + (", ..." if len(lines) > _LINES_SHOWN else "")
        warnings.append(warn(
            "control-characters",
            f"removed control characters ({', '.join(names)}) at line{'s' if len(lines) > 1 else ''} {shown}: "
            "they have no place on a card. Check those lines (text pasted from a terminal?).",
            lines[0],
        ))
    # UTF-8 bytes of the text (line breaks aside) for the cheap byte-level checks below.
    utf8 = raw if decoded.from_utf8 else text.encode("utf-8", "surrogatepass")
    if re.search(_MOJIBAKE_BYTES, utf8):
        text, repairs = _repair_mojibake(text)
        if repairs:
            utf8 = text.encode("utf-8", "surrogatepass")
            warnings.append(warn("mojibake", _mojibake_message(repairs), repairs[0][0]))
    if not text.isascii() and not _is_nfc(text, utf8):
        text = unicodedata.normalize("NFC", text)
    # Bullets typed as glyphs (`•`, `o`) become Markdown lists; emoji go, check marks become words.
    text = text_bullets_to_markdown(text)
    if not text.isascii():
        text = icon_words(text)

    metadata: Mapping[str, Any] = _EMPTY_METADATA
    if text.startswith("---"):
        text, metadata, front_warnings, body_empty = _split_front_matter(text, warn)
        warnings.extend(front_warnings)
        if body_empty:
            warnings.append(
                warn(
                    "empty",
                    "file has only front matter and no notes; skipped. "
                    "Write notes below the closing '---' or delete the file.",
                )
            )
            return None, tuple(warnings)

    source = SourceFile(
        path=scanned.path,
        rel_path=rel_path,
        text=text,
        metadata=metadata,
        content_hash=scanned.content_hash,
        mtime=scanned.mtime,
    )
    return source, tuple(warnings)


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


# ---------------------------------------------------------------- decoding


def _decode(raw: bytes) -> _Decoded:
    """Decode note bytes: BOMs, then UTF-8, then a guessed charset with a warning."""
    if not raw:
        return _Decoded("")
    for bom, codec, label in _BOMS:
        if raw.startswith(bom):
            return _decode_with_bom(raw, codec, label)
    if b"\x00" in raw:
        utf16 = _decode_utf16_without_bom(raw)
        if utf16 is not None:
            return utf16
        # Stray NULs in 8-bit text: the share of control bytes below tells a binary file from text.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        return _decode_fallback(raw, bad_line)
    if len(raw.translate(None, _TEXT_BYTES)) > _BINARY_RATIO * len(raw):
        return _binary("it is mostly control characters")
    return _Decoded(text, from_utf8=True)


def _decode_with_bom(raw: bytes, codec: str, label: str) -> _Decoded:
    """Decode a file that starts with a byte-order mark."""
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        text = raw.decode(codec, errors="replace")
        if _looks_binary(text):
            return _binary("it starts with a byte-order mark but is not text")
        bad_line = raw[: exc.start].decode(codec, errors="replace").count("\n") + 1
        return _Decoded(
            text,
            "encoding",
            f"starts with a {label} byte-order mark but has invalid bytes (first at line "
            f"{bad_line}), shown as '\ufffd'; re-save the file as UTF-8.",
            bad_line,
        )
    if codec == "utf-8-sig":
        return _Decoded(text, from_utf8=True)
    if _looks_binary(text):
        return _binary("it starts with a byte-order mark but is not text")
    return _Decoded(text)


def _decode_utf16_without_bom(raw: bytes) -> _Decoded | None:
    """Decode UTF-16 that lacks a byte-order mark; None if the bytes are not UTF-16."""
    even, odd = raw[0::2], raw[1::2]
    for codec, label, zeros, others in (("utf-16-le", "UTF-16 LE", odd, even), ("utf-16-be", "UTF-16 BE", even, odd)):
        if zeros.count(0) >= 0.4 * len(zeros) and others.count(0) <= 0.02 * len(others):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                break
            if _looks_binary(text):
                break
            return _Decoded(
                text,
                "encoding",
                f"has no byte-order mark; decoded as {label}. Re-save the file as UTF-8.",
            )
    return None


def _decode_fallback(raw: bytes, bad_line: int) -> _Decoded:
    """Decode bytes that are not valid UTF-8: mixed UTF-8, Windows-1252, or a detected charset."""
    mixed = raw.decode("utf-8", errors="surrogateescape")
    escaped = len(re.findall(_ESCAPED_BYTE, mixed))
    valid_non_ascii = len(re.findall(_NON_ASCII, mixed)) - escaped
    if valid_non_ascii > escaped:
        # Mostly UTF-8 with a few stray bytes (text pasted from another editor).
        return _Decoded(
            re.sub(_ESCAPED_BYTE, lambda m: _stray_byte(m.group()), mixed),
            "encoding",
            f"is mostly UTF-8 but {escaped} byte{'s are' if escaped != 1 else ' is'} not (first at "
            f"line {bad_line}); decoded {'them' if escaped != 1 else 'it'} as Windows-1252. "
            "Check that line and re-save the file as UTF-8.",
            bad_line,
        )
    encoding, guessed = _guess_charset(raw)
    if guessed is None or _looks_binary(guessed):
        return _binary("it is not text in any encoding recognised")
    return _Decoded(
        guessed,
        "encoding",
        f"is not UTF-8 (first non-UTF-8 byte at line {bad_line}); decoded as {encoding}. "
        "Check accented characters and re-save the file as UTF-8.",
        bad_line,
    )


def _stray_byte(ch: str) -> str:
    """Decode one surrogate-escaped byte as Windows-1252 (Latin-1 where it has no character)."""
    byte = bytes([ord(ch) - 0xDC00])
    try:
        return byte.decode("cp1252")
    except UnicodeDecodeError:
        return byte.decode("latin-1")


def _guess_charset(raw: bytes) -> tuple[str, str | None]:
    """Return (encoding name, text): Windows-1252 when it reads as Western text, else detected."""
    try:
        western = raw.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and _looks_western(western):
        return "Windows-1252 (Western European)", western
    from charset_normalizer import from_bytes  # lazy: only non-UTF-8 files pay for it

    best = from_bytes(raw).best()
    if best is None:
        return "", None
    return best.encoding, str(best)


def _looks_western(text: str) -> bool:
    """Tell whether text decoded as Windows-1252 reads like Western European text."""
    if re.search(_WESTERN_EXTRA, text) or re.search(_SYMBOL_IN_WORD, text):
        return False
    accented = len(re.findall(_NON_ASCII_LETTER, text))
    return accented <= _MAX_NON_ASCII_LETTERS * (accented + len(re.findall(_ASCII_LETTER, text)))


def _looks_binary(text: str) -> bool:
    """Tell whether decoded text is mostly control characters (a binary file)."""
    return len(re.findall(_NON_TEXT, text)) > _BINARY_RATIO * len(text)


def _binary(why: str) -> _Decoded:
    """Return the skipped-binary result."""
    return _Decoded(
        None,
        "binary",
        f"looks like a binary file, not text ({why}); skipped. "
        "Rename it if it is not a note, or re-save it as UTF-8 text.",
    )


def _is_nfc(text: str, utf8: bytes) -> bool:
    """Tell whether text is NFC, looking first at its distinct non-ASCII characters only."""
    # Deleting the ASCII bytes leaves whole UTF-8 sequences: the non-ASCII characters, in a
    # fraction of the time unicodedata.is_normalized takes over a large file.
    non_ascii = utf8.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    if any(_may_change_under_nfc(char) for char in set(non_ascii)):
        return unicodedata.is_normalized("NFC", text)
    return True


def _may_change_under_nfc(char: str) -> bool:
    """Tell whether NFC could change text holding ``char`` (quick check not Yes, or a mark)."""
    if "\u1161" <= char <= "\u11c2":  # Hangul vowel and final jamo compose with what precedes
        return True
    if unicodedata.category(char)[0] == "M":  # combining marks reorder and compose
        return not ("\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef")
    return unicodedata.normalize("NFC", char) != char


def _mojibake_message(repairs: Sequence[tuple[int, str, str]]) -> str:
    """The warning for repaired lines: how many, and what changed on the first few."""
    shown = ", ".join(f"line {line} {before!r} → {after!r}" for line, before, after in repairs[:_REPAIRS_SHOWN])
    more = ", ..." if len(repairs) > _REPAIRS_SHOWN else ""
    return (
        f"repaired mis-decoded characters on {len(repairs)} line{'s' if len(repairs) != 1 else ''}: {shown}{more} "
        "(UTF-8 that was read as Windows-1252); check those lines and re-save the file as UTF-8."
    )


# ---------------------------------------------------------------- control characters


def _strip_controls(text: str) -> tuple[str, list[int], list[str]]:
    """Remove terminal escape sequences and control characters (not tab or line feed); return the
    text, the lines that had any, and the names of what was removed in order of appearance."""
    lines: dict[int, None] = {}
    names: dict[str, None] = {}
    line, counted = 1, 0  # newlines counted since the previous match only: a file may hold many
    for match in re.finditer(_CONTROL, text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        lines.setdefault(line, None)
        names.setdefault(_control_name(match.group()), None)
    return re.sub(_TERMINAL_SEQUENCE, "", text), list(lines), list(names)


def _control_name(char: str) -> str:
    """A short name for a control character, as a user would look it up."""
    if "\x80" <= char <= "\x9f":
        return "C1"
    return _CONTROL_NAMES.get(char, f"U+{ord(char):04X}")


# ---------------------------------------------------------------- mojibake


def _repair_mojibake(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Repair the lines that clearly are mis-decoded (see `_mojibake_lines`) with ftfy; return the
    text and, for each line repaired, its number and the first word as it was and as repaired."""
    import ftfy  # lazy: ~60 ms to import and most files are clean

    config = ftfy.TextFixerConfig(
        unescape_html=False,  # "&lt;" in notes is meant literally
        remove_terminal_escapes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,  # curly quotes are correct text
        fix_line_breaks=False,  # line numbers must not move
        remove_control_chars=False,
        normalization=None,  # NFC is applied to the whole text afterwards
        explain=False,
    )
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    repairs: list[tuple[int, str, str]] = []
    for number, start, end in _mojibake_lines(text):
        original = text[start:end]
        fixed = ftfy.fix_text(original, config)
        if fixed == original:
            continue
        pieces += (text[done:start], fixed)
        done = end
        word = re.search(_MOJIBAKE_WORD, original)
        before = word.group() if word is not None else original.strip()
        repairs.append((number, before, ftfy.fix_text(before, config)))
    if not repairs:
        return text, []
    pieces.append(text[done:])
    return "".join(pieces), repairs


def _mojibake_lines(text: str) -> list[tuple[int, int, int]]:
    """(number, start, end) of each line that clearly is mojibake: every non-ASCII character in it is
    part of a mis-decoded sequence, none of which is quoted (in backticks or double quotes), as a
    note explaining mojibake would have it. When the whole file is mojibake (every non-ASCII
    character of it, on two lines or more) quoted sequences are mis-decoded too."""
    mojibake = re.compile(_MOJIBAKE_TEXT)
    found: list[tuple[int, int, int]] = []
    line, counted = 1, 0
    match = mojibake.search(text)
    while match is not None:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        line += text.count("\n", counted, start)
        counted = start
        found.append((line, start, end))
        match = mojibake.search(text, end)
    if len(found) > 1 and re.sub(_MOJIBAKE_RUN, "", text).isascii():
        return found
    return [(n, start, end) for n, start, end in found if _clearly_mojibake(text[start:end])]


def _clearly_mojibake(line: str) -> bool:
    """Tell whether all the non-ASCII text of a line is mis-decoded and none of it quoted."""
    if not re.sub(_MOJIBAKE_RUN, "", line).isascii():
        return False
    unquoted = re.sub(_QUOTED, "", line)
    return len(re.findall(_MOJIBAKE_RUN, unquoted)) == len(re.findall(_MOJIBAKE_RUN, line))


# ---------------------------------------------------------------- front matter


def _split_front_matter(
    text: str, warn: _Warn
) -> tuple[str, Mapping[str, Any], list[BuildWarning], bool]:
    """Blank out a leading YAML block; return text, metadata, warnings and whether nothing follows."""
    first_end = text.find("\n")
    if first_end < 0 or text[:first_end].rstrip() != "---":
        return text, _EMPTY_METADATA, [], False
    close = re.compile(_FRONT_MATTER_CLOSE).search(text, first_end)
    if close is None:  # no closing line: the '---' is a thematic break
        return text, _EMPTY_METADATA, [], False
    block = text[first_end + 1 : close.start() + 1]
    after = close.end()
    closed_by_newline = text[after - 1 : after] == "\n"
    body = text[after:]
    block_lines = text.count("\n", 0, after) + (0 if closed_by_newline else 1)
    blanked = "\n" * block_lines + body if closed_by_newline else "\n" * (block_lines - 1)

    warnings: list[BuildWarning] = []
    metadata, problem = _parse_front_matter(block)
    if problem is not None:
        message, line = problem
        warnings.append(warn("front-matter", message, line))
    elif metadata:
        tags_problem = None
        if "tags" in metadata:
            tags, tags_problem = _parse_tags(metadata["tags"])
            metadata = {**metadata, "tags": tags}
        if tags_problem is not None:
            key = re.search(_TAGS_KEY_LINE, block)
            tags_line = 2 + block.count("\n", 0, key.start()) if key is not None else None
            warnings.append(warn("front-matter", tags_problem, tags_line))
    frozen: Mapping[str, Any] = MappingProxyType(metadata) if metadata else _EMPTY_METADATA
    return blanked, frozen, warnings, not body or body.isspace()


def _parse_front_matter(block: str) -> tuple[dict[str, Any], tuple[str, int] | None]:
    """Parse a YAML block into a dict with lower-cased keys, or say what is wrong and where."""
    if not block.strip():
        return {}, None
    import yaml  # lazy: only files with front matter need it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(block, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = 2 + mark.line if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return {}, (
            f"front matter is not valid YAML ({problem}); ignored. Fix the YAML between the "
            "'---' lines, or add a blank first line if the '---' is meant as a horizontal rule.",
            line,
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a date like 2024-13-45
        return {}, (f"front matter has a value YAML cannot load ({exc}); ignored. Fix the YAML.", 1)
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, (
            f"front matter is a YAML {type(data).__name__}, not 'key: value' lines; ignored. "
            "Write it as 'key: value' lines.",
            2,
        )
    return {str(key).strip().lower(): value for key, value in data.items()}, None


def _parse_tags(value: Any) -> tuple[tuple[str, ...], str | None]:
    """Return tags as a tuple of str from a YAML list, a comma/space-separated string or '#tag's."""
    items: Iterable[Any]
    if value is None:
        items = ()
    elif isinstance(value, str):
        items = re.split(_TAG_SEPARATORS, value)
    elif isinstance(value, (list, tuple, set)):
        items = value
    elif isinstance(value, (int, float, bool)):
        items = (value,)
    else:
        return (), (
            f"front matter 'tags' is a {type(value).__name__}; ignored. "
            "Write tags as a list or a comma-separated string."
        )
    tags: dict[str, None] = {}
    for item in items:
        if item is None or isinstance(item, (dict, list)):
            continue
        tag = str(item).strip().lstrip("#").strip()
        if tag:
            tags.setdefault(tag, None)
    return tuple(tags), None

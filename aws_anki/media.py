"""Media: find the images notes refer to and give each a collision-free name in the package.

Anki stores media flat by file name, so two `diagram.png` from different folders would collide:
each file is named `<stem>-<content hash><ext>`. A reference is looked up relative to the note,
then the notes root, then the attachment folders, then (Obsidian style) by file name anywhere
under the root. A reference starting with `/` is relative to the notes root, as in Obsidian.

Nothing outside the notes root (or an attachment folder named explicitly by absolute path) is ever
read: a path that leads out of it (`../../etc/passwd`, `/etc/hostname`, a symbolic link pointing
elsewhere) is refused with a warning before any file is opened.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from urllib.parse import unquote

from .errors import BuildWarning
from .read import SourceFile
from .scan import ScannedFile, notes_root

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif"})
DEFAULT_ATTACHMENT_FOLDERS = ("attachments", "assets", "images", "img", "_resources")
_UNSAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)
_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")


class MediaCollector:
    """Resolves image references for the notes stage and remembers the files to package.

    `attachment_folders`, searched in order after the note's folder and the notes root, may be
    relative to the notes root (`attachments`, Obsidian's "folder specified below"), relative to the
    note (`./assets`, Obsidian's "subfolder under current folder") or absolute; an absolute folder
    is trusted like the notes root, because the person building named it."""

    def __init__(self, sources: Mapping[str, tuple[Path, Path]],
                 attachment_folders: Sequence[str | Path] = DEFAULT_ATTACHMENT_FOLDERS) -> None:
        self._sources = sources  # rel_path -> (file path, notes root)
        self.folders = tuple(str(folder) for folder in attachment_folders)  # as searched, in order
        self._trusted = tuple(_real(Path(f)) for f in self.folders if Path(f).expanduser().is_absolute())
        self._by_name: dict[Path, dict[str, list[Path]]] = {}
        self._resolved: dict[Path, str] = {}
        self._found: dict[tuple[str, Path, Path], tuple[Path | None, bool]] = {}
        self.files: dict[str, Path] = {}  # package name -> file on disk
        self.warnings: list[BuildWarning] = []

    @classmethod
    def for_files(cls, files: Iterable[SourceFile | ScannedFile], attachment_folders: Sequence[str | Path] = DEFAULT_ATTACHMENT_FOLDERS
                  ) -> MediaCollector:
        """A collector for these note files, each looked up from its own folder and notes root."""
        return cls({f.rel_path: (f.path, notes_root(f)) for f in files}, attachment_folders)

    def __call__(self, target: str, source: str, line: int) -> str | None:
        """The package name for the image `target` referenced at source:line, or None (warned)."""
        found = self._sources.get(source)
        if found is None:
            return None
        note_path, root = found
        raw = target.split("#", 1)[0].split("?", 1)[0].strip()
        if not raw:
            return None
        references = list(dict.fromkeys((unquote(raw), raw)))  # `my%20image.png`, or a file named so
        if any(_DRIVE.match(r) or r.startswith("~") or re.match(r"^[a-z][a-z0-9+.\-]*:", r, re.I) for r in references):
            self._refuse(source, line, target, root)
            return None
        path, refused = None, False
        for reference in references:
            path, refused = self._find(reference, note_path.parent, root)
            if path is not None or refused:
                break
        if path is None:
            if refused:
                self._refuse(source, line, target, root)
                return None
            where = ", ".join(f"{f}/" for f in self.folders)
            self._warn(source, line, "missing-image", f"image {target!r} not found next to the note, in the notes root "
                       f"or in {where}; the card leaves it out")
            return None
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            self._warn(source, line, "not-an-image", f"{target!r} is not a supported image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
            return None
        name = self._resolved.get(path)
        if name is None:
            try:
                digest = _digest(path)
            except OSError as error:
                self._warn(source, line, "unreadable-image", f"image {target!r} cannot be read: {error.strerror or error}")
                return None
            stem = _UNSAFE_NAME.sub("_", path.stem).strip("_.") or "image"
            name = f"{stem}-{digest}{path.suffix.lower()}"
            self._resolved[path] = name
            self.files[name] = path
        return name

    def _find(self, reference: str, note_dir: Path, root: Path) -> tuple[Path | None, bool]:
        """The real path of the first allowed candidate that is a file, and whether one was refused."""
        # Remembered for the collector's life (one build): a vault refers to the same images from
        # the same folders again and again, and each search costs several system calls.
        key = (reference, note_dir, root)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._search(reference, note_dir, root)
        return found

    def _search(self, reference: str, note_dir: Path, root: Path) -> tuple[Path | None, bool]:
        allowed = (_real(root), *self._trusted)
        lexical = (_lexical(root), *(_lexical(Path(f).expanduser()) for f in self.folders if Path(f).expanduser().is_absolute()))
        absolute = reference.startswith(("/", "\\"))
        if absolute:
            # Obsidian reads `/x.png` relative to the vault; the absolute path itself is never looked at.
            candidates = [root / reference.lstrip("/\\")]
        else:
            candidates = [note_dir / reference, root / reference, *(self._folder(f, note_dir, root) / reference for f in self.folders)]
        inside, linked_out = 0, False
        for candidate in candidates:
            # Lexically first: `..` out of the allowed folders is skipped without touching the file system.
            if not any(_within(_lexical(candidate), base) for base in (*lexical, *allowed)):
                continue
            inside += 1
            try:
                if not candidate.is_file():
                    continue
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError, ValueError):  # link loops, permissions, NUL in the name
                continue
            if any(_within(real, base) for base in allowed):
                return real, False
            linked_out = True  # a symbolic link that leads out of the notes
        if absolute or linked_out or not inside:
            return None, True  # refused: every way to read it leads out of the notes
        # Obsidian resolves a bare name anywhere in the vault; shortest path wins, like Obsidian.
        matches = [p for p in self._index(root).get(Path(reference).name.casefold(), []) if any(_within(p, b) for b in allowed)]
        return (min(matches, key=lambda p: (len(p.parts), str(p))) if matches else None), False

    @staticmethod
    def _folder(folder: str, note_dir: Path, root: Path) -> Path:
        if folder.startswith(("./", ".\\")) or folder == ".":
            return note_dir / folder
        path = Path(folder).expanduser()
        return path if path.is_absolute() else root / path

    def _index(self, root: Path) -> dict[str, list[Path]]:
        index = self._by_name.get(root)
        if index is None:
            index = {}
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        try:
                            index.setdefault(name.casefold(), []).append(Path(folder, name).resolve(strict=True))
                        except (OSError, RuntimeError):  # dangling link or link loop: not an image
                            continue
            self._by_name[root] = index
        return index

    def _refuse(self, source: str, line: int, target: str, root: Path) -> None:
        self._warn(source, line, "outside-root", f"image {target!r} is outside the notes root {str(root)!r}; refused and "
                   "not read (copy it into the notes)")

    def _warn(self, source: str, line: int, code: str, message: str) -> None:
        self.warnings.append(BuildWarning(source, line, code, message))


def _real(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.expanduser().absolute()


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _lexical(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:10]

"""Media: find the images notes refer to and give each a collision-free name in the package.

Anki stores media flat by file name, so two `diagram.png` from different folders would collide:
each file is named `<stem>-<content hash><ext>`. A reference is looked up relative to the note,
then the notes root, then the attachment folders, then (Obsidian style) by file name anywhere
under the root. Nothing outside the notes root is ever read.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import unquote

from .errors import BuildWarning

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif"})
DEFAULT_ATTACHMENT_FOLDERS = ("attachments", "assets", "images", "img", "_resources")
_UNSAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


class MediaCollector:
    """Resolves image references for the notes stage and remembers the files to package."""

    def __init__(self, sources: Mapping[str, tuple[Path, Path]], attachment_folders: Sequence[str] = DEFAULT_ATTACHMENT_FOLDERS) -> None:
        self._sources = sources  # rel_path -> (file path, notes root)
        self._folders = tuple(attachment_folders)
        self._by_name: dict[Path, dict[str, list[Path]]] = {}
        self._resolved: dict[Path, str] = {}
        self.files: dict[str, Path] = {}  # package name -> file on disk
        self.warnings: list[BuildWarning] = []

    def __call__(self, target: str, source: str, line: int) -> str | None:
        """The package name for the image `target` referenced at source:line, or None (warned)."""
        found = self._sources.get(source)
        if found is None:
            return None
        note_path, root = found
        reference = unquote(target.split("#", 1)[0].split("?", 1)[0]).strip()
        if not reference:
            return None
        path = self._find(reference, note_path.parent, root)
        if path is None:
            self._warn(source, line, "missing-image", f"image {target!r} not found next to the note, in the notes root "
                       f"or in {', '.join(self._folders)}/; the card shows its name instead")
            return None
        if not _inside(path, root):
            self._warn(source, line, "outside-root", f"image {target!r} is outside the notes root; refused (copy it into the notes)")
            return None
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            self._warn(source, line, "not-an-image", f"{target!r} is not a supported image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
            return None
        name = self._resolved.get(path)
        if name is None:
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            except OSError as error:
                self._warn(source, line, "unreadable-image", f"image {target!r} cannot be read: {error.strerror or error}")
                return None
            stem = _UNSAFE_NAME.sub("_", path.stem).strip("_.") or "image"
            name = f"{stem}-{digest}{path.suffix.lower()}"
            self._resolved[path] = name
            self.files[name] = path
        return name

    def _find(self, reference: str, note_dir: Path, root: Path) -> Path | None:
        relative = Path(reference.lstrip("/")) if reference.startswith("/") else Path(reference)
        candidates = [note_dir / relative, root / relative, *(root / folder / relative for folder in self._folders)]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        # Obsidian resolves a bare name anywhere in the vault; shortest path wins, like Obsidian.
        matches = self._index(root).get(relative.name.casefold(), [])
        return min(matches, key=lambda p: (len(p.parts), str(p))) if matches else None

    def _index(self, root: Path) -> dict[str, list[Path]]:
        index = self._by_name.get(root)
        if index is None:
            index = {}
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        index.setdefault(name.casefold(), []).append(Path(folder, name).resolve())
            self._by_name[root] = index
        return index

    def _warn(self, source: str, line: int, code: str, message: str) -> None:
        self.warnings.append(BuildWarning(source, line, code, message))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True

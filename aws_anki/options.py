"""Build options as two frozen dataclasses, taken alike by the command line and by Python:
`DeckOptions` (what decides the deck's content, with the key the cache and the up-to-date record
use) and `RunOptions` (how a build runs: workers, cache, progress, quality measures).

This module imports nothing of the pipeline: an up-to-date `aws-anki build` must not pay for it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

DECK_LAYOUTS = ("none", "category", "service", "file")
REVERSE_MODES = ("none", "short", "all")

# Progress callback: (stage, done, total), e.g. ("parse", 3, 10) or ("write", 0, 0).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DeckOptions:
    """What decides a deck's notes: deck name and layout, tags, reverse cards, image folders.

    The first six say how facts become notes (`notes.file_notes` reads them); `attachments` names
    the folders images are looked up in after the note's folder and the notes root: relative to the
    notes root (`"attachments"`), to the note (`"./assets"`) or absolute (searched before the
    defaults)."""

    deck_name: str = "AWS"
    deck_by: str = "none"
    reverse: str = "none"
    tag_prefix: str = "AWS"
    file_tags: bool = True
    secondary_tags: bool = False
    attachments: tuple[str, ...] = ()  # strings: Path("./x") would lose the "./"

    def __post_init__(self) -> None:
        if self.deck_by not in DECK_LAYOUTS:
            raise InputError(f"deck_by must be one of {', '.join(DECK_LAYOUTS)}, not {self.deck_by!r}")
        if self.reverse not in REVERSE_MODES:
            raise InputError(f"reverse must be one of {', '.join(REVERSE_MODES)}, not {self.reverse!r}")
        if isinstance(self.attachments, (str, Path)) or not all(isinstance(a, str) for a in self.attachments):
            raise TypeError("attachments must be a tuple of folder names (strings)")

    def key(self) -> str:
        """These options as one string: what the per-file cache and the up-to-date record are for."""
        return repr(self)


@dataclass(frozen=True)
class RunOptions:
    """How a build runs; none of this changes the notes it makes.

    `jobs`: worker processes that parse (None: one per CPU). `use_cache`/`cache_dir`: the per-file
    cache and the up-to-date record (default folder: `AWS_ANKI_CACHE_DIR`, else the user cache
    folder; see `aws_anki.cache`). `progress`: called as `progress("parse", done, total)` while
    files are parsed, and `progress("write", 0, 0)` before the deck is written. `quality`: also
    measure defects and coverage into `report.quality` (what `aws-anki inspect --stats` shows)."""

    jobs: int | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    progress: Progress | None = field(default=None, compare=False)
    quality: bool = False

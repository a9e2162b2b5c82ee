"""What the extract stage gives: a file's facts, the lines that made no card, and what coverage is measured on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Fact:
    """One thing to learn, with its fields as HTML (cloze deletions as render sentinels)."""

    kind: str  # definition | cloze | list | row | cell | qa
    front: str  # basic: the prompt (term, lead-in, question); cloze: the text with deletions
    back: str  # basic: the answer; cloze: ""
    extra: str  # shown on the back: sub-points, code, images
    headings: tuple[str, ...]  # file title > h1 > h2 ... (> lead-in of an enumeration)
    source: str  # notes-root-relative path of the file
    line: int
    subject: str  # plain text the note's identity is derived from
    pattern: str = ""  # which rule of the notes made it (for statistics)

    @property
    def is_cloze(self) -> bool:
        """Whether this fact becomes a cloze note."""
        return self.kind == "cloze"


@dataclass(frozen=True)
class Skip:
    """A line of the notes that made no card, and why."""

    source: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class Extraction:
    """Everything one file gave: its facts, what was skipped, and what coverage is measured on."""

    source: str
    metadata: Mapping[str, Any]
    facts: tuple[Fact, ...]
    skipped: tuple[Skip, ...]
    bold_texts: tuple[tuple[int, str], ...] = ()  # (line, text) of every bold span
    definition_texts: tuple[tuple[int, str, str], ...] = ()  # (line, term, definition) of definition-like lines

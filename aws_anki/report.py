"""The build report: what a build made and skipped, counted from its notes, and kept between builds
(as plain data in the up-to-date record) so that an up-to-date build reports what the last one made.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import BuildWarning
from .source import Source

if TYPE_CHECKING:
    from .notes import CardNote, FileNotes
    from .quality import Quality


@dataclass(frozen=True)
class BuildReport:
    """What a build made and what it skipped: counts per kind and service, warnings with file:line."""

    files: int
    notes: int
    cards: int
    notes_by_kind: Mapping[str, int]
    notes_by_type: Mapping[str, int]
    cards_by_type: Mapping[str, int]
    notes_by_service: Mapping[str, int]
    unresolved: tuple[Source, ...]  # facts whose service could not be resolved
    skipped: Mapping[str, int]
    merged: int
    warnings: tuple[BuildWarning, ...]
    seconds: Mapping[str, float] = field(default_factory=dict)
    # Defects, facts per pattern, coverage: measured only when asked (`RunOptions(quality=True)`).
    quality: Quality | None = None
    files_cached: int = 0  # files whose facts came from the cache (not parsed again)
    workers: int = 0  # worker processes that parsed files (0: this process alone)

    @property
    def bold_spans(self) -> int | None:
        """Bold spans in the notes (None unless quality was measured)."""
        return self.quality.bold_spans if self.quality else None

    @property
    def bold_covered(self) -> int | None:
        """Bold spans some note shows (None unless quality was measured)."""
        return self.quality.bold_covered if self.quality else None

    @property
    def definition_lines(self) -> int | None:
        """`Term: definition` lines in the notes (None unless quality was measured)."""
        return self.quality.definition_lines if self.quality else None

    @property
    def definition_covered(self) -> int | None:
        """Definition lines some note covers (None unless quality was measured)."""
        return self.quality.definition_covered if self.quality else None

    def as_dict(self) -> dict[str, object]:
        """The report as plain data (for `--json`)."""
        return {
            **self._counts(),
            "coverage": {
                "bold_spans": self.bold_spans,
                "bold_covered": self.bold_covered,
                "definition_lines": self.definition_lines,
                "definition_covered": self.definition_covered,
            } if self.quality else None,
            "warnings": [str(w) for w in self.warnings],
            "seconds": dict(self.seconds),
            "files_cached": self.files_cached,
            "workers": self.workers,
            "quality": self.quality.as_dict() if self.quality else None,
        }

    def as_record(self) -> dict[str, Any]:
        """The counts and warnings as plain data that `from_record` reads back (not timings or quality)."""
        return {
            **self._counts(),
            "unresolved": [list(s) for s in self.unresolved],
            "warnings": [[w.path, w.line, w.code, w.message] for w in self.warnings],
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> BuildReport:
        """The report `as_record` gave (KeyError, TypeError or ValueError if it is not one)."""
        return cls(
            files=int(data["files"]),
            notes=int(data["notes"]),
            cards=int(data["cards"]),
            notes_by_kind=_counter(data["notes_by_kind"]),
            notes_by_type=_counter(data["notes_by_type"]),
            cards_by_type=_counter(data["cards_by_type"]),
            notes_by_service=_counter(data["notes_by_service"]),
            unresolved=tuple(Source(str(path), int(line)) for path, line in data["unresolved"]),
            skipped=_counter(data["skipped"]),
            merged=int(data["merged"]),
            warnings=tuple(
                BuildWarning(str(p), None if line is None else int(line), str(c), str(m)) for p, line, c, m in data["warnings"]
            ),
        )

    def _counts(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "notes": self.notes,
            "cards": self.cards,
            "notes_by_kind": dict(self.notes_by_kind),
            "notes_by_type": dict(self.notes_by_type),
            "cards_by_type": dict(self.cards_by_type),
            "notes_by_service": dict(self.notes_by_service),
            "unresolved": list(map(str, self.unresolved)),
            "skipped": dict(self.skipped),
            "merged": self.merged,
        }


def _counter(data: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in data.items()}


def make_report(
    files: int,
    per_file: Sequence[FileNotes],
    notes: Sequence[CardNote],
    unresolved: Sequence[Source],
    warnings: Sequence[BuildWarning],
    quality: Quality | None,
) -> BuildReport:
    """The report of a build of `files` files into `notes`, from each file's notes before merging."""
    kinds: Counter[str] = Counter()
    types: Counter[str] = Counter()
    cards: Counter[str] = Counter()
    services: Counter[str] = Counter()
    for note in notes:
        kinds[note.kind] += 1
        types[note.note_type] += 1
        cards[note.note_type] += note.cards
        services[note.service or "(unresolved)"] += 1
    skipped: Counter[str] = Counter()
    for f in per_file:
        skipped.update(dict(f.skipped))
    return BuildReport(
        files=files,
        notes=len(notes),
        cards=sum(cards.values()),
        notes_by_kind=dict(sorted((+kinds).items())),
        notes_by_type=dict(sorted((+types).items())),
        cards_by_type=dict(sorted((+cards).items())),
        notes_by_service=dict((+services).most_common()),
        unresolved=tuple(unresolved),
        skipped=dict(skipped.most_common()),
        merged=sum(f.facts for f in per_file) - len(notes),
        warnings=tuple(warnings),
        quality=quality,
    )

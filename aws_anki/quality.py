"""Note quality for the build report (`build_deck(run=RunOptions(quality=True))`, `inspect --stats`).

`quality(notes, extractions)` checks notes and measures coverage:
- `big_deletion`: a cloze deletion number hiding more than 60% of its note's visible text;
- `long_answer`: a basic note whose answer (Back) has more than 600 characters of visible text;
- `no_context`: a note with an empty Context;
- `duplicate_front`: a basic note with the same context and front text as an earlier one, or a
  cloze note with the same context and text (deletions included) as an earlier one.
Coverage is measured on what the notes really contain: a bold span or a definition line of the
notes counts as covered only when its words appear in the fields of some note from its file.
The checks of each card as the learner sees it are `cardchecks.card_quality`.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .cardtext import visible_text
from .cloze import MARKER, answered, deletions
from .context import normalise
from .extract import Extraction
from .notes import CardNote
from .source import Source

MAX_DELETION_SHARE = 0.6
MAX_ANSWER_CHARS = 600
DEFECT_KINDS = ("big_deletion", "long_answer", "no_context", "duplicate_front")
# Words a split or trimmed card may drop (`X is Y` becomes front X, back Y).
_GLUE_WORDS = frozenset("a an the is are was were be and or of to in on for it its this that es son el la los las".split())
# A definition body is matched on its first words only (the rest may be wrapped or trimmed).
_BODY_WORDS = 6


@dataclass(frozen=True)
class Defect:
    """One defective note: which defect, where, and a short excerpt."""

    kind: str
    source: Source
    text: str


@dataclass(frozen=True)
class Quality:
    """Defects, coverage and counts per kind and pattern of one build."""

    notes: int
    notes_by_kind: Mapping[str, int]
    facts_by_pattern: Mapping[str, int]
    defects: tuple[Defect, ...]
    bold_spans: int = 0
    bold_covered: int = 0
    definition_lines: int = 0
    definition_covered: int = 0
    uncovered: tuple[str, ...] = field(default=())  # "file:line text" of what no note contains
    # Covered, or on a line the extractor reports as making no card, with its reason (`--skipped`):
    # nothing the author marked is lost silently.
    bold_accounted: int = 0
    definition_accounted: int = 0

    @property
    def defect_counts(self) -> dict[str, int]:
        """How many notes have each defect (every kind listed, zeros included)."""
        counts = Counter(d.kind for d in self.defects)
        return {kind: counts.get(kind, 0) for kind in DEFECT_KINDS}

    @property
    def bold_accounted_share(self) -> float:
        """Share of bold spans that are in some note or on a line reported as making no card."""
        return self.bold_accounted / self.bold_spans if self.bold_spans else 1.0

    @property
    def definition_accounted_share(self) -> float:
        """Share of definition lines that are in some note or reported as making no card."""
        return self.definition_accounted / self.definition_lines if self.definition_lines else 1.0

    def as_dict(self) -> dict[str, object]:
        """Plain data for `--json`."""
        return {
            "notes_by_kind": dict(self.notes_by_kind),
            "facts_by_pattern": dict(self.facts_by_pattern),
            "defects": self.defect_counts,
            "defective_notes": [{"kind": d.kind, "source": str(d.source), "text": d.text} for d in self.defects],
            "coverage": {
                "bold_spans": self.bold_spans,
                "bold_covered": self.bold_covered,
                "definition_lines": self.definition_lines,
                "definition_covered": self.definition_covered,
                "bold_accounted": self.bold_accounted,
                "definition_accounted": self.definition_accounted,
            },
            "uncovered": list(self.uncovered),
        }


def quality(notes: Sequence[CardNote], extractions: Sequence[Extraction] = ()) -> Quality:
    """Count defects over notes; with the extractions, also coverage and facts per pattern."""
    defects = [d for note in notes for d in note_defects(note)]
    defects.extend(_duplicates(notes))
    bold, definitions, uncovered = _coverage(notes, extractions)
    return Quality(
        notes=len(notes),
        notes_by_kind=dict(sorted(Counter(n.kind for n in notes).items())),
        facts_by_pattern=dict(Counter(f.pattern for e in extractions for f in e.facts).most_common()),
        defects=tuple(defects),
        bold_spans=bold[0],
        bold_covered=bold[1],
        definition_lines=definitions[0],
        definition_covered=definitions[1],
        uncovered=tuple(uncovered),
        bold_accounted=bold[2],
        definition_accounted=definitions[2],
    )


def deletion_shares(text_field: str) -> dict[int, float]:
    """For each cloze number of a Text field, the share of the visible text it hides."""
    total = len(visible_text(answered(text_field))) or 1
    hidden: Counter[int] = Counter()
    for number, text in deletions(text_field):
        hidden[number] += len(visible_text(text))
    return {number: size / total for number, size in hidden.items()}


def note_defects(note: CardNote) -> list[Defect]:
    """The defects one note has on its own (everything but duplicates)."""
    found: list[Defect] = []
    if not note.context.strip():
        found.append(Defect("no_context", note.source, _excerpt(note.fields[0])))
    if note.note_type == "cloze":
        shares = deletion_shares(note.fields[0])
        if any(share > MAX_DELETION_SHARE for share in shares.values()):
            found.append(Defect("big_deletion", note.source, _excerpt(note.fields[0])))
    elif len(visible_text(answered(note.field("Back")))) > MAX_ANSWER_CHARS:
        found.append(Defect("long_answer", note.source, _excerpt(note.fields[0])))
    return found


def _duplicates(notes: Sequence[CardNote]) -> list[Defect]:
    seen: dict[tuple[str, str, str], Source] = {}
    found: list[Defect] = []
    for note in notes:
        text = visible_text(answered(note.fields[0])) if note.note_type == "basic" else " ".join(note.fields[0].split())
        key = (note.note_type, normalise(note.context), text.casefold())
        if key in seen:
            found.append(Defect("duplicate_front", note.source, f"{_excerpt(note.fields[0])} (as at {seen[key]})"))
        else:
            seen[key] = note.source
    return found


def _coverage(
    notes: Sequence[CardNote], extractions: Sequence[Extraction]
) -> tuple[tuple[int, int, int], tuple[int, int, int], list[str]]:
    """Honest coverage: a key text counts only if its words are found in a note from its file.
    Each pair also counts what is accounted for: covered, or on a line reported as skipped."""
    indexes: dict[str, _WordIndex] = defaultdict(_WordIndex)
    for note in notes:
        words = normalise(visible_text(MARKER.sub(" ", " ".join(note.fields)))).split()
        for source in (note.source, *note.merged_sources):
            indexes[source.path].add(words)
    bold_total = bold_hits = definition_total = definition_hits = bold_told = definition_told = 0
    uncovered: list[str] = []
    for extraction in extractions:
        index = indexes[extraction.source]
        # What the extractor reported as making no card, by line and by words (a sentence's line
        # and a bold span's nearest known line can differ inside a paragraph).
        skipped = {s.line for s in extraction.skipped}
        told = _WordIndex()
        for skip in extraction.skipped:
            told.add(normalise(skip.text).split())
        for line, text in extraction.bold_texts:
            bold_total += 1
            if index.covers(normalise(text).split()):
                bold_hits += 1
            else:
                bold_told += line in skipped or told.covers(normalise(text).split()[:_BODY_WORDS])
                uncovered.append(f"{extraction.source}:{line} bold: {text[:80]}")
        for line, term, body in extraction.definition_texts:
            definition_total += 1
            if index.covers(normalise(term).split()) and index.covers(normalise(body).split()[:_BODY_WORDS]):
                definition_hits += 1
            else:
                definition_told += line in skipped or told.covers(normalise(f"{term} {body}").split()[:_BODY_WORDS])
                uncovered.append(f"{extraction.source}:{line} definition: {term[:40]}: {body[:60]}")
    return (
        (bold_total, bold_hits, bold_hits + bold_told),
        (definition_total, definition_hits, definition_hits + definition_told),
        uncovered,
    )


class _WordIndex:
    """Where each word occurs in the notes of one file, to find a run of words quickly."""

    def __init__(self) -> None:
        self.notes: list[list[str]] = []
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)

    def add(self, words: list[str]) -> None:
        """Index the words of one note."""
        number = len(self.notes)
        self.notes.append(words)
        for position, word in enumerate(words):
            self.postings[word].append((number, position))

    def covers(self, words: list[str]) -> bool:
        """Whether some note holds these words in this order, or every longer word of them
        (a split `X is Y` drops the verb; a trimmed answer moves words to Extra)."""
        if not words:
            return True
        if all(word in self.postings for word in words):
            rarest = min(range(len(words)), key=lambda i: len(self.postings[words[i]]))
            for number, position in self.postings[words[rarest]]:
                start = position - rarest
                if start >= 0 and self.notes[number][start : start + len(words)] == words:
                    return True
        content = [w for w in words if w not in _GLUE_WORDS] or words
        if any(word not in self.postings for word in content):
            return False
        common = {n for n, _ in self.postings[content[0]]}
        for word in content[1:]:
            common &= {n for n, _ in self.postings[word]}
            if not common:
                return False
        return bool(common)


def _excerpt(field_html: str) -> str:
    text = visible_text(answered(field_html))
    return text if len(text) <= 100 else text[:99] + "…"

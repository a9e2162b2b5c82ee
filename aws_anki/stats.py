"""Card quality: what `inspect --stats` reports, over built notes.

Two sets of checks. `quality(notes, extractions)` (the build report's, `build_deck(run=RunOptions(quality=True))`)
checks notes and measures coverage:
- `big_deletion`: a cloze deletion number hiding more than 60% of its note's visible text;
- `long_answer`: a basic note whose answer (Back) has more than 600 characters of visible text;
- `no_context`: a note with an empty Context;
- `duplicate_front`: a basic note with the same context and front text as an earlier one, or a
  cloze note with the same context and text (deletions included) as an earlier one.
Coverage is measured on what the notes really contain: a bold span or a definition line of the
notes counts as covered only when its words appear in the fields of some note from its file.

`card_quality(notes)` checks every card as the learner sees it (rendered with the deck's own
templates, read as plain text by `cardtext`), for the defect classes of the blind-rating rubric
that a program can see. A card has a class's defect when (the thresholds are the constants below):
- `grab_bag_front`: a basic card whose Front ends with "key points", or whose Back is a list (every
  top-level line an item) with GRAB_BAG_SENTENCES or more full sentences (an item of
  SENTENCE_MIN_WORDS words or more that ends with `.`/`!` or holds a verb of SENTENCE_VERBS, or of
  FULL_SENTENCE_WORDS words) while the Front does not introduce a list (`introduces_list`: it
  ends with `:`/`?`/"such as", names a list (LIST_WORDS) or ends with a plural noun);
- `cloze_over_one_sentence`: a cloze note whose Text (Extra left out) has more than one sentence
  (`split_sentences` on each line; a lead-in line ending with `:` joins the line after it) or
  more than one list item;
- `set_item_blanked`: in a cloze Text holding a list of MIN_SET_ITEMS or more items, the card's
  deletion is the whole text of an item, or some items (not all) are wholly blanked;
- `whole_sentence_blanked`: the card's deletion hides at least WHOLE_SENTENCE_SHARE of the words
  of a sentence of the Text;
- `glyph`: the card's text holds a text bullet (•, ◦, ▪ and kin), a line starting with `o `, an
  emoji or pictograph (✅, ❌ included), or an image file name (`x.png`) outside an image and
  outside code;
- `meta`: notes about the notes: "table of contents", "this page/file/section covers", "each file
  in this folder", a context heading "Contents"/"Index", a list of MIN_INDEX_ITEMS or more items
  more than half of which are links, or a table of contents (a list more than half of whose items
  are headings of the same file: MIN_CONTENTS_ITEMS items, or MIN_NESTED_CONTENTS_ITEMS if nested);
- `long_answer`: a basic card whose Back (not Extra) has more than MAX_ANSWER_WORDS words and more
  than one sentence (a list answer: only the next rule), or more than MAX_LONG_ITEMS items of more
  than LONG_ITEM_WORDS words; a cloze card with a deletion of more than MAX_DELETION_WORDS words;
- `parent_twice`: a side of the card shows the same line twice, or a line that begins another
  (lines of MIN_REPEATED_WORDS words or more, compared as `context.normalise` words; the context line
  counts);
- `answer_on_front`: the card's deletion (or, on a basic card, the answer when it has at most
  MAX_SHORT_ANSWER_WORDS words; on a reverse card the term) is on the front, context included,
  compared case-, hyphen- and space-blind and on word boundaries (stopwords alone never count);
- `duplicate_first_field`: another note of the same note type has the same first field (Front or
  Text) once HTML is stripped, spaces collapsed and case folded (Anki's duplicate check compares
  the first field stripped of HTML): every note of such a group has it;
- `big_deletion`: the card's deletion hides more than MAX_DELETION_SHARE of the Text;
- `no_context`: the note has an empty Context.
Counts are of cards; a note's defect is one for each of its cards.
"""
from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from .cardtext import card_text, html_text
from .extract import Extraction
from .context import CONTEXT_SEPARATOR, html_to_plain, normalise
from .notes import CardNote
from .source import Source

if TYPE_CHECKING:
    from .preview import PreviewCard

MAX_DELETION_SHARE = 0.6
MAX_ANSWER_CHARS = 600
DEFECT_KINDS = ("big_deletion", "long_answer", "no_context", "duplicate_front")
_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::([^{}]*?))?\}\}", re.S)
_SPACES = re.compile(r"\s+")
_TAGS_AND_CLOZE = re.compile(r"<[^>]*>|\{\{c\d+::|\}\}")
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
    def bold_coverage(self) -> float:
        """Share of bold spans whose text is in some note (1.0 when there are none)."""
        return self.bold_covered / self.bold_spans if self.bold_spans else 1.0

    @property
    def bold_accounted_share(self) -> float:
        """Share of bold spans that are in some note or on a line reported as making no card."""
        return self.bold_accounted / self.bold_spans if self.bold_spans else 1.0

    @property
    def definition_accounted_share(self) -> float:
        """Share of definition lines that are in some note or reported as making no card."""
        return self.definition_accounted / self.definition_lines if self.definition_lines else 1.0

    @property
    def definition_coverage(self) -> float:
        """Share of definition lines whose term and definition are in some note."""
        return self.definition_covered / self.definition_lines if self.definition_lines else 1.0

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


def visible_text(field_html: str) -> str:
    """What a field shows once answered: cloze markup resolved, tags dropped, spaces collapsed."""
    return _SPACES.sub(" ", html_to_plain(_CLOZE.sub(lambda m: m.group(2), field_html))).strip()


def deletion_shares(text_field: str) -> dict[int, float]:
    """For each cloze number of a Text field, the share of the visible text it hides."""
    total = len(visible_text(text_field)) or 1
    hidden: Counter[int] = Counter()
    for match in _CLOZE.finditer(text_field):
        hidden[int(match.group(1))] += len(visible_text(match.group(2)))
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
    elif len(visible_text(note.field("Back"))) > MAX_ANSWER_CHARS:
        found.append(Defect("long_answer", note.source, _excerpt(note.fields[0])))
    return found


def _duplicates(notes: Sequence[CardNote]) -> list[Defect]:
    seen: dict[tuple[str, str, str], Source] = {}
    found: list[Defect] = []
    for note in notes:
        text = visible_text(note.fields[0]) if note.note_type == "basic" else _SPACES.sub(" ", note.fields[0]).strip()
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
        words = normalise(html.unescape(_TAGS_AND_CLOZE.sub(" ", " ".join(note.fields)))).split()
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
    text = visible_text(field_html)
    return text if len(text) <= 100 else text[:99] + "…"


# Card defects: what a learner sees on each card ---------------------------------------------------

CARD_DEFECT_KINDS = (
    "grab_bag_front",
    "cloze_over_one_sentence",
    "set_item_blanked",
    "whole_sentence_blanked",
    "glyph",
    "meta",
    "long_answer",
    "parent_twice",
    "answer_on_front",
    "duplicate_first_field",
    "big_deletion",
    "no_context",
)
EXAMPLES_PER_KIND = 3
EXCERPT_CHARS = 100
# grab_bag_front: a list item is a full sentence when it has at least SENTENCE_MIN_WORDS words and
# ends with `.`/`!` or has a verb of SENTENCE_VERBS, or has FULL_SENTENCE_WORDS words whatever it
# ends with; a list answer is a grab bag with GRAB_BAG_SENTENCES such items.
FULL_SENTENCE_WORDS = 12
SENTENCE_MIN_WORDS = 5
GRAB_BAG_SENTENCES = 2
# set_item_blanked: the least items of a list that is a set.
MIN_SET_ITEMS = 3
# whole_sentence_blanked: the share of a sentence's words one deletion may hide.
WHOLE_SENTENCE_SHARE = 0.8
# long_answer: an answer over MAX_ANSWER_WORDS words and one sentence; over MAX_LONG_ITEMS items
# of over LONG_ITEM_WORDS words; a deletion of over MAX_DELETION_WORDS words.
MAX_ANSWER_WORDS = 25
MAX_LONG_ITEMS = 3
LONG_ITEM_WORDS = 8
MAX_DELETION_WORDS = 9
# parent_twice: the least words a repeated line has.
MIN_REPEATED_WORDS = 4
# answer_on_front: a basic card's answer is looked for on the front only when this short.
MAX_SHORT_ANSWER_WORDS = 4
# meta: an index is a list of at least MIN_INDEX_ITEMS items, more than half of them links; a table
# of contents a list more than half of whose items are headings of the same file, with at least
# MIN_CONTENTS_ITEMS items, or nested (headings at two depths) with at least MIN_NESTED_CONTENTS_ITEMS.
MIN_INDEX_ITEMS = 2
MIN_CONTENTS_ITEMS = 8
MIN_NESTED_CONTENTS_ITEMS = 3

# Verbs that make a list item a sentence rather than a noun phrase: auxiliaries, modals and the
# commonest verbs of technical prose in the third person (`S3 stores`, `it allows`).
SENTENCE_VERBS = frozenset(
    "is are was were be been being am isn't aren't wasn't weren't can cannot can't could couldn't will won't "
    "would wouldn't shall should shouldn't may might must has have had hasn't haven't does do did doesn't don't "
    "allows lets enables supports provides offers stores sends runs uses needs requires means gives makes takes "
    "creates contains includes handles manages helps keeps becomes gets returns scales replicates triggers".split()
)
# Words a sentence does not end after (the full stop is part of the word).
ABBREVIATIONS = frozenset(
    "e.g. i.e. etc. vs. v. cf. approx. incl. eg. ie. aka. a.k.a. e.t.c. no. nos. fig. resp. mr. mrs. ms. dr. "
    "st. inc. ltd. co. corp. jr. sr. u.s. u.k. al.".split()
)
# Words that alone are no answer to see on the front (an article, `not`, a preposition).
_STOPWORDS = frozenset(
    "a an the and or not no of to in on at by for with from as is are be it its this that".split()
)
# Words whose presence in a front announces a list answer ("Storage classes", "Ways to ...").
LIST_WORDS = frozenset(
    "types kinds ways steps options features benefits advantages disadvantages pros cons reasons components "
    "parts modes classes methods strategies examples categories levels tiers models rules limits requirements "
    "properties characteristics elements stages phases pillars principles practices differences considerations "
    "factors services tools cases patterns scenarios metrics attributes fields values settings parameters "
    "policies targets sources states statuses actions events".split()
) | {"use case", "use cases", "best practices", "key features"}
_KEY_POINTS = re.compile(r"\bkey points\W*$", re.I)
_INTRODUCES_LIST = re.compile(r"[:?]\s*$|\b(?:include|includes|including|consists? of|such as|as follows|following)\s*$", re.I)
_WORD = re.compile(r"\w+", re.U)
# A word of an answer looked for on the front: `10%` is not `10`, `long-polling` is `long polling`.
_ANSWER_WORD = re.compile(r"\w+%?", re.U)
# A word as a reader counts it: `us-east-1`, `don't` and `e.g.` are one each.
_COUNTED_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.U)
_SENTENCE_END = re.compile(r"([.!?]+)([\"'”’)\]]*)\s+(?=\S)")
_ITEM_LINE = re.compile(r"^( *)- ")
_BULLET_GLYPHS = "•◦▪▫‣●►▸"
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B05-\u2B07\u2B1B\u2B1C\u2B50\u2B55\u231A\u231B\u23E9-\u23F3\u23F8-\u23FA]"
)
_GLYPHS = re.compile(f"[{_BULLET_GLYPHS}]|{_EMOJI.pattern}")
_TEXT_BULLET_O = re.compile(r"^(?:\s*- )?\s*o\s")
_CODE = re.compile(r"<(pre|code)\b.*?</\1\s*>", re.S | re.I)
_IMAGE_NAME = re.compile(r"\b\S+\.(?:png|jpe?g|gif|svg|webp)\b", re.I)
_META = re.compile(
    r"\btable of contents\b"
    r"|\bthis (?:page|file|section|document|note|notes|guide|repo|repository|folder|chapter|article)\s+"
    r"(?:covers|contains|describes|lists|explains|summari[sz]es|includes|is about|goes over)\b"
    r"|\beach (?:file|page|note|document)\b[^.\n]{0,40}\b(?:in|of) this (?:folder|directory|repo|repository|section)\b"
    r"|\beach (?:file|page|note) covers\b",
    re.I,
)
_META_HEADINGS = frozenset({"contents", "table of contents", "toc", "index"})
# Cloze markup as the Text field holds it, and the markers it becomes in plain text.
_CLOZE_TOKEN = re.compile(r"\{\{c(\d+)::|\}\}|::")
_MARK_OPEN, _MARK_NUMBER_END, _MARK_CLOSE = "\ue010", "\ue011", "\ue012"
_MARKS = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_NUMBER_END}|{_MARK_CLOSE}")


@dataclass(frozen=True)
class CardDefect:
    """One defect of one card: its class, the note's file:line, the card and a short excerpt."""

    kind: str
    source: Source
    card: str  # the template's name: "Card 1", "Reverse", "Cloze 2"
    text: str


@dataclass(frozen=True)
class CardQuality:
    """The card defects of a set of notes (what `card_quality` finds), counted per card."""

    notes: int
    cards: int
    defects: tuple[CardDefect, ...]  # one per defective card and class, in note order
    defective_cards: int  # cards with at least one defect

    @property
    def counts(self) -> dict[str, int]:
        """Cards with each defect class (every class listed, zeros included)."""
        counts = Counter(d.kind for d in self.defects)
        return {kind: counts.get(kind, 0) for kind in CARD_DEFECT_KINDS}

    @property
    def defective_share(self) -> float:
        """Share of cards with at least one defect (0.0 with no cards)."""
        return self.defective_cards / self.cards if self.cards else 0.0

    def examples(self, kind: str, limit: int = EXAMPLES_PER_KIND) -> tuple[CardDefect, ...]:
        """The first `limit` defects of a class, one per note."""
        found: list[CardDefect] = []
        seen: set[Source] = set()
        for defect in self.defects:
            if defect.kind == kind and defect.source not in seen:
                seen.add(defect.source)
                found.append(defect)
                if len(found) == limit:
                    break
        return tuple(found)

    def as_dict(self) -> dict[str, object]:
        """Plain data for `--json`: totals, counts and examples per class."""
        return {
            "notes": self.notes,
            "cards": self.cards,
            "defective_cards": self.defective_cards,
            "defective_share": round(self.defective_share, 4),
            "counts": self.counts,
            "examples": {
                kind: [{"source": str(d.source), "card": d.card, "text": d.text} for d in self.examples(kind)]
                for kind in CARD_DEFECT_KINDS
            },
        }


def card_quality(notes: Sequence[CardNote]) -> CardQuality:
    """Every card of `notes` (rendered as Anki shows it) checked for each class of CARD_DEFECT_KINDS."""
    from .preview import preview_cards  # lazy: the card templates are read only when cards are checked

    duplicates = _duplicate_first_fields(notes)
    headings: dict[str, set[str]] = defaultdict(set)
    for note in notes:
        headings[_file_of(note)].update(map(normalise, note.context.split(CONTEXT_SEPARATOR)))
    defects: list[CardDefect] = []
    cards = defective = 0
    for index, note in enumerate(notes):
        view = _NoteView(note, duplicates.get(index), headings[_file_of(note)])
        for card in preview_cards(note):
            cards += 1
            found = _card_defects(view, card)
            defective += bool(found)
            defects.extend(CardDefect(kind, note.source, card.template, text) for kind, text in found)
    return CardQuality(notes=len(notes), cards=cards, defects=tuple(defects), defective_cards=defective)


def _card_defects(view: _NoteView, card: PreviewCard) -> list[tuple[str, str]]:
    seen = _CardView(view, card)
    found: list[tuple[str, str]] = []
    for kind in CARD_DEFECT_KINDS:
        excerpt = _CHECKS[kind](seen)
        if excerpt is not None:
            found.append((kind, _short(excerpt)))
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences of one line of text: a `.`, `!` or `?` and a space end one, except after an
    abbreviation (e.g., i.e., etc., vs., ...), an initial (`J.`) or an ellipsis; a decimal or a
    file name (`3.5`, `file.txt`) has no space after its dot, so never ends one."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if ".." in match.group(1) or match.group(1) == "." and _abbreviation(text[start : match.start()]):
            continue
        piece = text[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _file_of(note: CardNote) -> str:
    return note.source.path


def _abbreviation(before: str) -> bool:
    words = _MARKS.sub("", before).split()
    if not words:
        return False
    word = words[-1].lstrip("([\"'").casefold() + "."
    return word in ABBREVIATIONS or (len(word) == 2 and word[0].isalpha())


def _words(text: str) -> list[str]:
    return _WORD.findall(_MARKS.sub(" ", text).casefold())


def word_count(text: str) -> int:
    """Words as a reader counts them (`us-east-1` is one)."""
    return len(_COUNTED_WORD.findall(_MARKS.sub(" ", text)))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _duplicate_first_fields(notes: Sequence[CardNote]) -> dict[int, Source]:
    """Index of each note whose first field another note of its type shares -> where that one is."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, note in enumerate(notes):
        groups[(note.note_type, first_field_key(note.fields[0]))].append(index)
    found: dict[int, Source] = {}
    for (_, key), members in groups.items():
        if len(members) < 2 or not key:
            continue
        for index in members:
            other = next(m for m in members if m != index)
            found[index] = notes[other].source
    return found


def first_field_key(field_html: str) -> str:
    """A first field as Anki's duplicate check compares it (HTML stripped), also case- and space-folded."""
    return _SPACES.sub(" ", html_to_plain(field_html)).strip().casefold()


# Text as the checks read it ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Marked:
    """A cloze Text as plain lines, each character with the number of the deletion it is in."""

    text: str  # plain text, lines separated by "\n"
    owner: tuple[int, ...]  # per character: its deletion number, 0 outside any

    def lines(self) -> list[tuple[int, int]]:
        """(start, end) of each line."""
        spans, start = [], 0
        for line in self.text.split("\n"):
            spans.append((start, start + len(line)))
            start += len(line) + 1
        return spans

    def words(self, start: int, end: int) -> list[tuple[str, int]]:
        """(word, deletion number) of the words in text[start:end]."""
        return [(m.group().casefold(), self.owner[m.start()]) for m in _WORD.finditer(self.text, start, end)]

    def runs(self, number: int) -> list[str]:
        """The text of each stretch deletion `number` hides."""
        runs, current = [], []
        for char, owner in zip(self.text, self.owner):
            if owner == number:
                current.append(char)
            elif current:
                runs.append("".join(current))
                current = []
        if current:
            runs.append("".join(current))
        return runs


def mark_deletions(text_field: str) -> str:
    """A cloze Text field with its deletions as private-use markers (number kept, hints dropped),
    so that they survive the HTML being turned into plain text."""
    out: list[str] = []
    stack: list[bool] = []  # per open deletion: whether its hint began (text after it is dropped)
    position = 0
    for match in _CLOZE_TOKEN.finditer(text_field):
        piece = text_field[position : match.start()]
        if not (stack and stack[-1]):
            out.append(piece)
        position = match.end()
        token = match.group(0)
        if match.group(1) is not None:
            stack.append(False)
            out.append(f"{_MARK_OPEN}{match.group(1)}{_MARK_NUMBER_END}")
        elif token == "}}":
            if stack:
                stack.pop()
                out.append(_MARK_CLOSE)
            else:
                out.append(token)
        elif stack:
            stack[-1] = True  # `::` inside a deletion: the hint follows
        else:
            out.append(token)
    if not (stack and stack[-1]):
        out.append(text_field[position:])
    return "".join(out)


def _marked(text_field: str) -> _Marked:

    marked = html_text(mark_deletions(text_field))
    chars: list[str] = []
    owner: list[int] = []
    stack: list[int] = []
    position = 0
    for match in _MARKS.finditer(marked):
        chars.append(marked[position : match.start()])
        owner.extend([stack[-1] if stack else 0] * (match.start() - position))
        position = match.end()
        if match.group(1) is not None:
            stack.append(int(match.group(1)))
        elif stack:
            stack.pop()
    chars.append(marked[position:])
    owner.extend([stack[-1] if stack else 0] * (len(marked) - position))
    return _Marked("".join(chars), tuple(owner))


class _NoteView:
    """What the checks read of one note, each worked out once for all its cards."""

    def __init__(self, note: CardNote, duplicate_of: Source | None, headings: set[str]) -> None:

        self.note = note
        self.duplicate_of = duplicate_of
        self.headings = headings  # the normalised headings of the note's file (from all its notes)
        self.cloze = note.note_type == "cloze"
        self.marked = _marked(note.fields[0]) if self.cloze else _Marked("", ())
        self.front = html_text(note.fields[0]) if not self.cloze else ""
        self.back = html_text(note.field("Back")) if not self.cloze else ""
        self._sentences: list[tuple[int, int]] | None = None

    def sentences(self) -> list[tuple[int, int]]:
        """(start, end) of each sentence of a cloze Text: each line (a list item without its marker)
        split into sentences; a line ending with `:` is a lead-in, joined to the line after it."""
        if self._sentences is None:
            text = self.marked.text
            spans: list[tuple[int, int]] = []
            lead: tuple[int, int] | None = None  # a lead-in waiting for the line after it
            for start, end in self.marked.lines():
                if not text[start:end].strip():
                    continue
                item = _ITEM_LINE.match(text[start:end])
                if item:
                    start += item.end()
                if lead is not None:
                    start, lead = lead[0], None
                if text[start:end].rstrip().endswith(":"):
                    lead = (start, end)
                    continue
                offset = start
                for sentence in split_sentences(text[start:end]):
                    at = text.index(sentence, offset, end)
                    spans.append((at, at + len(sentence)))
                    offset = at + len(sentence)
            if lead is not None:
                spans.append(lead)
            self._sentences = spans
        return self._sentences

    def items(self) -> list[list[tuple[int, int]]]:
        """The list items of a cloze Text as lists of siblings: (start, end) of each item's first line."""
        text = self.marked.text
        lists: list[list[tuple[int, int]]] = []
        open_lists: dict[int, list[tuple[int, int]]] = {}  # indent -> the list being read at that depth
        for start, end in self.marked.lines():
            line = text[start:end]
            match = _ITEM_LINE.match(line)
            indent = len(match.group(1)) if match else len(line) - len(line.lstrip(" "))
            for depth in [d for d in open_lists if d > indent or (not match and d >= indent)]:
                lists.append(open_lists.pop(depth))
            if match:
                open_lists.setdefault(indent, []).append((start + match.end(), end))
        lists.extend(open_lists.values())
        return lists

    def back_lines(self) -> list[str]:
        return [line for line in self.back.split("\n") if line.strip()]


@dataclass
class _CardView:
    view: _NoteView
    card: PreviewCard

    def __post_init__(self) -> None:

        self.front, self.back = card_text(self.card)
        self.number = self.card.ord + 1 if self.view.cloze else 0


# The checks: each returns an excerpt when the card has the defect, else None --------------------


def _grab_bag_front(seen: _CardView) -> str | None:
    view = seen.view
    if view.cloze:
        return None
    if _KEY_POINTS.search(view.front):
        return view.front
    lines = view.back_lines()
    if len(lines) < GRAB_BAG_SENTENCES or any(not line.startswith("- ") for line in lines if not line.startswith(" ")):
        return None
    items = [line[2:] for line in lines if line.startswith("- ")]
    sentences = [item for item in items if _full_sentence(item)]
    if len(sentences) >= GRAB_BAG_SENTENCES and not introduces_list(view.front):
        return f"{view.front} → {sentences[0]}"
    return None


def _full_sentence(text: str) -> bool:
    words = [word.casefold().replace("’", "'") for word in _COUNTED_WORD.findall(text)]
    if len(words) >= FULL_SENTENCE_WORDS:
        return True
    return len(words) >= SENTENCE_MIN_WORDS and (
        text.rstrip().endswith((".", "!")) or any(word in SENTENCE_VERBS for word in words)
    )


def introduces_list(front: str) -> bool:
    """Whether a front asks for a list: ends with `:` or `?` or `such as`, names a list (`types`,
    `use cases`, ...) or ends with a plural noun (`Storage classes`)."""
    text = _MARKS.sub("", front).strip()
    if _INTRODUCES_LIST.search(text):
        return True
    words = _words(text)
    if any(word in LIST_WORDS for word in words) or any(" ".join(pair) in LIST_WORDS for pair in zip(words, words[1:])):
        return True
    last = words[-1] if words else ""
    return len(last) >= 4 and last.isalpha() and last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _cloze_over_one_sentence(seen: _CardView) -> str | None:
    view = seen.view
    if not view.cloze:
        return None
    items = sum(len(siblings) for siblings in view.items())
    if items > 1 or len(view.sentences()) > 1:
        return view.marked.text
    return None


def _set_item_blanked(seen: _CardView) -> str | None:
    view = seen.view
    if not view.cloze:
        return None
    text = view.marked.text
    for siblings in view.items():
        if len(siblings) < MIN_SET_ITEMS:
            continue
        blanked = []
        for start, end in siblings:
            words = view.marked.words(start, end)
            if words and all(number for _, number in words):
                blanked.append((start, end, {number for _, number in words}))
        for start, end, numbers in blanked:
            if numbers == {seen.number}:
                return text[start:end]
        if blanked and len(blanked) < len(siblings):
            start, end, _ = blanked[0]
            return text[start:end]
    return None


def _whole_sentence_blanked(seen: _CardView) -> str | None:
    view = seen.view
    if not view.cloze:
        return None
    for start, end in view.sentences():
        words = view.marked.words(start, end)
        hidden = sum(1 for _, number in words if number == seen.number)
        if words and hidden and hidden >= WHOLE_SENTENCE_SHARE * len(words):
            return view.marked.text[start:end]
    return None


def _glyph(seen: _CardView) -> str | None:
    for line in (*seen.front.split("\n"), *seen.back.split("\n")):
        if _GLYPHS.search(line) or _TEXT_BULLET_O.match(line):
            return line
    if _IMAGE_NAME.search(seen.back) or _IMAGE_NAME.search(seen.front):

        for side in (seen.card.question, seen.card.answer):  # a file name in code is no image name
            for line in html_text(_CODE.sub(" ", side)).split("\n"):
                if _IMAGE_NAME.search(line):
                    return line
    return None


def _meta(seen: _CardView) -> str | None:
    for line in (*seen.front.split("\n"), *seen.back.split("\n")):
        if _META.search(line):
            return line
    for heading in seen.view.note.context.split(CONTEXT_SEPARATOR):
        if normalise(heading) in _META_HEADINGS:
            return seen.view.note.context
    items, links = _link_items(seen.card.answer)
    if items >= MIN_INDEX_ITEMS and links * 2 > items:
        return f"{links} of {items} list items are links: {seen.front}"
    view = seen.view
    entries = [(len(m.group(1)), normalise(line[m.end() :])) for line in seen.back.split("\n") if (m := _ITEM_LINE.match(line))]
    if len(entries) >= MIN_NESTED_CONTENTS_ITEMS and view.headings:
        own = set(map(normalise, view.note.context.split(CONTEXT_SEPARATOR)))
        sections = [(depth, entry) for depth, entry in entries if entry in view.headings and entry not in own]
        nested = len({depth for depth, _ in sections}) > 1
        if len(sections) * 2 > len(entries) and (nested or len(entries) >= MIN_CONTENTS_ITEMS):
            return f"{len(sections)} of {len(entries)} list items are headings of this file: {seen.front}"
    return None


def _long_answer(seen: _CardView) -> str | None:
    view = seen.view
    if view.cloze:
        for run in view.marked.runs(seen.number):
            if word_count(run) > MAX_DELETION_WORDS:
                return run
        return None
    lines = view.back_lines()
    long_items = [line for line in lines if _ITEM_LINE.match(line) and word_count(line) > LONG_ITEM_WORDS]
    if len(long_items) > MAX_LONG_ITEMS:
        return f"{len(long_items)} long items: {long_items[0].strip()}"
    is_list = bool(lines) and all(line.startswith(("- ", " ")) for line in lines)
    if is_list:
        return None
    words = word_count(view.back)
    sentences = sum(len(split_sentences(line)) for line in lines)
    if words > MAX_ANSWER_WORDS and sentences > 1:
        return f"{words} words, {sentences} sentences: {view.back}"
    return None


def _parent_twice(seen: _CardView) -> str | None:
    for face in (seen.front, seen.back):
        lines = [normalise(line) for line in face.split("\n")]
        lines = [line for line in lines if len(line.split()) >= MIN_REPEATED_WORDS]
        for index, line in enumerate(lines):
            for other in lines[index + 1 :]:
                if other == line or other.startswith(line + " ") or line.startswith(other + " "):
                    return line
    return None


def _answer_on_front(seen: _CardView) -> str | None:
    view = seen.view
    if view.cloze:
        answers = view.marked.runs(seen.number)
    else:
        answer = view.front if seen.card.template == "Reverse" else view.back
        answers = [answer] if word_count(answer) <= MAX_SHORT_ANSWER_WORDS else []
    front_words = _ANSWER_WORD.findall(seen.front.casefold())
    for answer in answers:
        words = _ANSWER_WORD.findall(answer.casefold())
        if words and not all(word in _STOPWORDS for word in words) and _has_run(front_words, "".join(words)):
            return f"{answer.strip()} (on the front: {seen.front.replace(chr(10), ' / ')})"
    return None


def _has_run(words: Sequence[str], target: str) -> bool:
    """Whether consecutive `words`, joined without spaces, spell `target` (hyphen- and space-blind)."""
    if target not in "".join(words):
        return False
    for start in range(len(words)):
        joined = ""
        for word in words[start:]:
            joined += word
            if len(joined) >= len(target):
                break
        if joined == target:
            return True
    return False


def _duplicate_first_field(seen: _CardView) -> str | None:
    view = seen.view
    if view.duplicate_of is None:
        return None
    return f"{html_to_plain(view.note.fields[0])} (also at {view.duplicate_of})"


def _big_deletion(seen: _CardView) -> str | None:
    view = seen.view
    if view.cloze and deletion_shares(view.note.fields[0]).get(seen.number, 0.0) > MAX_DELETION_SHARE:
        return view.marked.text
    return None


def _no_context(seen: _CardView) -> str | None:
    return seen.front if not seen.view.note.context.strip() else None


_CHECKS: dict[str, Callable[[_CardView], str | None]] = {
    "grab_bag_front": _grab_bag_front,
    "cloze_over_one_sentence": _cloze_over_one_sentence,
    "set_item_blanked": _set_item_blanked,
    "whole_sentence_blanked": _whole_sentence_blanked,
    "glyph": _glyph,
    "meta": _meta,
    "long_answer": _long_answer,
    "parent_twice": _parent_twice,
    "answer_on_front": _answer_on_front,
    "duplicate_first_field": _duplicate_first_field,
    "big_deletion": _big_deletion,
    "no_context": _no_context,
}
assert tuple(_CHECKS) == CARD_DEFECT_KINDS


class _LinkItems(HTMLParser):
    """Counts list items, and those whose text is all link text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[list[str]] = []  # per open item: [own text, link text]
        self.links = 0
        self.items = 0
        self.in_link = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.stack.append(["", ""])
        elif tag == "a":
            self.in_link += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self.stack:
            own, link = self.stack.pop()
            self.items += 1
            if _WORD.search(link) and not _WORD.search(own):
                self.links += 1
        elif tag == "a":
            self.in_link = max(0, self.in_link - 1)

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1][1 if self.in_link else 0] += data


def _link_items(field_html: str) -> tuple[int, int]:
    """(list items, items that are links) of some HTML."""
    if "<a " not in field_html or "<li" not in field_html:
        return 0, 0
    parser = _LinkItems()
    parser.feed(field_html)
    parser.close()
    return parser.items, parser.links

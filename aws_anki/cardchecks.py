"""Card checks: the defects `inspect --stats` counts on every card, as the learner sees it.

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
  counts; code blocks do not, as they quote what they show);
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

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

from .cardtext import html_text, visible_text
from .cardview import (
    COUNTED_WORD, ITEM_LINE, CardView, NoteView, link_items, lower_words, split_sentences, unmarked, word_count,
)
from .context import CONTEXT_SEPARATOR, normalise
from .notes import CardNote
from .preview import PreviewCard, preview_cards
from .quality import MAX_DELETION_SHARE, deletion_shares
from .source import Source

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
# The thresholds of the checks: see the module docstring.
FULL_SENTENCE_WORDS = 12
SENTENCE_MIN_WORDS = 5
GRAB_BAG_SENTENCES = 2
MIN_SET_ITEMS = 3
WHOLE_SENTENCE_SHARE = 0.8
MAX_ANSWER_WORDS = 25
MAX_LONG_ITEMS = 3
LONG_ITEM_WORDS = 8
MAX_DELETION_WORDS = 9
MIN_REPEATED_WORDS = 4
_CODE_BLOCK = re.compile(r"<pre\b.*?</pre>", re.S | re.I)
MAX_SHORT_ANSWER_WORDS = 4
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
# A word of an answer looked for on the front: `10%` is not `10`, `long-polling` is `long polling`.
_ANSWER_WORD = re.compile(r"\w+%?", re.U)
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
    duplicates = _duplicate_first_fields(notes)
    headings: dict[str, set[str]] = defaultdict(set)
    for note in notes:
        headings[_file_of(note)].update(map(normalise, note.context.split(CONTEXT_SEPARATOR)))
    defects: list[CardDefect] = []
    cards = defective = 0
    for index, note in enumerate(notes):
        view = NoteView(note, duplicates.get(index), headings[_file_of(note)])
        for card in preview_cards(note):
            cards += 1
            found = _card_defects(view, card)
            defective += bool(found)
            defects.extend(CardDefect(kind, note.source, card.template, text) for kind, text in found)
    return CardQuality(notes=len(notes), cards=cards, defects=tuple(defects), defective_cards=defective)


def _card_defects(view: NoteView, card: PreviewCard) -> list[tuple[str, str]]:
    seen = CardView(view, card)
    found: list[tuple[str, str]] = []
    for kind in CARD_DEFECT_KINDS:
        excerpt = _CHECKS[kind](seen)
        if excerpt is not None:
            found.append((kind, _short(excerpt)))
    return found


def _file_of(note: CardNote) -> str:
    return note.source.path


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
    return visible_text(field_html).casefold()


# Text as the checks read it ------------------------------------------------------------------------


# The checks: each returns an excerpt when the card has the defect, else None --------------------


def _grab_bag_front(seen: CardView) -> str | None:
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
    words = [word.casefold().replace("’", "'") for word in COUNTED_WORD.findall(text)]
    if len(words) >= FULL_SENTENCE_WORDS:
        return True
    return len(words) >= SENTENCE_MIN_WORDS and (
        text.rstrip().endswith((".", "!")) or any(word in SENTENCE_VERBS for word in words)
    )


def introduces_list(front: str) -> bool:
    """Whether a front asks for a list: ends with `:` or `?` or `such as`, names a list (`types`,
    `use cases`, ...) or ends with a plural noun (`Storage classes`)."""
    text = unmarked(front).strip()
    if _INTRODUCES_LIST.search(text):
        return True
    words = lower_words(text)
    if any(word in LIST_WORDS for word in words) or any(" ".join(pair) in LIST_WORDS for pair in zip(words, words[1:])):
        return True
    last = words[-1] if words else ""
    return len(last) >= 4 and last.isalpha() and last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _cloze_over_one_sentence(seen: CardView) -> str | None:
    view = seen.view
    if not view.cloze:
        return None
    items = sum(len(siblings) for siblings in view.items())
    if items > 1 or len(view.sentences()) > 1:
        return view.marked.text
    return None


def _set_item_blanked(seen: CardView) -> str | None:
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


def _whole_sentence_blanked(seen: CardView) -> str | None:
    view = seen.view
    if not view.cloze:
        return None
    for start, end in view.sentences():
        words = view.marked.words(start, end)
        hidden = sum(1 for _, number in words if number == seen.number)
        if words and hidden and hidden >= WHOLE_SENTENCE_SHARE * len(words):
            return view.marked.text[start:end]
    return None


def _glyph(seen: CardView) -> str | None:
    for line in (*seen.front.split("\n"), *seen.back.split("\n")):
        if _GLYPHS.search(line) or _TEXT_BULLET_O.match(line):
            return line
    if _IMAGE_NAME.search(seen.back) or _IMAGE_NAME.search(seen.front):

        for side in (seen.card.question, seen.card.answer):  # a file name in code is no image name
            for line in html_text(_CODE.sub(" ", side)).split("\n"):
                if _IMAGE_NAME.search(line):
                    return line
    return None


def _meta(seen: CardView) -> str | None:
    for line in (*seen.front.split("\n"), *seen.back.split("\n")):
        if _META.search(line):
            return line
    for heading in seen.view.note.context.split(CONTEXT_SEPARATOR):
        if normalise(heading) in _META_HEADINGS:
            return seen.view.note.context
    items, links = link_items(seen.card.answer)
    if items >= MIN_INDEX_ITEMS and links * 2 > items:
        return f"{links} of {items} list items are links: {seen.front}"
    view = seen.view
    entries = [(len(m.group(1)), normalise(line[m.end() :])) for line in seen.back.split("\n") if (m := ITEM_LINE.match(line))]
    if len(entries) >= MIN_NESTED_CONTENTS_ITEMS and view.headings:
        own = set(map(normalise, view.note.context.split(CONTEXT_SEPARATOR)))
        sections = [(depth, entry) for depth, entry in entries if entry in view.headings and entry not in own]
        nested = len({depth for depth, _ in sections}) > 1
        if len(sections) * 2 > len(entries) and (nested or len(entries) >= MIN_CONTENTS_ITEMS):
            return f"{len(sections)} of {len(entries)} list items are headings of this file: {seen.front}"
    return None


def _long_answer(seen: CardView) -> str | None:
    view = seen.view
    if view.cloze:
        for run in view.marked.runs(seen.number):
            if word_count(run) > MAX_DELETION_WORDS:
                return run
        return None
    lines = view.back_lines()
    long_items = [line for line in lines if ITEM_LINE.match(line) and word_count(line) > LONG_ITEM_WORDS]
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


def _parent_twice(seen: CardView) -> str | None:
    # Code is quoted as written: a YAML key or a log line may well stand twice in it.
    faces = (seen.front, seen.back)
    if "<pre" in seen.card.question or "<pre" in seen.card.answer:
        faces = (html_text(_CODE_BLOCK.sub("", seen.card.question)), html_text(_CODE_BLOCK.sub("", seen.card.answer)))
    for face in faces:
        lines = [normalise(line) for line in face.split("\n")]
        lines = [line for line in lines if len(line.split()) >= MIN_REPEATED_WORDS]
        for index, line in enumerate(lines):
            for other in lines[index + 1 :]:
                if other == line or other.startswith(line + " ") or line.startswith(other + " "):
                    return line
    return None


def _answer_on_front(seen: CardView) -> str | None:
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


def _duplicate_first_field(seen: CardView) -> str | None:
    view = seen.view
    if view.duplicate_of is None:
        return None
    return f"{visible_text(view.note.fields[0])} (also at {view.duplicate_of})"


def _big_deletion(seen: CardView) -> str | None:
    view = seen.view
    if view.cloze and deletion_shares(view.note.fields[0]).get(seen.number, 0.0) > MAX_DELETION_SHARE:
        return view.marked.text
    return None


def _no_context(seen: CardView) -> str | None:
    return seen.front if not seen.view.note.context.strip() else None


_CHECKS: dict[str, Callable[[CardView], str | None]] = {
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

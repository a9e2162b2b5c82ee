"""A card as the card checks read it: plain text, its sentences and list items, and for a cloze
Text which deletion each character is in (see `cardchecks`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Sequence

from .cardtext import card_text, html_text
from .cloze import Deletion, parse_cloze
from .notes import CardNote
from .source import Source

if TYPE_CHECKING:
    from .preview import PreviewCard

# Words a sentence does not end after (the full stop is part of the word).
ABBREVIATIONS = frozenset(
    "e.g. i.e. etc. vs. v. cf. approx. incl. eg. ie. aka. a.k.a. e.t.c. no. nos. fig. resp. mr. mrs. ms. dr. "
    "st. inc. ltd. co. corp. jr. sr. u.s. u.k. al.".split()
)
WORD = re.compile(r"\w+", re.U)
# A word as a reader counts it: `us-east-1`, `don't` and `e.g.` are one each.
COUNTED_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.U)
_SENTENCE_END = re.compile(r"([.!?]+)([\"'”’)\]]*)\s+(?=\S)")
ITEM_LINE = re.compile(r"^( *)- ")
# The markers a cloze Text's deletions become in plain text.
_MARK_OPEN, _MARK_NUMBER_END, _MARK_CLOSE = "\ue010", "\ue011", "\ue012"
_MARKS = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_NUMBER_END}|{_MARK_CLOSE}")


def split_sentences(text: str) -> list[str]:
    """Sentences of one line of text: a `.`, `!` or `?` and a space end one, except after an
    abbreviation (e.g., i.e., etc., vs., ...), an initial (`J.`) or an ellipsis; a decimal or a
    file name (`3.5`, `file.txt`) has no space after its dot, so never ends one; nor does one inside
    brackets (`(= what is it?) and`) or before a remark in brackets (`with RDS! (a discount)`)."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if ".." in match.group(1) or match.group(1) == "." and _abbreviation(text[start : match.start()]):
            continue
        before = text[start : match.start()]
        if text.startswith("(", match.end()) or before.count("(") > before.count(")"):
            continue
        piece = text[start : match.end()]
        if piece.strip():
            sentences.append(piece.strip())
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _abbreviation(before: str) -> bool:
    words = _MARKS.sub("", before).split()
    if not words:
        return False
    word = words[-1].lstrip("([\"'").casefold() + "."
    return word in ABBREVIATIONS or (len(word) == 2 and word[0].isalpha())


def lower_words(text: str) -> list[str]:
    """The words of text, case-folded, deletion markers read as spaces."""
    return WORD.findall(_MARKS.sub(" ", text).casefold())


def unmarked(text: str) -> str:
    """Text without the deletion markers of `marked_text`."""
    return _MARKS.sub("", text)


def word_count(text: str) -> int:
    """Words as a reader counts them (`us-east-1` is one)."""
    return len(COUNTED_WORD.findall(_MARKS.sub(" ", text)))


@dataclass(frozen=True)
class Marked:
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
        return [(m.group().casefold(), self.owner[m.start()]) for m in WORD.finditer(self.text, start, end)]

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


def _mark_deletions(text_field: str) -> str:
    """A cloze Text field with its deletions as private-use markers (number kept, hints dropped),
    so that they survive the HTML being turned into plain text."""
    out: list[str] = []

    def mark(nodes: Sequence[str | Deletion]) -> None:
        for node in nodes:
            if isinstance(node, Deletion):
                out.append(f"{_MARK_OPEN}{node.number}{_MARK_NUMBER_END}")
                mark(node.nodes)
                out.append(_MARK_CLOSE)
            else:
                out.append(node)

    mark(parse_cloze(text_field))
    return "".join(out)


def marked_text(text_field: str) -> Marked:
    """A cloze Text field as plain text, each character with the deletion it is in."""
    marked = html_text(_mark_deletions(text_field))
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
    return Marked("".join(chars), tuple(owner))


class NoteView:
    """What the checks read of one note, each worked out once for all its cards."""

    def __init__(self, note: CardNote, duplicate_of: Source | None, headings: set[str]) -> None:
        self.note = note
        self.duplicate_of = duplicate_of
        self.headings = headings  # the normalised headings of the note's file (from all its notes)
        self.cloze = note.note_type == "cloze"
        self.marked = marked_text(note.fields[0]) if self.cloze else Marked("", ())
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
                item = ITEM_LINE.match(text[start:end])
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
            match = ITEM_LINE.match(line)
            indent = len(match.group(1)) if match else len(line) - len(line.lstrip(" "))
            for depth in [d for d in open_lists if d > indent or (not match and d >= indent)]:
                lists.append(open_lists.pop(depth))
            if match:
                open_lists.setdefault(indent, []).append((start + match.end(), end))
        lists.extend(open_lists.values())
        return lists

    def back_lines(self) -> list[str]:
        """The Back's lines that are not blank."""
        return [line for line in self.back.split("\n") if line.strip()]


@dataclass
class CardView:
    """One card of a note: its front and back as plain text, and its deletion number (0 on a basic card)."""

    view: NoteView
    card: PreviewCard

    def __post_init__(self) -> None:
        self.front, self.back = card_text(self.card)
        self.number = self.card.ord + 1 if self.view.cloze else 0
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
            if WORD.search(link) and not WORD.search(own):
                self.links += 1
        elif tag == "a":
            self.in_link = max(0, self.in_link - 1)

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1][1 if self.in_link else 0] += data


def link_items(field_html: str) -> tuple[int, int]:
    """(list items, items that are links) of some HTML."""
    if "<a " not in field_html or "<li" not in field_html:
        return 0, 0
    parser = _LinkItems()
    parser.feed(field_html)
    parser.close()
    return parser.items, parser.links

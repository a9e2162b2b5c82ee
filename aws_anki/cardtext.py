"""A card as the learner reads it, in plain text: what blind raters get and what the card checks read.

`card_text(card)` turns a rendered card (`preview.PreviewCard`, front and back HTML from the deck's
own templates) into two plain-text blocks. `html_text(fragment)` does the same for any field, and
`visible_text(fragment)` gives a field's words on one line, for comparing and counting.
The rules of `html_text`, so that a reader of the text sees what Anki shows and nothing else:

- block elements (`div`, `p`, headings, `br`, `pre`, ...) end a line; inline elements flow, with
  runs of whitespace collapsed as a browser does (not inside `pre`, whose lines are kept);
- a list item is a `- ` line, indented two spaces per level of nesting (numbered lists too);
- a table row is one line, its cells joined by ` | `; a definition list's `dt`/`dd` pair is one
  `term: definition` line;
- a cloze blank is whatever the template renders, `[...]` or `[hint]`; an image is `[image]`
  (its file name is never shown, as in Anki); a rule (`hr`) is a `---` line;
- a `.qualifier` span (hidden by the deck's style sheet) is left out, and so is
  the card's source reference (`<div class="source">`, a file and line on the back):
  it tells how the card was made, which a blind rater must not see, and is no part of the fact;
- no blank lines but those inside a code block, and never two in a row.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Protocol

from .cloze import CLOZE_CLOSE, SENTINEL


class RenderedCard(Protocol):
    """A card rendered by the deck's templates (`preview.PreviewCard` is one)."""

    @property
    def question(self) -> str: ...

    @property
    def answer(self) -> str: ...


# Tags that end the current line before and after them.
_BLOCKS = frozenset(
    "address article aside blockquote body caption center dd details div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header html li main nav ol p pre section summary table tbody td tfoot th thead tr ul"
    .split()
)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
_HIDDEN_CLASSES = frozenset({"source", "qualifier"})  # the style sheet hides `.qualifier`
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
IMAGE = "[image]"
RULE = "---"


def card_text(card: RenderedCard) -> tuple[str, str]:
    """A card's front and back as plain text, as the learner sees them (see the module docstring)."""
    return html_text(card.question), html_text(card.answer)


def visible_text(fragment: str) -> str:
    """The words of an HTML fragment on one line: tags as spaces, entities decoded, white space
    collapsed (cloze markup stays as written: `cloze.answered` first reads it as its text)."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).replace(CLOZE_CLOSE, "").split())


def html_text(fragment: str) -> str:
    """The visible text of an HTML fragment: one line per block, `- ` list items, no tags."""
    parser = _PlainText()
    parser.feed(fragment)
    parser.close()
    return parser.text()


class _PlainText(HTMLParser):
    """Turns HTML into lines of text as it streams by (no tree: thousands of cards are read)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.words: list[str] = []  # the inline text of the line being built
        self.hidden: list[str] = []  # open hidden elements (script, the source line, ...)
        self.items: list[list[bool]] = []  # per open list item: [first line already written]
        self.lists = 0  # open lists
        self.pre = 0  # open pre elements
        self.cells: list[str] | None = None  # the cells of the table row being read
        self.in_cell = False
        self.after_term = False  # a dt just ended: its dd goes on the same line

    # Parser events -----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.hidden:
            if tag not in _VOID:
                self.hidden.append(tag)
            return
        if self.after_term:
            self.after_term = False
            if tag == "dd":
                self.words.append(" ")
                return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in _HIDDEN or classes & _HIDDEN_CLASSES:
            if tag not in _VOID:
                self.hidden.append(tag)
            return
        if tag == "img":
            self.words.append(f" {IMAGE} ")
        elif tag == "br":
            self.end_line()
        elif tag == "hr":
            self.end_line()
            self.lines.append(RULE)
        elif tag == "tr":
            self.end_line()
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.end_line()
            self.in_cell = True
        elif tag in _BLOCKS:
            self.end_line()
            if tag in ("ul", "ol"):
                self.lists += 1
            elif tag == "li":
                self.items.append([False])
            elif tag == "pre":
                self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.hidden:
            if tag in self.hidden:
                while self.hidden and self.hidden.pop() != tag:
                    pass
            return
        if tag in ("td", "th") and self.cells is not None:
            if self.in_cell:
                self.cells.append(self.inline())
                self.words = []
            self.in_cell = False
        elif tag == "tr" and self.cells is not None:
            cells, self.cells = self.cells, None
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                self.write(" | ".join(cells))
        elif tag == "dt" and self.inline():
            self.words.append(":")
            self.after_term = True  # the definition follows on the same line
        elif tag in _BLOCKS:
            self.end_line()
            if tag in ("ul", "ol"):
                self.lists = max(0, self.lists - 1)
            elif tag == "li" and self.items:
                self.items.pop()
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.words.append(first)
            for piece in rest:
                self.write(self.raw(), keep_spaces=True)
                self.words = [piece]
            return
        self.words.append(data)

    # Lines -------------------------------------------------------------------------------------

    def inline(self) -> str:
        """The current inline text, whitespace collapsed."""
        return _SPACES.sub(" ", SENTINEL.sub("", "".join(self.words))).strip()

    def raw(self) -> str:
        return SENTINEL.sub("", "".join(self.words)).rstrip()

    def end_line(self) -> None:
        """End the line being built (inside a table cell, lines join the cell's text instead)."""
        if self.in_cell:
            self.words.append(" ")
            return
        if self.pre:
            text = self.raw()
            self.words = []
            if text:
                self.write(text, keep_spaces=True)
            return
        text = self.inline()
        self.words = []
        if text:
            self.write(text)

    def write(self, text: str, *, keep_spaces: bool = False) -> None:
        """Add a line, with the list marker or indentation of the item it is in."""
        self.words = []
        if not keep_spaces:
            text = text.strip()
        if self.items:
            indent = "  " * (len(self.items) - 1)
            item = self.items[-1]
            if item[0]:
                text = f"{indent}  {text}"
            else:
                text = f"{indent}- {text}"
                item[0] = True
        self.lines.append(text)

    def text(self) -> str:
        """All lines; blank lines (only in code) never two in a row, none at either end."""
        self.end_line()
        out: list[str] = []
        for line in self.lines:
            line = line.rstrip()
            if line or (out and out[-1]):
                out.append(line)
        while out and not out[-1]:
            out.pop()
        return "\n".join(out)

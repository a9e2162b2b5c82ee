"""What coverage is measured on, found independently of the card rules: bold spans and definition-like lines."""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from ..parse import Document, inline_text, lines_outside_fences
from .terms import MAX_TERM_WORDS
from .text import ANSWER, NOTE_LABEL, QUESTION, repair_bold, span_text

Token = Mapping[str, Any]

# Matched on a line without its leading spaces and `>` (matching them in the pattern is slow: it backtracks).
_DEFINITION_LINE = re.compile(
    r"(?:[-*+]|\d{1,3}[.)])?[ \t]*"
    r"(?:\*\*(?P<bold>[^*\n]{1,70}?)(?::\*\*|\*\*[ \t]*(?::|=|-(?=\s)|–|—|(?:is|are|es|son)(?=\s)))"
    r"|(?P<plain>[\w\"'(][^:=*\n]{0,69}?)(?::(?=\s)|[ \t]=|[ \t]-[ \t]|[ \t]–[ \t]))"
    r"[ \t]*(?P<body>\S.*)$"
)
_MARKUP = re.compile(r"\*\*|==|`|(?<!\w)_|_(?!\w)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def bold_texts(document: Document) -> Iterator[tuple[int, str]]:
    """Every bold span outside headings (hard-wrapped ones repaired), with its line."""
    found: list[tuple[int, str]] = []
    for section in document.sections:
        for block in section.blocks:
            _bold_in(block.token, block.line, found)
    return iter(found)


def _bold_in(token: Token, line: int, found: list[tuple[int, str]]) -> None:
    """Add the bold spans in one token and its children to `found`, with the nearest line known."""
    line = token.get("line", line)
    kind = token["type"]
    if kind == "strong":
        text = inline_text(token["children"]).strip()
        if text:
            found.append((line, text))
        return
    children = token.get("children")
    if not children or kind == "table_head":
        return  # bold in a header row only styles the column labels: no key term of the author's
    if kind in ("paragraph", "block_text", "table_cell"):
        children = repair_bold(children)
    for child in children:
        if "children" not in child:
            continue  # a leaf (text, code span...) holds no bold
        if child["type"] == "strong":  # the common case, without a call
            text = span_text(child["children"]).strip()
            if text:
                found.append((child.get("line", line), text))
        else:
            _bold_in(child, line, found)


def definition_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """Lines that read `Term: definition` (any separator), found on the raw text outside code."""
    for number, raw in lines_outside_fences(text):
        # Most lines hold no separator at all: a cheap test first (a dash separator follows a term's
        # first character, so an item's own `- ` marker is left out of it).
        rest = raw.lstrip(" \t>")
        if not ("**" in rest or ":" in rest or "=" in rest or "–" in rest or " -" in rest[1:] or "\t-" in rest[1:]):
            continue
        match = _DEFINITION_LINE.match(rest)
        if match is None:
            continue
        term = _strip_markup(match.group("bold") or match.group("plain") or "").strip(" :")
        body = match.group("body")
        if "](" in body:
            body = _LINK.sub(r"\1", body)
        body = _strip_markup(body).strip()
        if QUESTION.fullmatch(term + ":") or ANSWER.fullmatch(term + ":") or NOTE_LABEL.fullmatch(term + ":"):
            term = ""  # a `Q:`/`A:`/`Note:` label, not a term: only what follows it must be in a card
            if not body:
                continue
        if body and len(term.split()) <= MAX_TERM_WORDS and not term.lower().startswith("http"):
            yield number, term, body


def _strip_markup(text: str) -> str:
    """The text without `**`, `==`, backticks and `_` emphasis marks."""
    if "*" in text or "=" in text or "`" in text or "_" in text:
        return _MARKUP.sub("", text)
    return text

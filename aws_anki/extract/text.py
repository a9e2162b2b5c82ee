"""Inline tokens as statements: a line, its sentences, bold repaired, list items, and answers trimmed to size."""
from __future__ import annotations

import html
import re
from typing import Any, Iterator, Mapping, Sequence

from ..parse import inline_text
from ..render import continued_html, inline_html
from .plain import clauses


Token = Mapping[str, Any]

MAX_ANSWER_WORDS = 20  # an answer keeps its first sentence, and more only up to this many words
MAX_ANSWER_CHARS = 600
MAX_PSEUDO_HEADING_WORDS = 8

# The gap between two sentences is group 1 (a leading `[.!?]` rather than a look-behind lets the
# regex engine skip quickly to the candidates).
_SENTENCE_END = re.compile(r"[.!?](\s+)(?=[\"'(¿¡]?[A-ZÁÉÍÓÚÑ0-9`*_\[]|(?P<lower>[a-záéíóúñ]))")
# Notes often start a sentence in lower case ("... per second. around 100 ms ..."): such a break
# counts when both sides have this many words (a short piece is more likely an abbreviation).
MIN_LOWER_SENTENCE_WORDS = 3
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|eg|ie|etc|vs|approx|incl|p\.ej|aprox|no|nr|min|max)\.|\(N\.|\b[A-Z]\.[A-Z]\.)$", re.I)
# Labels of a remark ("Note:", "Exam tip:"): not part of the fact that follows.
_LABEL_WORDS = (
    r"(?:(?:exam|important|quick|pro|useful|side)\s+)?(?:note|tip|hint|reminder)s?|nb|n\.b\.|important|nota|importante|ojo"
)
NOTE_LABEL = re.compile(rf"^\s*(?:{_LABEL_WORDS})\s*:\s*", re.I)

# A label, an arrow or a connective that ties a line to the one before: not part of its fact.
_NOTE_PREFIX = re.compile(
    rf"^\s*(?:(?:{_LABEL_WORDS})\s*:\s*|(?:=>|->|→|⇒)\s*|(?:so|also|and|but|then|however),?\s+(?=\w)|"
    r"(?:remember|keep in mind) that\s+(?=\w))",
    re.I,
)
QUESTION = re.compile(r"^\s*(?:Q|Question|P|Pregunta)\s*[:.]\s*", re.I)
ANSWER = re.compile(r"^\s*(?:A|Answer|R|Respuesta)\s*[:.]\s*", re.I)
WORD = re.compile(r"\w+")
ANY_WORD = re.compile(r"\w")
TAG = re.compile(r"<[^>]+>")
_SENTENCE_TAIL = re.compile(r"[.!?]\s+$")


class Line:
    """A run of inline tokens that reads as one statement (a bullet head or one sentence)."""

    # A plain slotted class: lines are made by the thousand, and `text` is read many times.
    __slots__ = ("_text", "line", "tokens")

    def __init__(self, tokens: tuple[Token, ...], line: int) -> None:
        self.tokens = tokens
        self.line = line
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The plain text of the line."""
        text = self._text
        if text is None:
            text = self._text = inline_text(self.tokens).strip()
        return text


def repair_bold(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Re-pair `**` left as literal text by hard wrapping (`we are **` / `reserving x**`) into bold."""
    for token in tokens:
        if token["type"] == "text" and "**" in token["raw"]:
            break
    else:
        return tuple(tokens)
    pieces: list[Token | None] = []  # None marks a literal `**`
    for token in tokens:
        if token["type"] == "text" and "**" in token["raw"]:
            parts = token["raw"].split("**")
            for index, part in enumerate(parts):
                if index:
                    pieces.append(None)
                if part:
                    pieces.append({"type": "text", "raw": part})
        else:
            pieces.append(token)
    out: list[Token] = []
    opened: int | None = None
    for piece in pieces:
        if piece is not None:
            out.append(piece)
        elif opened is None:
            opened = len(out)
        else:
            inner = [t for t in out[opened:] if t["type"] != "softbreak"]
            if inner and inner[0]["type"] == "text":
                inner[0] = {"type": "text", "raw": inner[0]["raw"].lstrip()}
            if inner and inner[-1]["type"] == "text":
                inner[-1] = {"type": "text", "raw": inner[-1]["raw"].rstrip()}
            del out[opened:]
            out.append({"type": "strong", "children": inner})
            opened = None
    if opened is not None:
        out.insert(opened, {"type": "text", "raw": "**"})
    return tuple(out)


def strong_tokens(tokens: Sequence[Token], found: list[Token] | None = None) -> list[Token]:
    """Bold tokens of a line, nested ones included (not inside links)."""
    if found is None:
        found = []
    for token in tokens:
        kind = token["type"]
        if kind == "strong":
            found.append(token)
        elif kind != "link" and "children" in token:
            strong_tokens(token["children"], found)
    return found


def has_key_term(tokens: Sequence[Token]) -> bool:
    """Whether a line carries a key term: bold, a highlight, or an author's cloze."""
    for token in tokens:
        kind = token["type"]
        if kind == "strong" or kind == "mark" or (kind == "text" and "{{c" in token["raw"]):
            return True
    return False


def lstrip_tokens(tokens: Sequence[Token]) -> list[Token]:
    """Drop leading blank text from tokens."""
    out = list(tokens)
    while out and out[0]["type"] == "text" and not out[0]["raw"].strip():
        out.pop(0)
    if out and out[0]["type"] == "text":
        out[0] = {"type": "text", "raw": out[0]["raw"].lstrip()}
    return out


def _ends_with_abbreviation(text: str) -> bool:
    """Whether a text ends with an abbreviation such as `e.g.` or `etc.` (not a sentence end)."""
    # A match is at most 8 characters long: search only the end (`\b` still sees the character before).
    return _ABBREVIATIONS.search(text, max(0, len(text) - 10)) is not None


def _no_lower_start(before: str, after: str) -> bool:
    """Whether `. ` before a lower-case word is no sentence end: after an ellipsis, inside
    brackets, or with fewer than MIN_LOWER_SENTENCE_WORDS words on either side."""
    if before.endswith("..") or before.count("(") > before.count(")"):
        return True  # "wait... then", "(most of the time! sometimes ...)"
    words_after = after.split(None, MIN_LOWER_SENTENCE_WORDS)
    return len(before.split()) < MIN_LOWER_SENTENCE_WORDS or len(words_after) < MIN_LOWER_SENTENCE_WORDS


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Start and end of each sentence of a plain text."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start(1)]
        if _ends_with_abbreviation(before) or match.group("lower") and _no_lower_start(before, text[match.end() :]):
            continue
        bounds.append((start, match.start(1)))
        start = match.end()
    bounds.append((start, len(text)))
    return bounds


def span_text(children: Sequence[Token]) -> str:
    """`inline_text(children)`, without the call for the usual bold span: one text token."""
    if len(children) == 1:
        child = children[0]
        if child["type"] == "text":
            return child["raw"]  # type: ignore[no-any-return]
    return inline_text(children)


def unbold(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Drop the outer bold of spans (a front that is all bold reads as shouting)."""
    out: list[Token] = []
    for token in tokens:
        if token["type"] == "strong":
            out.extend(token["children"])
        else:
            out.append(token)
    return tuple(out)


def escape_html(text: str) -> str:
    """Escape text for HTML."""
    return html.escape(text, quote=False)


def strip_colon(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Drop a trailing ':' (and spaces) from a lead-in, inside a last bold span too."""
    out = list(tokens)
    while out:
        last = out[-1]
        if last["type"] == "text":
            raw = last["raw"].rstrip().rstrip(":").rstrip()
            if raw:
                out[-1] = {"type": "text", "raw": raw}
                break
            out.pop()
        elif last["type"] == "strong" and inline_text(last["children"]).rstrip().endswith(":"):
            out[-1] = {"type": "strong", "children": strip_colon(last["children"])}
            break
        else:
            break
    return tuple(out)


def strip_note_prefix(line: Line) -> Line:
    """Drop a leading `Note:` / `Tip:` / `Nota:` from a line."""
    tokens = line.tokens
    if not tokens:
        return line
    first = tokens[0]
    if first["type"] == "text":
        match = _NOTE_PREFIX.match(first["raw"])
        if match:
            rest = first["raw"][match.end() :]
            return Line((*([{"type": "text", "raw": rest}] if rest else []), *tokens[1:]), line.line)
    elif first["type"] == "strong" and _NOTE_PREFIX.fullmatch(inline_text(first["children"]) + " "):
        return Line(tuple(lstrip_tokens(tokens[1:])), line.line)
    elif first["type"] == "strong" and first["children"] and first["children"][0]["type"] == "text":
        # `**=> metrics are used ...**`: the prefix inside the bold
        inner = first["children"][0]
        match = _NOTE_PREFIX.match(inner["raw"])
        if match and inner["raw"][match.end() :].strip():
            children = ({"type": "text", "raw": inner["raw"][match.end() :]}, *first["children"][1:])
            return Line(({**first, "children": children}, *tokens[1:]), line.line)
    return line


def visible_words(html_text: str) -> int:
    """Number of words in the visible text of some HTML."""
    return len(html.unescape(TAG.sub(" ", html_text)).split())


def _visible_len(html_text: str) -> int:
    """Length of the visible text of some HTML (tags dropped, spaces collapsed)."""
    return len(" ".join(html.unescape(TAG.sub(" ", html_text)).split()))


def _fits_answer(html_text: str) -> bool:
    """Whether the visible text of some HTML is at most MAX_ANSWER_CHARS long."""
    # The visible text is never longer than the HTML: measure it only for long HTML.
    return len(html_text) <= MAX_ANSWER_CHARS or _visible_len(html_text) <= MAX_ANSWER_CHARS


def split_lines(children: Sequence[Token], line: int) -> Iterator[Line]:
    """Split a paragraph's inline tokens into statements: at line breaks that end a sentence or
    start a `Q:`/`A:`/`Note:` line, then at sentence ends."""
    current: list[Token] = []
    current_line = line
    offset = 0
    children = repair_bold(children)
    for index, token in enumerate(children):
        if token["type"] in ("softbreak", "linebreak"):
            offset += 1
            before = inline_text(current).rstrip()
            after = children[index + 1] if index + 1 < len(children) else None
            starts_label = after is not None and after["type"] == "text" and bool(
                QUESTION.match(after["raw"]) or ANSWER.match(after["raw"]) or NOTE_LABEL.match(after["raw"])
            )
            if before.endswith((".", "!", "?", ":")) or token["type"] == "linebreak" or not before or starts_label:
                if current:
                    yield from split_sentences(current, current_line)
                current = []
                current_line = line + offset
            else:
                current.append({"type": "text", "raw": " "})
            continue
        current.append(token)
    if current:
        yield from split_sentences(current, current_line)


def split_sentences(tokens: Sequence[Token], line: int) -> Iterator[Line]:
    """Split at sentence ends found in top-level text tokens (also before a span that opens a sentence)."""
    current: list[Token] = []
    for index, token in enumerate(tokens):
        if token["type"] != "text":
            if not (token["type"] == "softbreak" and not current):
                current.append(token)
            continue
        raw = token["raw"]
        start = 0
        for match in _SENTENCE_END.finditer(raw):
            piece = raw[start : match.start(1)]
            if _ends_with_abbreviation(piece) or (not piece.strip() and not current):
                continue
            if match.group("lower") and _no_lower_start(piece if start else inline_text(current) + piece, raw[match.end() :]):
                continue
            current.append({"type": "text", "raw": piece})
            yield Line(tuple(current), line)
            current = []
            start = match.end()
        tail = raw[start:]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        ends = _SENTENCE_TAIL.search(tail)
        if ends and following is not None and following["type"] in ("strong", "codespan", "emphasis", "link", "mark"):
            first = inline_text([following])[:1]
            # Notes often start a sentence in lower case right with a bold span: `... hours. **this** is`.
            starts = first.isupper() or first.isdigit() or following["type"] in ("strong", "mark")
            if starts and not _ends_with_abbreviation(tail[: ends.start() + 1]):
                if tail[: ends.start() + 1].strip() or current:
                    current.append({"type": "text", "raw": tail[: ends.start() + 1]})
                    yield Line(tuple(current), line)
                    current = []
                continue
        if following is not None and following["type"] == "softbreak" and _wraps_after_sentence(tail, tokens[index + 2 : index + 3]):
            # `... policies.` then a line break then `Identity ...`: hard-wrapped notes end a sentence at a line end
            current.append({"type": "text", "raw": tail})
            yield Line(tuple(current), line)
            current = []
            continue
        if tail:
            current.append({"type": "text", "raw": tail})
    # An image-only line has no text but is still a line: it attaches to the fact before it.
    if current and (inline_text(current).strip() or any(t["type"] in ("image", "embed") for t in current)):
        yield Line(tuple(current), line)


def _wraps_after_sentence(tail: str, after: Sequence[Token]) -> bool:
    """Whether text that a soft line break follows ends a sentence, and the next line opens one."""
    if not re.search(r"[.!?]\s*$", tail) or _ends_with_abbreviation(tail.rstrip()):
        return False
    opening = inline_text(after).lstrip()[:1] if after else ""
    if opening.islower():  # "... for 1 year." then "capacity you can bid ...": as within a line
        return not _no_lower_start(tail.rstrip(), inline_text(after))
    return opening.isupper() or opening.isdigit()


def answer_parts(tokens: Sequence[Token], line: int) -> tuple[str, list[Line]]:
    """An answer's HTML and what does not fit in it: the first sentence stays (its first clause,
    when the sentence alone is too long), and the next ones while the answer keeps within
    MAX_ANSWER_WORDS; the rest, as sentences."""
    full = inline_html(tokens)
    if visible_words(full) <= MAX_ANSWER_WORDS and _fits_answer(full):
        return full, []
    pieces = [Line(tuple(s.tokens), s.line) for s in split_sentences(tokens, line)]
    if len(inline_text(pieces[0].tokens).split()) > MAX_ANSWER_WORDS:
        pieces[:1] = [Line(tuple(c), pieces[0].line) for c in clauses(pieces[0].tokens)]
    kept: list[str] = []
    rest: list[Line] = []
    size = 0
    for piece in pieces:
        rendered = inline_html(piece.tokens)
        size += visible_words(rendered)
        if not kept or (size <= MAX_ANSWER_WORDS and not rest):
            kept.append(rendered)
        else:
            rest.append(piece)
    return " ".join(kept), rest


def trim_answer(tokens: Sequence[Token], line: int) -> tuple[str, str]:
    """HTML of an answer (see `answer_parts`) and of its overflow, shown after it on the back."""
    kept, rest = answer_parts(tokens, line)
    return kept, continued_html([inline_html(piece.tokens) for piece in rest])


def item_head(item: Token) -> Line:
    """The first paragraph of a list item (its own text, sub-items excluded)."""
    children = item.get("children", ())
    if children and children[0]["type"] in ("block_text", "paragraph"):
        return Line(repair_bold(children[0].get("children", ())), item.get("line", 0))
    return Line((), item.get("line", 0))


def split_lazy_note(head: Line) -> tuple[Line, Line | None]:
    """Split off a `Note:` line that Markdown folded into the bullet above it (lazy continuation)."""
    for index, token in enumerate(head.tokens):
        if token["type"] == "softbreak" and index + 1 < len(head.tokens):
            after = head.tokens[index + 1]
            if after["type"] == "text" and NOTE_LABEL.match(after["raw"]):
                lines = 1 + sum(1 for t in head.tokens[:index] if t["type"] == "softbreak")
                return Line(head.tokens[:index], head.line), Line(head.tokens[index + 1 :], head.line + lines)
    return head, None


def all_nested_items(item: Token) -> Iterator[Token]:
    """Every item nested in a list item, at any depth."""
    for sub in nested_items(item):
        yield sub
        yield from all_nested_items(sub)


def nested_items(item: Token) -> list[Token]:
    """The items of a list item's nested lists."""
    return [i for child in item.get("children", ())[1:] if child["type"] == "list" for i in child["children"]]


def pseudo_heading(tokens: Sequence[Token]) -> str | None:
    """The text of a short line entirely in bold (optionally ending with ':'), or None."""
    meaningful = [t for t in tokens if not (t["type"] == "text" and t["raw"].strip() in ("", ":"))]
    if len(meaningful) != 1 or meaningful[0]["type"] != "strong":
        return None
    text = inline_text(meaningful[0]["children"]).strip().rstrip(":").strip()
    words = text.split()
    if not words or len(words) > MAX_PSEUDO_HEADING_WORDS or text.endswith((".", "!", "?")):
        return None
    return text

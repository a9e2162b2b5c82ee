"""Extract stage: turn parsed sections into Facts, the units a learner memorises. No Anki here.

How a line becomes a card (first rule that matches wins):
1. noise (first-person musing, link-only, bare URL, "see this article") gives no card;
2. the author's own `{{c1::...}}` is kept as written; `==highlight==` spans become deletions;
3. `Term: definition`, `**Term** - definition`, `Term = definition`, `**Term** is/are ...` give a
   basic card (front: the term, back: the definition);
4. bold spans inside a sentence become cloze deletions (one number per span; spans joined only by
   "and"/"or"/punctuation share a number); a deletion hiding more than 60% of the line is refused;
5. a line entirely in bold is split on is/are/=/: into a basic card, else it joins rule 6;
6. plain bullets with no key term are gathered per section into one list card (the section is
   the question), at most 7 per card.
A bullet or paragraph that ends with ":" and has sub-items is an enumeration: a list card
(front: the lead-in, back: the items); with more than 7 items it becomes one cloze note with a
deletion per item. Sub-items under a fact go to its extra field; sub-items that carry a key term
also become facts of their own. Tables give one card per row keyed by the first column. Code
blocks and images attach to the fact before them in the section.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence

from .parse import Block, Document, Section, inline_text
from .render import CLOZE_CLOSE, blocks_html, cloze_open, inline_html

Token = Mapping[str, Any]

MAX_LIST_ITEMS = 7
MAX_DELETION_SHARE = 0.6
MAX_TERM_CHARS = 70
MAX_TERM_WORDS = 8

_AUTHOR_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.S)
_SEPARATORS = (":", " - ", " – ", " — ", " = ", " -> ", " => ")
_COPULA = re.compile(r"^\s*(is|are|was|were|means|refers to|es|son|significa)\s+", re.I)
_WHOLE_BOLD_SPLIT = re.compile(r"\s+(?:is|are|IS|ARE|es|son)\s+|\s*[=:]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(¿¡]?[A-ZÁÉÍÓÚÑ0-9`*])")
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|p\.ej|aprox)\.)$", re.I)
_FIRST_PERSON = re.compile(
    r"^(?:\W*)(?:I|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|IMO|IMHO|my|in my (?:opinion|experience)|"
    r"to be fair, I|honestly|yo|creo|me parece|no sé|pienso)\b"
    r"|\bI (?:think|wonder|guess|believe|could not|couldn't|couldn’t|can't|was|am|have|had|would|don't|do not)\b",
    re.I,
)
_POINTER = re.compile(
    r"^\W*(?:see|read|check(?: out)?|more (?:info|information|details)|learn more|source|ref(?:erence)?|"
    r"ver|leer|más información)\b.{0,60}(?:here|this|article|link|docs?|documentation|blog|post|video|aquí|artículo)?",
    re.I,
)
# A "term" that opens like a sentence is not a term ("keep in mind that this: ...").
_SENTENCE_OPENER = re.compile(
    r"^(?:keep in mind|note|remember|also|and|but|so|if|when|because|this|that|these|those|there|it|you|we|they|"
    r"he|she|one|in order|for example|e\.g|i\.e|however|then|which|what|how|why|as|by default|nota|también|si|cuando)\b",
    re.I,
)
_DEFINITION_LINE = re.compile(
    r"^[ \t>]*(?:[-*+]|\d{1,3}[.)])?[ \t]*"
    r"(?:\*\*(?P<bold>[^*\n]{1,70}?)(?::\*\*|\*\*[ \t]*(?::|=|-(?=\s)|–|—|(?:is|are|es|son)(?=\s)))"
    r"|(?P<plain>[\w\"'(][^:=*\n]{0,69}?)(?::(?=\s)|[ \t]=|[ \t]-[ \t]|[ \t]–[ \t]))"
    r"[ \t]*(?P<body>\S.*)$"
)
_MARKUP = re.compile(r"\*\*|==|`|(?<!\w)_|_(?!\w)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL_ONLY = re.compile(r"^\s*(?:<)?https?://\S+(?:>)?\s*$")
_QUESTION = re.compile(r"^\s*(?:Q|Question|P|Pregunta)\s*[:.]\s*", re.I)
_ANSWER = re.compile(r"^\s*(?:A|Answer|R|Respuesta)\s*[:.]\s*", re.I)


@dataclass(frozen=True)
class Fact:
    """One thing to learn, with its fields as HTML (cloze deletions as render sentinels)."""

    kind: str  # definition | cloze | list | row | qa | statement
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
    """Everything one file gave: its facts, what was skipped, and coverage counts."""

    source: str
    metadata: Mapping[str, Any]
    facts: tuple[Fact, ...]
    skipped: tuple[Skip, ...]
    bold_texts: tuple[tuple[int, str], ...] = ()  # (line, text) of every bold span, for coverage
    definition_texts: tuple[tuple[int, str, str], ...] = ()  # (line, term, definition) of definition-like lines


def extract_facts(document: Document) -> Extraction:
    """Extract the facts of one parsed document."""
    builder = _Builder(document.source.rel_path)
    for section in document.sections:
        builder.section(section)
    return Extraction(
        source=document.source.rel_path,
        metadata=document.source.metadata,
        facts=tuple(builder.facts),
        skipped=tuple(builder.skipped),
        bold_texts=tuple(bold_texts(document)),
        definition_texts=tuple(definition_lines(document.source.text)),
    )


def bold_texts(document: Document) -> Iterator[tuple[int, str]]:
    """Every bold span outside headings, with its line: what coverage is measured against."""
    for section in document.sections:
        for block in section.blocks:
            yield from _bold_in(block.token, block.line)


def _bold_in(token: Token, line: int) -> Iterator[tuple[int, str]]:
    line = token.get("line", line)
    if token["type"] == "strong":
        text = inline_text(token["children"]).strip()
        if text:
            yield line, text
        return
    for child in token.get("children", ()) or ():
        yield from _bold_in(child, line)


def definition_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """Lines that read `Term: definition` (any of the separators), found on the raw text, outside code."""
    fence = ""
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        match = _DEFINITION_LINE.match(raw)
        if match is None:
            continue
        term = _MARKUP.sub("", match.group("bold") or match.group("plain") or "").strip(" :")
        body = _LINK.sub(r"\1", match.group("body"))
        body = _MARKUP.sub("", body).strip()
        if term and body and len(term.split()) <= MAX_TERM_WORDS and not term.lower().startswith("http"):
            yield number, term, body


# Line classification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """A run of inline tokens that reads as one statement (a bullet head or one sentence)."""

    tokens: tuple[Token, ...]
    line: int

    @property
    def text(self) -> str:
        return inline_text(self.tokens).strip()


def _strong_tokens(tokens: Sequence[Token]) -> Iterator[Token]:
    for token in tokens:
        if token["type"] == "strong":
            yield token
        elif "children" in token and token["type"] not in ("link",):
            yield from _strong_tokens(token["children"])


def _all_strong(tokens: Sequence[Token]) -> Iterator[Token]:
    """Every strong token, including inside links and nested spans (for coverage counts)."""
    for token in tokens:
        if token["type"] == "strong":
            yield token
        if "children" in token:
            yield from _all_strong(token["children"])


def noise_reason(text: str, tokens: Sequence[Token]) -> str | None:
    """Why a line is not worth a card (first-person, link-only, ...), or None."""
    meaningful = [t for t in tokens if not (t["type"] == "text" and not t["raw"].strip()) and t["type"] != "softbreak"]
    if meaningful and all(t["type"] in ("image", "embed") for t in meaningful):
        return "image-only"
    if not meaningful or not re.search(r"\w", text):
        return "empty"
    if all(t["type"] == "link" or (t["type"] == "text" and not re.search(r"\w", t["raw"])) for t in meaningful):
        return "link-only"
    if _URL_ONLY.match(text):
        return "bare-url"
    if _FIRST_PERSON.search(text):
        return "first-person"
    if _POINTER.match(text) and (any(t["type"] == "link" for t in meaningful) or len(text) < 80):
        return "pointer"
    return None


def _split_tokens(tokens: Sequence[Token], index: int, offset: int, skip: int) -> tuple[list[Token], list[Token]]:
    """Split inline tokens inside text token `index` at `offset`, dropping `skip` separator chars."""
    raw = tokens[index]["raw"]
    left = [*tokens[:index]]
    right = [*tokens[index + 1 :]]
    if raw[:offset].strip():
        left.append({"type": "text", "raw": raw[:offset].rstrip()})
    if raw[offset + skip :].strip():
        right.insert(0, {"type": "text", "raw": raw[offset + skip :].lstrip()})
    return left, right


def split_definition(tokens: Sequence[Token]) -> tuple[list[Token], list[Token]] | None:
    """Split `Term: definition` style tokens into (term, definition), or None."""
    first = tokens[0] if tokens else None
    # `**Term**: def`, `**Term** - def`, `**Term** is def`, `` `term`: def ``
    if first is not None and first["type"] in ("strong", "codespan", "emphasis") and len(tokens) > 1:
        rest = tokens[1]
        if rest["type"] == "text":
            raw = rest["raw"]
            stripped = raw.lstrip()
            for sep in _SEPARATORS:
                if stripped.startswith(sep.strip()) and (sep.strip() != "-" or raw.startswith(" ")):
                    body = stripped[len(sep.strip()) :]
                    if body.strip() or len(tokens) > 2:
                        return [first], _rest_tokens(body, tokens[2:])
            copula = _COPULA.match(raw)
            if copula:
                return [first], _rest_tokens(raw[copula.end() :], tokens[2:], keep_verb=copula.group(0))
        elif first["type"] == "strong" and inline_text(first["children"]).rstrip().endswith(":"):
            return [first], list(tokens[1:])
    if first is not None and first["type"] == "strong":
        inner = inline_text(first["children"]).rstrip()
        if inner.endswith(":") and len(tokens) > 1:
            return [first], list(tokens[1:])
    # `Term: def` with the separator in the first text token
    for index, token in enumerate(tokens):
        if token["type"] != "text":
            if token["type"] in ("link", "image", "embed"):
                return None
            continue
        raw = token["raw"]
        for sep in _SEPARATORS:
            pos = raw.find(sep)
            if pos < 0:
                continue
            if sep == ":" and (raw[pos + 1 : pos + 2] not in (" ", "") or raw[pos - 1 : pos] == ":"):
                continue
            left, right = _split_tokens(tokens, index, pos, len(sep))
            term = inline_text(left).strip()
            if _is_term(term) and inline_text(right).strip():
                return left, right
            return None
        if len(inline_text(tokens[: index + 1])) > MAX_TERM_CHARS:
            return None
    return None


def _rest_tokens(body: str, tail: Sequence[Token], keep_verb: str = "") -> list[Token]:
    head = [{"type": "text", "raw": body.lstrip()}] if body.strip() else []
    return [*head, *tail]


def _is_term(term: str) -> bool:
    words = term.split()
    return (
        0 < len(term) <= MAX_TERM_CHARS
        and len(words) <= MAX_TERM_WORDS
        and not term.endswith((".", ","))
        and not re.search(r"https?$|\bhttps?://", term)
        and not re.fullmatch(r"[\d\s]+", term)
        and not (len(words) > 2 and _SENTENCE_OPENER.match(term))
    )


def _deletion_groups(tokens: Sequence[Token], spans: Sequence[Token]) -> dict[int, int]:
    """Number bold spans for cloze: adjacent spans joined by 'and'/'or'/punctuation share a number."""
    wanted = {id(span) for span in spans}
    numbers: dict[int, int] = {}
    number = 0
    previous_index = -10
    for index, token in enumerate(tokens):
        if token["type"] not in ("strong", "mark") or id(token) not in wanted:
            continue
        between = inline_text(tokens[previous_index + 1 : index]).strip().lower() if previous_index >= 0 else None
        if between is None or between not in ("", "and", "or", "&", "/", ",", "y", "o", "+"):
            number += 1
        numbers[id(token)] = number
        previous_index = index
    return numbers


# The builder -----------------------------------------------------------------------------------


@dataclass
class _Builder:
    """Collects the facts of one file, section by section."""

    source: str
    facts: list[Fact] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    bold_seen: set[int] = field(default_factory=set)
    bold_covered: set[int] = field(default_factory=set)
    definitions_seen: int = 0
    definitions_covered: int = 0
    headings: tuple[str, ...] = ()
    statements: list[_Line] = field(default_factory=list)
    section_start: int = 0

    def section(self, section: Section) -> None:
        """Extract every block of one section."""
        self.headings = section.headings
        self.statements = []
        self.section_start = len(self.facts)
        blocks = section.blocks
        index = 0
        while index < len(blocks):
            block = blocks[index]
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            consumed = BLOCK_HANDLERS.get(block.type, _skip_block)(self, block, following)
            index += 1 + consumed
        self._flush_statements()

    # -- recording ----------------------------------------------------------------------------

    def add(self, fact: Fact, tokens: Sequence[Token] = ()) -> None:
        """Record a fact and count the bold spans it carries as covered."""
        self.facts.append(fact)
        self.cover(tokens)

    def cover(self, tokens: Sequence[Token]) -> None:
        """Count the bold spans in these tokens as having made it into a card."""
        for strong in _all_strong(tokens):
            self.bold_covered.add(id(strong))

    def skip(self, line: int, reason: str, text: str) -> None:
        """Record a line that made no card."""
        self.skipped.append(Skip(self.source, line, reason, text[:120]))

    def attach(self, html: str, line: int, what: str) -> None:
        """Put code or an image on the back of the latest fact of this section."""
        if len(self.facts) > self.section_start:
            last = self.facts[-1]
            self.facts[-1] = replace(last, extra=last.extra + html)
        elif self.statements:
            # Attach to the statement card this section will make.
            self.statements[-1] = _Line((*self.statements[-1].tokens, {"type": "inline_html", "raw": html}), self.statements[-1].line)
        else:
            self.skip(line, f"{what}-without-fact", what)

    # -- facts from lines -----------------------------------------------------------------------

    def line_fact(self, line: _Line, extra: str = "", headings: tuple[str, ...] | None = None, prose: bool = False) -> bool:
        """Make a fact of one statement; returns False when it made none (and records why).

        A plain bullet (no key term) joins the section's key-points card; a plain prose sentence
        makes no card at all (`prose=True`)."""
        tokens = line.tokens
        text = line.text
        path = headings or self.headings
        for strong in _all_strong(tokens):
            self.bold_seen.add(id(strong))
        reason = noise_reason(text, tokens)
        if reason:
            if reason == "image-only":
                self.attach(inline_html(tokens), line.line, "image")
            else:
                self.skip(line.line, reason, text)
            return False
        if _AUTHOR_CLOZE.search(text):
            self.add(self._author_cloze(line, extra, path), tokens)
            return True
        marks = [t for t in tokens if t["type"] == "mark"]
        if marks:
            return self._cloze(line, marks, extra, path)
        definition = split_definition(tokens)
        if definition is not None:
            term, body = definition
            self.definitions_seen += 1
            self.definitions_covered += 1
            self.add(self._definition(term, body, line.line, extra, path), tokens)
            return True
        spans = list(_strong_tokens(tokens))
        if spans:
            bold_chars = sum(len(inline_text(s["children"])) for s in spans)
            if bold_chars >= 0.8 * len(text):
                return self._whole_bold(line, extra, path)
            top_level = {id(t) for t in tokens}
            return self._cloze(line, [s for s in spans if id(s) in top_level], extra, path)
        if prose:
            self.skip(line.line, "plain-sentence", text)
            return False
        self.statements.append(_Line(tokens if not extra else (*tokens, {"type": "inline_html", "raw": extra}), line.line))
        return True

    def _definition(self, term: Sequence[Token], body: Sequence[Token], line: int, extra: str, path: tuple[str, ...]) -> Fact:
        term_html = inline_html(_unbold(term)).rstrip(" :")
        return Fact(
            kind="definition",
            front=term_html,
            back=inline_html(body),
            extra=extra,
            headings=path,
            source=self.source,
            line=line,
            subject=inline_text(term).strip(" :"),
        )

    def _cloze(self, line: _Line, spans: Sequence[Token], extra: str, path: tuple[str, ...]) -> bool:
        text = line.text
        # Only top-level spans can be deletions; nested ones stay bold inside their parent.
        numbers = _deletion_groups(line.tokens, spans)
        if not numbers:
            self.statements.append(line)
            return True
        lengths: dict[int, int] = {}
        for token in line.tokens:
            number = numbers.get(id(token))
            if number is not None:
                lengths[number] = lengths.get(number, 0) + len(inline_text(token.get("children", ())))
        too_long = {n for n, size in lengths.items() if size > MAX_DELETION_SHARE * max(len(text), 1)}
        if too_long:
            numbers = {key: n for key, n in numbers.items() if n not in too_long}
            if not numbers:
                return self._whole_bold(line, extra, path)
            renumber = {n: i for i, n in enumerate(sorted(set(numbers.values())), start=1)}
            numbers = {key: renumber[n] for key, n in numbers.items()}
        self.add(
            Fact(
                kind="cloze",
                front=inline_html(line.tokens, deletions=numbers),
                back="",
                extra=extra,
                headings=path,
                source=self.source,
                line=line.line,
                subject=text,
            ),
            line.tokens,
        )
        return True

    def _whole_bold(self, line: _Line, extra: str, path: tuple[str, ...]) -> bool:
        plain = line.text
        parts = _WHOLE_BOLD_SPLIT.split(plain, maxsplit=1)
        if len(parts) == 2 and _is_term(parts[0].strip()) and parts[1].strip():
            term, body = parts[0].strip(), parts[1].strip()
            self.definitions_seen += 1
            self.definitions_covered += 1
            self.add(
                Fact("definition", _escape(term), _escape(body), extra, path, self.source, line.line, term),
                line.tokens,
            )
            return True
        self.statements.append(_Line(_unbold(line.tokens) if not extra else (*_unbold(line.tokens), {"type": "inline_html", "raw": extra}), line.line))
        self.cover(line.tokens)
        return True

    def _author_cloze(self, line: _Line, extra: str, path: tuple[str, ...]) -> Fact:
        rendered = inline_html(line.tokens)

        def to_sentinel(match: re.Match[str]) -> str:
            hint = f"::{match.group(3)}" if match.group(3) else ""
            return f"{cloze_open(int(match.group(1)))}{match.group(2)}{hint}{CLOZE_CLOSE}"

        return Fact("cloze", _AUTHOR_CLOZE.sub(to_sentinel, rendered), "", extra, path, self.source, line.line, line.text)

    def _flush_statements(self) -> None:
        """Plain statements of a section become list cards (section as question), 7 per card."""
        statements, self.statements = self.statements, []
        chunks = [statements[i : i + MAX_LIST_ITEMS] for i in range(0, len(statements), MAX_LIST_ITEMS)]
        for number, chunk in enumerate(chunks, start=1):
            label = "Key points" if len(chunks) == 1 else f"Key points ({number}/{len(chunks)})"
            items = "".join(f"<li>{inline_html(s.tokens)}</li>" for s in chunk)
            subject = " | ".join(s.text for s in chunk)
            self.facts.append(
                Fact("statement", label, f"<ul>{items}</ul>", "", self.headings, self.source, chunk[0].line, subject)
            )

    # -- enumerations ---------------------------------------------------------------------------

    def enumeration(self, lead: _Line, items: Sequence[Token], line: int, headings: tuple[str, ...]) -> None:
        """A lead-in ending with ':' and its items: a list card, or a cloze per item if long."""
        lead_text = lead.text.rstrip(" :")
        for strong in _all_strong(lead.tokens):
            self.bold_seen.add(id(strong))
        front = inline_html(_unbold(lead.tokens)).rstrip().rstrip(":").rstrip()
        if len(items) <= MAX_LIST_ITEMS:
            back = "<ul>" + "".join(f"<li>{blocks_html(item['children'])}</li>" for item in items) + "</ul>"
            self.add(Fact("list", front, back, "", headings, self.source, line, lead_text), lead.tokens)
        else:
            body = "".join(
                f"<li>{cloze_open(n)}{blocks_html(item['children'][:1])}{CLOZE_CLOSE}{blocks_html(item['children'][1:])}</li>"
                for n, item in enumerate(items, start=1)
            )
            self.add(Fact("cloze", f"{front}:<ul>{body}</ul>", "", "", headings, self.source, line, lead_text), lead.tokens)
        for item in items:
            self.cover(_item_head(item).tokens)
            for child in item["children"]:
                if child["type"] == "list":
                    self.cover(list(_flatten(child)))
        # Sub-items that carry their own key term also make facts, in the lead-in's context.
        child_path = (*headings, lead_text) if lead_text else headings
        for item in items:
            self.item(item, child_path, in_enumeration=True)

    def item(self, item: Token, headings: tuple[str, ...], in_enumeration: bool = False) -> None:
        """One list item: a fact from its head, its sub-list as detail or enumeration."""
        head = _item_head(item)
        nested = [c for c in item["children"][1:] if c["type"] == "list"]
        others = [c for c in item["children"][1:] if c["type"] not in ("list", "blank_line")]
        sub_items = [i for lst in nested for i in lst["children"]]
        text = head.text
        if not head.tokens:
            for lst in nested:
                for sub in lst["children"]:
                    self.item(sub, headings, in_enumeration)
            return
        if in_enumeration:
            # Inside an enumeration, only items with a key term of their own make more cards.
            if not (list(_strong_tokens(head.tokens)) or split_definition(head.tokens) or any(t["type"] == "mark" for t in head.tokens)):
                for strong in _all_strong(head.tokens):
                    self.bold_seen.add(id(strong))
                for sub in sub_items:
                    self.item(sub, (*headings, text.rstrip(" :")), in_enumeration=True)
                return
        definition = split_definition(head.tokens)
        is_lead = text.endswith(":") and (definition is None or not inline_text(definition[1]).strip())
        if sub_items and (is_lead or (definition is None and not list(_strong_tokens(head.tokens)) and len(text) <= 80)):
            self.enumeration(head, sub_items, head.line, headings)
            self._attach_blocks(others)
            return
        extra = blocks_html(nested) if nested else ""
        made = self.line_fact(head, extra, headings)
        if made:
            for lst in nested:
                self.cover(list(_flatten(lst)))
        self._attach_blocks(others)
        for sub in sub_items:
            sub_head = _item_head(sub)
            if list(_strong_tokens(sub_head.tokens)) or any(t["type"] == "mark" for t in sub_head.tokens):
                self.item(sub, headings, in_enumeration=True)

    def _attach_blocks(self, blocks: Sequence[Token]) -> None:
        for block in blocks:
            if block["type"] == "block_code":
                self.attach(blocks_html([block]), block.get("line", 0), "code")
            elif block["type"] == "paragraph":
                for line in _lines(block["children"], block.get("line", 0)):
                    self.line_fact(line, prose=True)


def _item_head(item: Token) -> _Line:
    children = item.get("children", ())
    if children and children[0]["type"] in ("block_text", "paragraph"):
        return _Line(tuple(children[0].get("children", ())), item.get("line", 0))
    return _Line((), item.get("line", 0))


def _flatten(list_token: Token) -> Iterator[Token]:
    for item in list_token.get("children", ()):
        for child in item.get("children", ()):
            if child["type"] == "list":
                yield from _flatten(child)
            else:
                yield from child.get("children", ())


def _unbold(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Drop the outer bold of spans (a front that is all bold reads as shouting)."""
    out: list[Token] = []
    for token in tokens:
        if token["type"] == "strong":
            out.extend(token["children"])
        else:
            out.append(token)
    return tuple(out)


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _lines(children: Sequence[Token], line: int) -> Iterator[_Line]:
    """Split a paragraph's inline tokens into statements: at line breaks that end a sentence, then at sentence ends."""
    current: list[Token] = []
    current_line = line
    offset = 0
    for token in children:
        if token["type"] in ("softbreak", "linebreak"):
            offset += 1
            before = inline_text(current).rstrip()
            if before.endswith((".", "!", "?", ":")) or token["type"] == "linebreak" or not before:
                if current:
                    yield from _sentences(current, current_line)
                current = []
                current_line = line + offset
            else:
                current.append({"type": "text", "raw": " "})
            continue
        current.append(token)
    if current:
        yield from _sentences(current, current_line)


def _sentences(tokens: Sequence[Token], line: int) -> Iterator[_Line]:
    """Split at sentence ends found in top-level text tokens."""
    current: list[Token] = []
    for token in tokens:
        if token["type"] != "text":
            current.append(token)
            continue
        raw = token["raw"]
        start = 0
        for match in _SENTENCE_END.finditer(raw):
            piece = raw[start : match.start()]
            if _ABBREVIATIONS.search(piece) or (not piece.strip() and not current):
                continue
            current.append({"type": "text", "raw": piece})
            yield _Line(tuple(current), line)
            current = []
            start = match.end()
        if raw[start:]:
            current.append({"type": "text", "raw": raw[start:]})
    if current and (inline_text(current).strip() or any(t["type"] in ("image", "embed") for t in current)):
        yield _Line(tuple(current), line)


# Block handlers: (builder, block, following block) -> how many following blocks were consumed ----


def _handle_paragraph(builder: _Builder, block: Block, following: Block | None) -> int:
    lines = list(_lines(block.token["children"], block.line))
    if not lines:
        return 0
    # A paragraph ending with ':' right before a list introduces it.
    if following is not None and following.type == "list" and lines[-1].text.endswith(":"):
        for line in lines[:-1]:
            builder.line_fact(line, prose=True)
        builder.enumeration(lines[-1], following.token["children"], lines[-1].line, builder.headings)
        return 1
    _qa_or_lines(builder, lines)
    return 0


def _qa_or_lines(builder: _Builder, lines: Sequence[_Line], prose: bool = True) -> None:
    index = 0
    while index < len(lines):
        line = lines[index]
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if _QUESTION.match(line.text) and nxt is not None and _ANSWER.match(nxt.text):
            question = _QUESTION.sub("", inline_html(line.tokens), count=1)
            answer = _ANSWER.sub("", inline_html(nxt.tokens), count=1)
            subject = _QUESTION.sub("", line.text, count=1)
            builder.add(Fact("qa", question, answer, "", builder.headings, builder.source, line.line, subject), (*line.tokens, *nxt.tokens))
            for strong in _all_strong((*line.tokens, *nxt.tokens)):
                builder.bold_seen.add(id(strong))
            index += 2
            continue
        builder.line_fact(line, prose=prose)
        index += 1


def _handle_list(builder: _Builder, block: Block, following: Block | None) -> int:
    items = block.token["children"]
    heads = [_item_head(item) for item in items]
    index = 0
    while index < len(items):
        head = heads[index]
        nxt = heads[index + 1] if index + 1 < len(items) else None
        if _QUESTION.match(head.text) and nxt is not None and _ANSWER.match(nxt.text):
            _qa_or_lines(builder, [head, nxt], prose=False)
            index += 2
            continue
        builder.item(items[index], builder.headings)
        index += 1
    return 0


def _handle_table(builder: _Builder, block: Block, following: Block | None) -> int:
    head = next((s for s in block.token["children"] if s["type"] == "table_head"), None)
    body = next((s for s in block.token["children"] if s["type"] == "table_body"), None)
    if head is None or body is None:
        return 0
    headers = [inline_text(cell["children"]).strip() for cell in head["children"]]
    for row_number, row in enumerate(body["children"]):
        cells = row["children"]
        if not cells:
            continue
        key_tokens = cells[0]["children"]
        key = inline_text(key_tokens).strip()
        line = block.line + 2 + row_number
        for strong in _all_strong([c for cell in cells for c in cell["children"]]):
            builder.bold_seen.add(id(strong))
        values = [(headers[i] if i < len(headers) else "", cell) for i, cell in enumerate(cells[1:], start=1)]
        values = [(label, cell) for label, cell in values if inline_text(cell["children"]).strip()]
        if not key or not values:
            builder.skip(line, "table-row-without-values", key)
            continue
        if len(values) == 1 and len(headers) == 2:
            back = inline_html(values[0][1]["children"])
        else:
            back = "<dl>" + "".join(
                f"<dt>{_escape(label)}</dt><dd>{inline_html(cell['children'])}</dd>" for label, cell in values
            ) + "</dl>"
        label = headers[0] if headers and headers[0] else ""
        front = f"{_escape(label)}: {inline_html(_unbold(key_tokens))}" if label else inline_html(_unbold(key_tokens))
        columns = " / ".join(h for h in headers[1:] if h)
        if columns and len(values) > 1:
            front += f" <span class=\"ask\">({_escape(columns)})</span>"
        elif len(values) == 1 and values[0][0]:
            front += f" <span class=\"ask\">({_escape(values[0][0])})</span>"
        builder.add(
            Fact("row", front, back, "", builder.headings, builder.source, line, f"{label}: {key}"),
            [c for cell in cells for c in cell["children"]],
        )
    return 0


def _handle_code(builder: _Builder, block: Block, following: Block | None) -> int:
    builder.attach(blocks_html([block.token]), block.line, "code")
    return 0


def _handle_quote(builder: _Builder, block: Block, following: Block | None) -> int:
    children = [c for c in block.token.get("children", ()) if c["type"] != "blank_line"]
    consumed_following = 0
    for index, child in enumerate(children):
        nested = Block(child["type"], child, child.get("line", block.line))
        nxt = children[index + 1] if index + 1 < len(children) else None
        BLOCK_HANDLERS.get(child["type"], _skip_block)(builder, nested, Block(nxt["type"], nxt, block.line) if nxt else None)
    return consumed_following


def _handle_html(builder: _Builder, block: Block, following: Block | None) -> int:
    raw = str(block.token.get("raw", ""))
    if "<img" in raw.lower():
        builder.attach(raw, block.line, "image")
    elif re.sub(r"<[^>]+>", "", raw).strip():
        builder.skip(block.line, "raw-html-block", raw)
    return 0


def _skip_block(builder: _Builder, block: Block, following: Block | None) -> int:
    return 0


BLOCK_HANDLERS: dict[str, Callable[[_Builder, Block, Block | None], int]] = {
    "paragraph": _handle_paragraph,
    "block_text": _handle_paragraph,
    "list": _handle_list,
    "table": _handle_table,
    "block_code": _handle_code,
    "block_quote": _handle_quote,
    "block_html": _handle_html,
    "thematic_break": _skip_block,
}

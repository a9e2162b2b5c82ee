"""Block handlers: what each kind of Markdown block (paragraph, list, table, code, quote, HTML) gives."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..parse import Block, Section, inline_text
from ..render import blocks_html, inline_html, list_html
from .builder import Builder, MAX_LIST_ITEMS, MAX_NAME_WORDS, MAX_SET_WORDS, is_ordered
from .facts import Fact
from .noise import EXAMPLE_HEADING, META_HEADING, noise_reason
from .text import (
    ANSWER, ANY_WORD, Line, MAX_PSEUDO_HEADING_WORDS, QUESTION, TAG, all_nested_items, escape_html, item_head,
    pseudo_heading, repair_bold, split_lines, trim_answer, unbold, visible_words,
)

Token = Mapping[str, Any]


def walk_section(builder: Builder, section: Section) -> None:
    """Extract every block of one section, each by its block handler."""
    builder.begin_section(section)
    blocks = section.blocks
    if META_HEADING.match(section.headings[-1]):
        # A table of contents, reading list or licence: about the notes, not AWS.
        for block in blocks:
            builder.skip(block.line, "meta-section", section.headings[-1])
        return
    if EXAMPLE_HEADING.match(section.headings[-1]):
        # A worked example's lines ("the apps on EC2 will retrieve the data") hold its made-up
        # values, not facts; its code still goes on the back of the fact before it.
        for block in blocks:
            if block.type == "block_code":
                _handle_code(builder, block, None)
            else:
                builder.skip(block.line, "example-section", section.headings[-1])
        return
    index = 0
    while index < len(blocks):
        block = blocks[index]
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        consumed = BLOCK_HANDLERS.get(block.type, _skip_block)(builder, block, following)
        index += 1 + consumed
    builder.end_section()


def _handle_paragraph(builder: Builder, block: Block, following: Block | None) -> int:
    """A paragraph: a bold sub-heading, a lead-in to the next list, Q/A pairs or sentences."""
    children = repair_bold(block.token["children"])
    # A short line in bold opening a paragraph (or alone) is a sub-heading for what follows.
    first_break = next((i for i, t in enumerate(children) if t["type"] in ("softbreak", "linebreak")), len(children))
    pseudo = pseudo_heading(children[:first_break])
    if pseudo is not None and (first_break < len(children) or following is not None):
        ends_colon = inline_text(children[:first_break]).rstrip().endswith(":")
        if first_break == len(children) and ends_colon and following is not None and following.type == "list":
            builder.enumeration(Line(children, block.line), following.token["children"], builder.headings, is_ordered(following.token))
            return 1
        builder.sub_heading(pseudo, block.line)
        children = children[first_break + 1 :]
        if not children:
            return 0
        line = block.line + 1
    else:
        line = block.line
        if children and children[0]["type"] == "strong":
            builder.leave_sub_heading()
    lines = list(split_lines(children, line))
    if not lines:
        return 0
    # A paragraph ending with ':' right before a list introduces it, and so does a short title-like
    # line ("Encrypting a volume") with no sentence end.
    if following is not None and following.type == "list" and _leads_in(lines):
        _qa_or_lines(builder, lines[:-1])
        builder.enumeration(lines[-1], following.token["children"], builder.headings, is_ordered(following.token))
        return 1
    _qa_or_lines(builder, lines)
    return 0


def _leads_in(lines: Sequence[Line]) -> bool:
    """Whether a paragraph's last line introduces the list after it: it ends with ':', or the
    paragraph is one short title-like line ("Encrypting a volume")."""
    text = lines[-1].text
    if text.endswith(":"):
        return True
    return (
        len(lines) == 1
        and 0 < len(text.split()) <= MAX_PSEUDO_HEADING_WORDS
        and ANY_WORD.search(text) is not None
        and noise_reason(text, lines[-1].tokens) is None
        and not text.endswith((".", "!", "?", ";", ","))
        and ":" not in text
        and not ANSWER.match(text)
    )


def _qa_or_lines(builder: Builder, lines: Sequence[Line], prose: bool = True) -> None:
    """`Q:`/`A:` pairs become qa cards; other lines follow the line rules."""
    # Sentence splitting may cut a `Q:` or `A:` line in pieces: glue back those of the same source line.
    lines = _join_source_lines(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if QUESTION.match(line.text) and nxt is not None and ANSWER.match(nxt.text):
            question = QUESTION.sub("", inline_html(line.tokens), count=1)
            answer, overflow = trim_answer(nxt.tokens, nxt.line)
            answer = ANSWER.sub("", answer, count=1)
            subject = QUESTION.sub("", line.text, count=1)
            builder.add(Fact("qa", question, answer, overflow, builder.headings, builder.source, line.line, subject, "qa"))
            index += 2
            continue
        builder.line_fact(line, prose=prose)
        index += 1


def _join_source_lines(lines: Sequence[Line]) -> list[Line]:
    """Rejoin the sentences of a `Q:`/`A:` source line (other lines stay split into sentences)."""
    out: list[Line] = []
    for line in lines:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.line == line.line
            and (QUESTION.match(previous.text) or ANSWER.match(previous.text))
            and not (QUESTION.match(line.text) or ANSWER.match(line.text))
        ):
            out[-1] = Line((*previous.tokens, {"type": "text", "raw": " "}, *line.tokens), previous.line)
            continue
        out.append(line)
    return out


def _handle_list(builder: Builder, block: Block, following: Block | None) -> int:
    """A list: a list of links (a table of contents, an index) gives nothing; `Q:`/`A:` item pairs
    a qa card each; any other item, its own facts."""
    items = block.token["children"]
    heads = [builder.head(item) for item in items]
    if _link_index(heads, items):
        builder.skip(block.line, "link-index", heads[0].text)
        return 0
    index = 0
    while index < len(items):
        head = heads[index]
        nxt = heads[index + 1] if index + 1 < len(items) else None
        if QUESTION.match(head.text) and nxt is not None and ANSWER.match(nxt.text):
            _qa_or_lines(builder, [head, nxt], prose=False)
            index += 2
            continue
        builder.item(items[index], builder.headings)
        index += 1
    return 0


def _link_index(heads: Sequence[Line], items: Sequence[Token] = ()) -> bool:
    """Whether most items of a list, nested ones included, are only a link (a table of contents,
    an index of files)."""
    heads = [*heads, *(item_head(sub) for item in items for sub in all_nested_items(item))]
    links = 0
    for head in heads:
        words = [t for t in head.tokens if not (t["type"] == "text" and not t["raw"].strip(" -–:|,.()"))]
        if words and all(t["type"] == "link" for t in words):
            links += 1
    return links >= 2 and links * 2 > len(heads)


# A cell that states nothing to recall ("Varies", "n/a", "-"), or nothing at all.
_VAGUE_CELL = re.compile(r"^\W*(?:varies|depends|it depends|n/?a|none|tbd|unknown|various|see .*)?\W*$", re.I)
_STATUS_HEADER = re.compile(r"^\W*(?:status|progress|done|estado|progreso)\W*$", re.I)
_EXAMPLE = re.compile(r"\b(?:examples?|e\.g\.|sample|ejemplos?)\b", re.I)
_REPOSITORY = re.compile(r"^[\w.-]+/[\w./-]+$")
_INSTANCE_SIZE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(?:nano|micro|small|medium|\d*x?large|metal[\w-]*)$")


def _link_keys(rows: Sequence[Sequence[Sequence[Token]]]) -> bool:
    """Whether most rows of a table are keyed by a link or a repository/file path."""
    linked = 0
    for cells in rows:
        key = [t for t in cells[0] if not (t["type"] == "text" and not t["raw"].strip())] if cells else []
        if key and (all(t["type"] == "link" for t in key) or _REPOSITORY.match(inline_text(key).strip())):
            linked += 1
    return linked * 2 > len(rows) > 0


def _table_not_learned(headers: Sequence[str], keys: Sequence[str], rows: Sequence[Sequence[Sequence[Token]]], heading: str) -> str | None:
    """Why a table holds nothing to learn, or None: the author's progress, a spec sheet to look up
    (one row per instance size), an example's made-up values, an index of files."""
    if any(_STATUS_HEADER.search(h) for h in headers[1:]):
        return "meta-table"
    if sum(bool(_INSTANCE_SIZE.match(k)) for k in keys) * 2 > len(keys) > 0:
        return "spec-table"
    if _EXAMPLE.search(heading):
        return "example-table"
    if _shares_of_a_whole(keys, rows):
        return "meta-table"  # "Migration Planning | 15%": how an exam weighs its domains, not AWS
    return "link-index" if _link_keys(rows) else None


_PERCENT = re.compile(r"^\W*(\d+(?:\.\d+)?)\s*%\W*$")


def _shares_of_a_whole(keys: Sequence[str], rows: Sequence[Sequence[Sequence[Token]]]) -> bool:
    """Whether a two-column table splits 100% between its rows (a TOTAL row aside)."""
    shares = []
    for key, cells in zip(keys, rows):
        found = _PERCENT.match(inline_text(cells[1])) if len(cells) == 2 else None
        if found is None:
            return False
        if key.strip("* ").casefold() != "total":
            shares.append(float(found.group(1)))
    return len(shares) >= 3 and abs(sum(shares) - 100) <= 1


def _constant_columns(rows: Sequence[Sequence[Sequence[Token]]]) -> set[int]:
    """Columns with the same value in every row of 3 or more ("Protocol: TCP" for every port): a
    card per cell would ask what nothing distinguishes."""
    if len(rows) < 3:
        return set()
    width = min(len(cells) for cells in rows)
    return {i for i in range(1, width) if len({inline_text(cells[i]).strip().casefold() for cells in rows}) == 1}


def _names(cells: Iterable[Sequence[Token]]) -> bool:
    """Whether a column's cells are names (a few words each), not statements."""
    sizes = [len(inline_text(cell).split()) for cell in cells]
    return bool(sizes) and max(sizes) <= MAX_NAME_WORDS


def _handle_table(builder: Builder, block: Block, following: Block | None) -> int:
    """A table: keyed by its first column. With one value column, a card per row (the column's
    header asks for it); a comparison (two value columns or more), a card per cell, asked by its
    row and column, so that no card is a row of run-together cells."""
    head = next((s for s in block.token["children"] if s["type"] == "table_head"), None)
    body = next((s for s in block.token["children"] if s["type"] == "table_body"), None)
    if head is None or body is None:
        return 0
    headers = [inline_text(cell["children"]).strip() for cell in head["children"]]
    rows = [[repair_bold(cell["children"]) for cell in row["children"]] for row in body["children"]]
    continued: set[int] = set()
    for number, (previous, cells) in enumerate(zip(rows, rows[1:]), start=1):
        if cells and previous and not inline_text(cells[0]).strip():
            cells[0] = previous[0]  # an empty first cell continues the row above
            continued.add(number)
    keys = [inline_text(cells[0]).strip() if cells else "" for cells in rows]
    not_learned = _table_not_learned(headers, keys, rows, builder.headings[-1])
    if not_learned is not None:
        builder.skip(block.line, not_learned, " | ".join(headers))
        return 0
    asked = sum(k.endswith("?") for k in keys) * 2 > len(keys)  # "Who deleted this bucket? | CloudTrail"
    # "Ad hoc SQL on files in S3 | Athena": descriptions keyed to the names that answer them
    answered = len(headers) == 2 and all(len(cells) == 2 for cells in rows) and _names(cell for _, cell in rows)
    if keys and not asked and not answered and sum(len(k.split()) for k in keys) / len(keys) > MAX_NAME_WORDS:
        # Not keyed by names: each column is a list of statements under its header.
        made = len(builder.facts)
        for row_number, cells in enumerate(rows):
            for index, cell in enumerate(cells):
                label = headers[index] if index < len(headers) else ""
                if inline_text(cell).strip():
                    path = (*builder.headings, label) if label else builder.headings
                    builder.line_fact(Line(tuple(cell), block.line + 2 + row_number), headings=path)
        if len(builder.facts) == made:
            builder.skip(block.line, "no-key-term", " | ".join(headers))  # the header row: labels of cells that made no card
        return 0
    _keyed_rows(builder, block.line, headers, rows, continued)
    return 0


def _keyed_rows(builder: Builder, first_line: int, headers: Sequence[str], rows: Sequence[list[Sequence[Token]]], continued: set[int]) -> None:
    """The cards of a table keyed by names: a card per row, or per cell of a comparison. A row
    that continues the one above (its first cell empty) adds its cells to that row's cards, so
    that no two cards ask the same: to the answer while it stays a short list, else to the extra."""
    comparison = len(headers) > 2
    constant = _constant_columns(rows) if comparison else set()
    facts: dict[str, Fact] = {}  # by subject, in row order
    more: dict[str, list[str]] = {}
    for row_number, cells in enumerate(rows):
        if not cells:
            continue
        key_tokens = unbold(cells[0])
        key = inline_text(key_tokens).strip()
        line = first_line + 2 + row_number
        values = [(headers[i] if i < len(headers) else "", cell) for i, cell in enumerate(cells[1:], start=1) if i not in constant]
        values = [(label, cell) for label, cell in values if not _VAGUE_CELL.match(inline_text(cell))]
        if not key or not values:
            builder.skip(line, "table-row-without-values", key)
            continue
        key_html = inline_html(key_tokens)
        for label, cell in values[:1] if not comparison else values:
            # "NS › Purpose", as a comparison's cells are asked: "NS (Purpose)" read as garbled
            front = key_html + (f' <span class="ask">› {escape_html(label)}</span>' if label else "")
            back, overflow = trim_answer(cell, line)
            if comparison:
                subject, kind, pattern = f"{key} / {label}", "cell", "table-cell"
            else:
                subject, kind, pattern = f"{headers[0] if headers else ''}: {key}", "row", "table-row"
            if row_number in continued and subject in facts:
                more[subject].append(back + overflow)
                continue
            facts[subject], more[subject] = builder.fact(kind, front, back, overflow, builder.headings, line, subject, pattern), []
    for subject, fact in facts.items():
        rest = more[subject]
        if rest and len(rest) < MAX_LIST_ITEMS and visible_words(fact.back + "".join(rest)) <= MAX_SET_WORDS:
            fact = replace(fact, back=list_html([fact.back, *rest]))  # "API calls" and "sign-ins": the whole answer
        elif rest:
            fact = replace(fact, extra=list_html(rest) + fact.extra)  # too much for one answer: notes on the back
        builder.add(fact)


def _handle_code(builder: Builder, block: Block, following: Block | None) -> int:
    """A code block: on the back of the fact it belongs to."""
    builder.attach(blocks_html([block.token]), block.line, "code")
    return 0


def _handle_quote(builder: Builder, block: Block, following: Block | None) -> int:
    """A block quote: its blocks, as if they were not quoted (an Obsidian callout's `[!note]` line
    is only its frame)."""
    children = [c for c in block.token.get("children", ()) if c["type"] != "blank_line"]
    if children and children[0]["type"] == "paragraph":
        children[0] = _without_callout(children[0], block.line)
    index = 0
    while index < len(children):
        child = children[index]
        nested = Block(child["type"], child, child.get("line", block.line))
        nxt = children[index + 1] if index + 1 < len(children) else None
        following_block = Block(nxt["type"], nxt, block.line) if nxt else None
        index += 1 + BLOCK_HANDLERS.get(child["type"], _skip_block)(builder, nested, following_block)
    return 0


_CALLOUT = re.compile(r"^\s*\[![\w-]+\][+-]?")


def _without_callout(paragraph: Token, line: int) -> Token:
    """A quote's first paragraph without the `[!note] Title` line that makes it a callout."""
    tokens = paragraph.get("children", ())
    if not tokens or tokens[0]["type"] != "text" or not _CALLOUT.match(tokens[0]["raw"]):
        return paragraph
    cut = next((i for i, t in enumerate(tokens) if t["type"] in ("softbreak", "linebreak")), len(tokens))
    return {**paragraph, "children": list(tokens[cut + 1 :]), "line": paragraph.get("line", line) + 1}


def _handle_html(builder: Builder, block: Block, following: Block | None) -> int:
    """Raw HTML: an image attaches to a fact, anything else is skipped."""
    raw = str(block.token.get("raw", ""))
    if "<img" in raw.lower():
        builder.attach(raw, block.line, "image")
    elif TAG.sub("", raw).strip():
        builder.skip(block.line, "raw-html-block", raw)
    return 0


def _skip_block(builder: Builder, block: Block, following: Block | None) -> int:
    """A block that makes no card (thematic break, unknown)."""
    return 0


BLOCK_HANDLERS: dict[str, Callable[[Builder, Block, Block | None], int]] = {
    "paragraph": _handle_paragraph,
    "block_text": _handle_paragraph,
    "list": _handle_list,
    "table": _handle_table,
    "block_code": _handle_code,
    "block_quote": _handle_quote,
    "block_html": _handle_html,
    "thematic_break": _skip_block,
}

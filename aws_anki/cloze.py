"""Cloze markup: the one module that writes and reads it.

While a field is rendered and sanitised, a deletion travels as private-use sentinels (the sanitiser
re-serialises entities, which would undo the escaping of `::` inside a deletion); `finish_cloze`
turns them into Anki's `{{cN::text}}` / `{{cN::text::hint}}`. A field is read back as Anki's rslib
reads it (`cloze.rs`): deletions nest, one never closed stays text, and a text run inside a deletion
carries the hint after its first `::`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

CLOZE_OPEN = "\ue000"
CLOZE_NUMBER_END = "\ue001"
CLOZE_CLOSE = "\ue002"
CLOZE_HINT = "\ue003"  # between a deletion's text and its hint: `{{c1::text::hint}}`
SENTINEL = re.compile("[\ue000-\ue003]")
_SENTINELS = re.compile("\ue000(\\d+)\ue001|\ue002|\ue003")
# Anki ends a deletion at the first `}}` and its text at the first `::`, so a `}` that ends a
# deletion's text (`{{c1::{a}}}`) or a `:` that ends it before a hint must be entities too.
_BEFORE_SENTINEL = re.compile("\\}(?=\ue002)|:(?=\ue003)")
# A `}` followed by another: replacing `}}` by `&#125;}` pair by pair would leave `}}` of `}}}`.
_PAIRED_CLOSE = re.compile(r"\}(?=\})")

OPEN = re.compile(r"\{\{c(\d+)::")  # a deletion's opening, with its number
MARKER = re.compile(r"\{\{c(\d+)::|\}\}")  # a deletion's opening (with its number) or its end
# An author's deletion with nothing to hide (`{{c1::}}`, `{{c1:: ::hint}}`): Anki makes no card of it.
_EMPTY = re.compile(r"\{\{c\d+::\s*(?:::[^{}\n]*)?\}\}")


def cloze_open(number: int) -> str:
    """Sentinel that opens deletion `number` (turned into `{{cN::` by `finish_cloze`)."""
    return f"{CLOZE_OPEN}{number}{CLOZE_NUMBER_END}"


def finish_cloze(field_html: str) -> str:
    """Break `{{`, `}}` and `::` (and longer runs) of the text with entities, so Anki's cloze parser
    leaves them alone, then turn the deletion sentinels into `{{cN::…}}`."""
    text = field_html.replace("{{", "{&#123;").replace("::", ":&#58;")  # `{&#123;{`, `:&#58;:`: no pair left
    if "}}" in text:
        text = _PAIRED_CLOSE.sub("&#125;", text)
    text = _BEFORE_SENTINEL.sub(lambda m: "&#125;" if m.group(0) == "}" else "&#58;", text)
    return _SENTINELS.sub(_markup, text)


def _markup(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return "{{c" + match.group(1) + "::"
    return "}}" if match.group(0) == CLOZE_CLOSE else "::"


@dataclass
class Deletion:
    """One deletion of a field: its number, its text and nested deletions, its hint."""

    number: int
    nodes: list[str | Deletion]
    hint: str | None = None


def parse_cloze(text: str) -> list[str | Deletion]:
    """A field as Anki reads it: text runs and (nested) deletions."""
    output: list[str | Deletion] = []
    open_deletions: list[tuple[Deletion, str]] = []  # with the marker that opened it
    position = 0

    def add_text(piece: str) -> None:
        if not piece:
            return
        if not open_deletions:
            output.append(piece)
            return
        deletion = open_deletions[-1][0]
        if "::" in piece:  # as in Anki: each text run inside a deletion may carry the hint
            piece, deletion.hint = piece.split("::", 1)
        deletion.nodes.append(piece)

    for match in MARKER.finditer(text):
        add_text(text[position : match.start()])
        position = match.end()
        if match.group(1) is not None:
            open_deletions.append((Deletion(int(match.group(1)), []), match.group(0)))
        elif open_deletions:
            deletion, _marker = open_deletions.pop()
            (open_deletions[-1][0].nodes if open_deletions else output).append(deletion)
        else:
            output.append("}}")
    add_text(text[position:])
    while open_deletions:  # an unterminated deletion stays text, as written
        deletion, marker = open_deletions.pop()
        hint = [f"::{deletion.hint}"] if deletion.hint is not None else []
        (open_deletions[-1][0].nodes if open_deletions else output).extend([marker, *deletion.nodes, *hint])
    return output


def _walk(nodes: Sequence[str | Deletion]) -> list[Deletion]:
    found: list[Deletion] = []
    for node in nodes:
        if isinstance(node, Deletion):
            found.append(node)
            found.extend(_walk(node.nodes))
    return found


def _text(nodes: Sequence[str | Deletion]) -> str:
    return "".join(_text(node.nodes) if isinstance(node, Deletion) else node for node in nodes)


def cloze_numbers(text: str) -> list[int]:
    """The distinct deletion numbers of a field, in increasing order (Anki makes one card each)."""
    found: set[int] = set()
    opened: list[int] = []  # the numbers of the open deletions: what `parse_cloze` reads, without its tree
    for marker in MARKER.finditer(text):
        if marker.group(1) is not None:
            opened.append(int(marker.group(1)))
        elif opened:
            found.add(opened.pop())
    return sorted(found)


_SENTINEL_DELETION = re.compile(f"{CLOZE_OPEN}\\d+{CLOZE_NUMBER_END}([^{CLOZE_OPEN}{CLOZE_CLOSE}]*){CLOZE_CLOSE}")


def split_deletions(field_html: str) -> tuple[str, str]:
    """What a field's deletions hide (still as sentinels; hints left out) and the rest of it."""
    hidden = " ".join(m.group(1).split(CLOZE_HINT)[0] for m in _SENTINEL_DELETION.finditer(field_html))
    return hidden, _SENTINEL_DELETION.sub(" ", field_html)


def deletions(text: str) -> list[tuple[int, str]]:
    """(number, text without hints) of each deletion of a field, nested ones too, in order."""
    return [(deletion.number, _text(deletion.nodes)) for deletion in _walk(parse_cloze(text))]


def answered(text: str) -> str:
    """A field with its markup resolved: each deletion's text in place, hints left out."""
    return _text(parse_cloze(text)) if "{{c" in text else text


def reveal_cloze(text: str, ordinal: int, *, question: bool) -> str:
    """Render a cloze field for card `ordinal` (1-based) as Anki does; "" if it has no such deletion."""
    out: list[str] = []
    found = False

    def reveal_nodes(nodes: Sequence[str | Deletion], asking: bool, into: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Deletion):
                reveal(node, asking, into)
            else:
                into.append(node)

    def reveal(deletion: Deletion, asking: bool, into: list[str]) -> None:
        nonlocal found
        active = deletion.number == ordinal
        found |= active
        if asking and active:
            reveal_nodes(deletion.nodes, False, [])  # hidden, but a nested active deletion still counts
            shown = f"[{deletion.hint}]" if deletion.hint is not None else "[...]"
            into.append(f'<span class="cloze" data-ordinal="{deletion.number}">{shown}</span>')
            return
        into.append(f'<span class="{"cloze" if active else "cloze-inactive"}" data-ordinal="{deletion.number}">')
        reveal_nodes(deletion.nodes, asking, into)
        into.append("</span>")

    reveal_nodes(parse_cloze(text), question, out)
    return "".join(out) if found else ""


def empty_deletions(line: str) -> list[str]:
    """The deletions of an author's line that hide nothing (Anki makes no card of them)."""
    return [match.group() for match in _EMPTY.finditer(line)]


def nested_deletion(line: str) -> tuple[str, str] | None:
    """The opening markers of the first deletion an author wrote inside another, outer one first."""
    opened: list[str] = []
    for marker in MARKER.finditer(line):
        if marker.group() == "}}":
            if opened:
                opened.pop()
        elif opened:
            return opened[0], marker.group()
        else:
            opened.append(marker.group())
    return None

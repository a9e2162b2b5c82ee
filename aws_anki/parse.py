"""Parse stage: Markdown text to a tree of sections holding mistune tokens with source lines."""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterator, Mapping, Sequence

import mistune
from mistune.block_parser import BlockParser
from mistune.core import BlockState
from mistune.plugins import import_plugin

from .read import SourceFile

Token = Mapping[str, Any]

# Obsidian embeds (`![[file.png|300]]`) and wikilinks (`[[Page|label]]`) are plain text to mistune.
EMBED_PATTERN = r"!\[\[(?P<embed_target>[^\[\]\n|]+)(?:\|(?P<embed_opts>[^\[\]\n]*))?\]\]"
WIKILINK_PATTERN = r"\[\[(?P<wiki_target>[^\[\]\n|]+)(?:\|(?P<wiki_label>[^\[\]\n]*))?\]\]"
_LIST_MARKER = re.compile(r"^[ \t>]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)", re.M)
_SNIPPET_STRIP = re.compile(r"[*_`~=\[\]<>!#|\\]")


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block (paragraph, list, table, code...) and where it starts."""

    type: str
    token: Token
    line: int


@dataclass(frozen=True)
class Section:
    """The blocks under one heading, with the path of headings that leads to it."""

    headings: tuple[str, ...]
    line: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """A parsed note file: its source and its sections in reading order."""

    source: SourceFile
    title: str
    sections: tuple[Section, ...]


def parse_embed(inline: Any, m: re.Match[str], state: Any) -> int:
    """Turn `![[target|options]]` into an `embed` token."""
    state.append_token(
        {
            "type": "embed",
            "attrs": {"target": m.group("embed_target").strip(), "options": (m.group("embed_opts") or "").strip()},
        }
    )
    return m.end()


def parse_wikilink(inline: Any, m: re.Match[str], state: Any) -> int:
    """Turn `[[Page|label]]` into plain text (its label, else the page name)."""
    label = m.group("wiki_label") or m.group("wiki_target").split("#")[0]
    state.append_token({"type": "text", "raw": label.strip()})
    return m.end()


def obsidian(md: mistune.Markdown) -> None:
    """mistune plugin: Obsidian embeds and wikilinks."""
    md.inline.register("embed", EMBED_PATTERN, parse_embed, before="link")
    md.inline.register("wikilink", WIKILINK_PATTERN, parse_wikilink, before="link")


class _PositionState(BlockState):
    """Block state that stamps each new top-level paragraph with its source offset."""

    def add_paragraph(self, text: str) -> None:
        last = self.last_token()
        if self.parent is None and not (last and last["type"] == "paragraph"):
            self.tokens.append({"type": "paragraph", "text": text, "_pos": self.cursor})
            return
        super().add_paragraph(text)


class _PositionParser(BlockParser):
    """Block parser that stamps top-level tokens with the source offset of their match."""

    state_cls = _PositionState

    def parse_method(self, m: re.Match[str], state: BlockState) -> int | None:
        if state.parent is not None:
            return super().parse_method(m, state)
        count = len(state.tokens)
        end = super().parse_method(m, state)
        for token in state.tokens[count:]:
            token.setdefault("_pos", m.start())
        return end


@cache
def _markdown(with_obsidian: bool) -> mistune.Markdown:
    # The Obsidian rules slow every inline scan, so files without `[[` use a parser without them.
    plugins = [import_plugin(name) for name in ("table", "mark", "strikethrough")]
    return mistune.Markdown(
        renderer=None,
        block=_PositionParser(),
        plugins=plugins + [obsidian] if with_obsidian else plugins,
    )


def parse_tokens(text: str) -> list[dict[str, Any]]:
    """Parse Markdown into mistune tokens; top-level tokens and list items carry a `line`."""
    tokens, _ = _markdown("[[" in text).parse(text)
    assert isinstance(tokens, list)
    _stamp_lines(tokens, text)
    return tokens


def parse_document(source: SourceFile) -> Document:
    """Parse one source file into its sections (title > h1 > h2 ...)."""
    tokens = parse_tokens(source.text)
    title = str(source.metadata.get("title") or _file_title(source.rel_path))
    return Document(source=source, title=title, sections=tuple(_sections(tokens, title)))


def inline_text(children: Sequence[Token]) -> str:
    """Plain text of inline tokens (for headings, keys and statistics)."""
    out: list[str] = []
    for child in children:
        kind = child["type"]
        if "raw" in child and kind not in ("inline_html", "block_html"):
            out.append(child["raw"])
        elif kind in ("softbreak", "linebreak"):
            out.append(" ")
        elif kind == "embed":
            continue
        elif "children" in child:
            out.append(inline_text(child["children"]))
    return "".join(out)


def _file_title(rel_path: str) -> str:
    stem = rel_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"[_-]+", " ", stem).strip() or stem


def _sections(tokens: Sequence[Token], title: str) -> Iterator[Section]:
    stack: list[tuple[int, str]] = []
    line = 1
    blocks: list[Block] = []

    def current() -> tuple[str, ...]:
        return (title, *(text for _, text in stack))

    for token in tokens:
        kind = token["type"]
        if kind == "blank_line":
            continue
        if kind == "heading":
            if blocks:
                yield Section(current(), line, tuple(blocks))
            level = token["attrs"]["level"]
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, inline_text(token.get("children", ())).strip() or "(untitled)"))
            line = token.get("line", line)
            blocks = []
            continue
        blocks.append(Block(kind, token, token.get("line", line)))
    if blocks:
        yield Section(current(), line, tuple(blocks))


def _stamp_lines(tokens: list[dict[str, Any]], text: str) -> None:
    """Turn `_pos` offsets into 1-based lines, and give every list item the line of its marker."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    markers = [bisect_right(newlines, m.start()) + 1 for m in _LIST_MARKER.finditer(text)]
    lines = text.split("\n")
    for token in tokens:
        pos = token.pop("_pos", None)
        if pos is None:
            continue
        # A paragraph's text may start with the blank remainder of the previous line.
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
        token["line"] = bisect_right(newlines, pos - 1) + 1
        if token["type"] == "list":
            start = bisect_right(markers, token["line"] - 1)
            _stamp_items(token, markers, start, lines)


def _stamp_items(list_token: dict[str, Any], markers: list[int], index: int, lines: list[str]) -> int:
    """Assign marker lines to list items in pre-order; returns the next unused marker index."""
    for item in list_token.get("children", ()):
        snippet = _item_snippet(item)
        chosen = index
        # A marker-like line inside an item (code, lazy text) can shift the walk: confirm by text.
        for candidate in range(index, min(index + 4, len(markers))):
            if not snippet or snippet in _SNIPPET_STRIP.sub("", lines[markers[candidate] - 1]):
                chosen = candidate
                break
        if chosen < len(markers):
            item["line"] = markers[chosen]
            index = chosen + 1
        else:
            item["line"] = list_token.get("line", 1)
        for child in item.get("children", ()):
            if child["type"] == "list":
                child["line"] = item["line"]
                index = _stamp_items(child, markers, index, lines)
    return index


def _item_snippet(item: Token) -> str:
    for child in item.get("children", ()):
        if child["type"] in ("block_text", "paragraph"):
            words = _SNIPPET_STRIP.sub("", inline_text(child.get("children", ()))).split()
            return " ".join(words[:3])[:24]
    return ""

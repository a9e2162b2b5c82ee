"""Parse stage: Markdown text to a tree of sections holding mistune tokens with source lines."""
from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterator, Mapping, Sequence

import mistune
from mistune.block_parser import BlockParser
from mistune.core import BlockState
from mistune.plugins import import_plugin

from .cloze import empty_deletions, nested_deletion
from .errors import BuildWarning
from .nesting import LIST_MARKER, MAX_NESTING, flatten_deep_lists, nesting_warnings
from .read import SourceFile

Token = Mapping[str, Any]

# Obsidian embeds (`![[file.png|300]]`) and wikilinks (`[[Page|label]]`) are plain text to mistune.
EMBED_PATTERN = r"!\[\[(?P<embed_target>[^\[\]\n|]+)(?:\|(?P<embed_opts>[^\[\]\n]*))?\]\]"
WIKILINK_PATTERN = r"\[\[(?P<wiki_target>[^\[\]\n|]+)(?:\|(?P<wiki_label>[^\[\]\n]*))?\]\]"

# Math for Anki's MathJax. Notes use `$` for money and templates (`$0.01 per hour`, `costs $$`,
# `${aws:username}`), so the rules extend pandoc's tex_math_dollars (a non-space right after the
# opening `$` and right before the closing one, no digit right after the closing one, so
# `$5 and $10` is money) with: no letter or `$` after the closing one either (`$LATEST/$LATEST`);
# no `${`, `$.`, `$)` ... (templates, JSONPath, "charges ($)"); no `$` glued to a word or
# escaped before it (`US$5`, `\$`); no closing `$` after `(` or `[`; nothing spanning lines or
# a backtick. Code spans and blocks are tokens of their own, never scanned. Display math `$$…$$`
# only on lines of its own: `$$`, the formula (no blank line), `$$`; or a line that is
# `$$formula$$` and nothing else. `$$` inside a sentence ("costs additional $$") stays text.
INLINE_MATH_PATTERN = (
    r"(?<![\\\w$])\$(?=[^\s${}),.;:!?'\"\]])"
    r"(?P<math_text>(?:\\[^\n]|[^$\\\n`])+?)"
    r"(?<=[^\s(\[\\])\$(?![\w$])"
)
BLOCK_MATH_PATTERN = (
    r"^ {0,3}\$\$[ \t]*\n(?P<math_multi>(?:[ \t]*[^\s$][^\n]*\n)+?) {0,3}\$\$[ \t]*(?:\n|$)"
    r"|^ {0,3}\$\$(?P<math_single>[^\s$](?:[^\n$]|\$(?!\$))*?)\$\$[ \t]*(?:\n|$)"
)
MAX_LINE = 10_000  # characters; longer lines are warned about (pasted data, a lost line break)
_LONG_LINE = re.compile(r"^[^\n]{%d}" % (MAX_LINE + 1), re.M)
# A list marker at the start of the text, and after a newline (a leading `\n` lets the regex engine
# jump from line to line instead of trying `^` at every character).
_FIRST_LIST_MARKER = re.compile(r"[ \t>]*" + LIST_MARKER, re.M)
_LIST_MARKER = re.compile(r"\n[ \t>]*" + LIST_MARKER, re.M)
_DOUBLED_MARKER = re.compile(r"^[ \t>]*" + LIST_MARKER + r"[ \t]*" + LIST_MARKER, re.M)  # `- - text`, `1. - text`
# CommonMark's entity references: a name or a decimal or hexadecimal number, ended by `;`.
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_CODE_SPAN = re.compile(r"(`+)[^`].*?\1")
_SNIPPET_STRIP = re.compile(r"[*_`~=\[\]<>!#|\\]")
_SNIPPET_PREFIX = 64  # characters of an item's text that nearly always hold its first four words


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
    _register_inline(md, "embed", EMBED_PATTERN, parse_embed, "link", "!")
    _register_inline(md, "wikilink", WIKILINK_PATTERN, parse_wikilink, "link", "[")


def _register_inline(md: mistune.Markdown, name: str, pattern: str, func: Any, before: str, start: str) -> None:
    # mistune 3.4 scans text fast between the characters rules can start with; older ones cannot be told.
    try:
        md.inline.register(name, pattern, func, before=before, start_chars=start)
    except TypeError:
        md.inline.register(name, pattern, func, before=before)


def parse_inline_math(inline: Any, m: re.Match[str], state: Any) -> int:
    """`$x^2$` becomes an `inline_math` token (rendered as MathJax `\\(…\\)`)."""
    state.append_token({"type": "inline_math", "raw": m.group("math_text")})
    return m.end()


def parse_block_math(block: Any, m: re.Match[str], state: BlockState) -> int:
    """`$$` lines become a code block of language `math` (as GitHub's ```math), rendered as `\\[…\\]`.

    Being a code block, display math goes where code goes: on the back of the fact it follows."""
    text = m.group("math_multi") if m.group("math_multi") is not None else m.group("math_single")
    state.append_token({"type": "block_code", "raw": text.strip("\n"), "style": "math", "attrs": {"info": "math"}})
    return m.end()


def math(md: mistune.Markdown) -> None:
    """mistune plugin: `$…$` inline and `$$…$$` display math, with the rules of INLINE_MATH_PATTERN."""
    _register_inline(md, "inline_math", INLINE_MATH_PATTERN, parse_inline_math, "codespan", "$")
    md.block.register("block_math", BLOCK_MATH_PATTERN, parse_block_math, before="list")
    md.block.insert_rule(md.block.list_rules, "block_math", before="list")
    md.block.insert_rule(md.block.block_quote_rules, "block_math", before="list")


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
def _markdown(with_obsidian: bool, with_math: bool) -> mistune.Markdown:
    # Extra rules cost every inline scan a little: a file without `[[` or `$` gets a parser without them.
    plugins: list[Any] = [import_plugin(name) for name in ("table", "mark", "strikethrough")]
    if with_obsidian:
        plugins.append(obsidian)
    if with_math:
        plugins.append(math)
    return mistune.Markdown(renderer=None, block=_PositionParser(max_nested_level=MAX_NESTING), plugins=plugins)


def parse_tokens(text: str) -> list[dict[str, Any]]:
    """Parse Markdown into mistune tokens; top-level tokens and list items carry a `line`."""
    text = flatten_deep_lists(text)
    tokens, _ = _markdown("[[" in text, "$" in text).parse(text)
    assert isinstance(tokens, list)
    if _DOUBLED_MARKER.search(text):
        _hoist_bare_items(tokens)
    _stamp_lines(tokens, text)
    if "&" in text and _ENTITY.search(text):
        _decode_entities(tokens)
    return tokens


def _hoist_bare_items(tokens: Sequence[Any]) -> None:
    """Replace every list item that holds nothing but a list (`- - text`) by that list's items.

    Such an item is a typo for one bullet more often than a list of its own, it has no text to make
    a card of, and it holds two markers on one line, where line stamping expects one."""
    for token in tokens:
        if token["type"] == "list":
            token["children"] = _hoisted(token["children"])
        elif "children" in token:
            _hoist_bare_items(token["children"])


def _hoisted(items: Sequence[Any]) -> list[Any]:
    """List items with each item that holds only a list replaced by that list's items."""
    out: list[Any] = []
    for item in items:
        children = item.get("children", ())
        _hoist_bare_items(children)
        content = [child for child in children if child["type"] != "blank_line"]
        if len(content) == 1 and content[0]["type"] == "list":
            out.extend(content[0]["children"])
        else:
            out.append(item)
    return out


def _decode_entities(tokens: Sequence[Any]) -> None:
    """Replace entity references in text (not code) by their characters, as CommonMark does:
    renderers escape text, so `R&amp;D` would otherwise show as written."""
    for token in tokens:
        if token["type"] == "text":
            if "&" in token["raw"]:
                token["raw"] = _ENTITY.sub(_entity_character, token["raw"])
        elif "children" in token:
            _decode_entities(token["children"])


def _entity_character(match: re.Match[str]) -> str:
    """The character of an entity reference; an unknown name stays as written."""
    return html.unescape(match.group())


def parse_document(source: SourceFile) -> Document:
    """Parse one source file into its sections (title > h1 > h2 ...)."""
    tokens = parse_tokens(source.text)
    title = str(source.metadata.get("title") or _file_title(source.rel_path))
    return Document(source=source, title=title, sections=tuple(_sections(tokens, title)))


def text_warnings(source: SourceFile) -> list[BuildWarning]:
    """Warnings about the shape of a file's text: very long lines, lists nested too deep.

    Found on the text, not the tokens, so that files whose facts come from the cache are checked
    too; a first regex each keeps the cost near zero for ordinary notes."""
    long_line = _LONG_LINE.search(source.text)
    warnings = []
    if long_line is not None:
        number = source.text.count("\n", 0, long_line.start()) + 1
        length = len(source.text.split("\n", number)[number - 1])
        warnings.append(BuildWarning(
            source.rel_path, number, "long-line",
            f"line is {length:,} characters long (over {MAX_LINE:,}): a card from it is hard to study; "
            "split it into shorter lines",
        ))
    return warnings + nesting_warnings(source) + cloze_warnings(source)


def cloze_warnings(source: SourceFile) -> list[BuildWarning]:
    """Warnings about an author's deletions a card cannot keep as written: empty or nested ones."""
    if "{{c" not in source.text:
        return []
    warnings = []
    for number, line in lines_outside_fences(source.text):
        if "{{c" not in line:
            continue
        line = _CODE_SPAN.sub("", line)  # the syntax shown as code (`{{c1::}}`) is no deletion
        for empty in empty_deletions(line):
            warnings.append(BuildWarning(
                source.rel_path, number, "empty-cloze",
                f"empty cloze deletion {empty} makes no card; left out. Write the text to hide "
                "between '::' and '}}'",
            ))
        nested = nested_deletion(line)
        if nested is not None:
            warnings.append(BuildWarning(
                source.rel_path, number, "nested-cloze",
                f"cloze deletion {nested[1]} inside {nested[0]} is kept as text of the outer one (one card); "
                "write the deletions side by side for a card each",
            ))
    return warnings


def lines_outside_fences(text: str, indent: str | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) of each line of `text` outside fenced code (``` or ~~~), the fences
    themselves left out too. A fence is found after stripping the characters `indent` (default:
    whitespace) from the start of its line, so `" \t>"` finds fences inside block quotes."""
    fence = ""
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(indent)
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        yield number, line


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
    markers, marker_lines = _list_markers(text)
    line, counted = 1, 0  # `line` is the line number at offset `counted`
    for token in tokens:
        pos = token.pop("_pos", None)
        if pos is None:
            continue
        # A paragraph's text may start with the blank remainder of the previous line.
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
        # Tokens come in text order: count only the newlines since the previous one.
        if pos >= counted:
            line += text.count("\n", counted, pos)
        else:
            line = text.count("\n", 0, pos) + 1
        counted = pos
        token["line"] = line
        if token["type"] == "list":
            start = bisect_right(markers, line - 1)
            _stamp_items(token, markers, start, marker_lines)


def _list_markers(text: str) -> tuple[list[int], list[str]]:
    """The line number and the text of every line that starts with a list marker."""
    markers: list[int] = []
    marker_lines: list[str] = []
    if _FIRST_LIST_MARKER.match(text):
        markers.append(1)
        marker_lines.append(text.split("\n", 1)[0])
    line, counted = 1, 0
    find, count = text.find, text.count
    for match in _LIST_MARKER.finditer(text):
        start = match.start() + 1  # the marker's line starts after the matched newline
        line += count("\n", counted, start)
        counted = start
        end = find("\n", start)
        markers.append(line)
        marker_lines.append(text[start:] if end < 0 else text[start:end])
    return markers, marker_lines


def _stamp_items(list_token: dict[str, Any], markers: list[int], index: int, marker_lines: list[str]) -> int:
    """Assign marker lines to list items in pre-order; returns the next unused marker index."""
    for item in list_token.get("children", ()):
        snippet = _item_snippet(item)
        chosen = index
        # A marker-like line inside an item (code, lazy text) can shift the walk: confirm by text.
        for candidate in range(index, min(index + 4, len(markers))):
            line = marker_lines[candidate]
            # The snippet holds no stripped character: found in the line, it is in the stripped line too.
            if not snippet or snippet in line or snippet in _SNIPPET_STRIP.sub("", line):
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
                index = _stamp_items(child, markers, index, marker_lines)
    return index


def _item_snippet(item: Token) -> str:
    for child in item.get("children", ()):
        if child["type"] in ("block_text", "paragraph"):
            # Only the first three words count. Stripping drops single characters, so a prefix of the
            # text that holds a fourth word gives the same three words as the whole text: most
            # items have one in their first text token, and need not render the rest.
            children = child.get("children", ())
            if children and children[0]["type"] == "text":
                words = _SNIPPET_STRIP.sub("", children[0]["raw"][:_SNIPPET_PREFIX]).split(None, 3)
                if len(words) > 3:
                    return " ".join(words[:3])[:24]
            words = _SNIPPET_STRIP.sub("", inline_text(children)).split(None, 3)
            return " ".join(words[:3])[:24]
    return ""

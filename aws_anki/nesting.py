"""Lists nested too deep: `flatten_deep_lists` moves list items deeper than `MAX_NESTING` levels up
to that level before parsing, and `nesting_warnings` says where (quotes are only warned about)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BuildWarning
from .read import SourceFile

# Deepest nesting kept: list items deeper are moved up to this level (`flatten_deep_lists`), and
# mistune stops nesting other containers (quotes) here: deeper ones become text of the last level.
MAX_NESTING = 20
# A line indented enough to be that deep: 19 characters, or 10 tabs (4 columns each; a list level takes 2 or more).
_DEEP_PREFIX = re.compile(r"^[ \t>]{%d,}|^(?:[ >]*\t){%d}" % (MAX_NESTING - 1, MAX_NESTING // 2), re.M)
LIST_MARKER = r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)"  # a list item's bullet or number, then a space or the end
_MARKER_LINE = re.compile(r"^([ \t>]*)" + LIST_MARKER)
_LIST_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])([ \t]+|$)")  # on a line without its indentation


def nesting_warnings(source: SourceFile) -> list[BuildWarning]:
    """A warning when lists or quotes nest deeper than `MAX_NESTING` levels (see `flatten_deep_lists`)."""
    if not _DEEP_PREFIX.search(source.text):
        return []
    deep = _deep_nesting(source.text)
    if deep.first_line is None:
        return []
    return [_too_deep(source.rel_path, deep.first_line, deep.first_is_quote)]


def flatten_deep_lists(text: str) -> str:
    """`text` with every list item nested deeper than `MAX_NESTING` levels moved up to the deepest
    level (a sibling of the item there), its continuation lines with it; line numbers are kept.

    Left as written, such items would be parsed as text of the item above them, and every level
    of nesting makes mistune copy the rest of the item again: a 10,000-deep list is 100 MB of
    indentation. Flattened, it is a list of items 20 deep, each its own fact."""
    if not _DEEP_PREFIX.search(text):
        return text
    deep = _deep_nesting(text)
    return deep.text if deep.first_line is not None else text


@dataclass(frozen=True)
class _DeepNesting:
    """What `_deep_nesting` found: the text with deep list items flattened, the first line nested
    too deep (None: none is), and whether that is a block quote's (which is left as written)."""

    text: str
    first_line: int | None
    first_is_quote: bool = False


@dataclass(frozen=True)
class _OpenItem:
    """A list item still open at a line: the columns of its marker and of its content."""

    indent: int
    content: int


def _deep_nesting(text: str) -> _DeepNesting:
    """Walk the lines of `text` keeping the open list items (CommonMark's columns, tabs of 4), and
    move each item deeper than `MAX_NESTING` up to the deepest level, with its continuation lines."""
    lines = text.split("\n")
    stack: list[_OpenItem] = []
    fence = ""
    first: int | None = None
    first_is_quote = False
    moved = False
    shift, shift_from = 0, 0  # the last moved item's shift, for lines indented at least `shift_from`
    for index, line in enumerate(lines):
        stripped = line.lstrip(" \t>")
        prefix = line[: len(line) - len(stripped)]
        width = len(prefix.expandtabs(4))
        if ">" in prefix:  # quotes: warned about, left to mistune (their depth is not indentation)
            quotes = prefix.count(">")
            too_deep = quotes + len(stack) + 1 > MAX_NESTING if _MARKER_LINE.match(line) else quotes >= MAX_NESTING
            if first is None and too_deep and not fence:
                first, first_is_quote = index + 1, True
            continue
        marker = None if fence or not stripped else _LIST_ITEM.match(stripped)
        if stripped.startswith(("```", "~~~")):
            fence = "" if fence and stripped.startswith(fence) else (fence or stripped[:3])
        if marker is not None and width < (stack[-1].content if stack else 0) + 4:  # else: indented code
            while stack and width < stack[-1].content:
                stack.pop()
            stack.append(_OpenItem(width, width + _content_offset(marker)))
            shift = 0
            if len(stack) > MAX_NESTING:
                shift, shift_from = width - stack[MAX_NESTING - 1].indent, stack[-1].content
                first = index + 1 if first is None else first
        elif stripped and width < shift_from:
            shift = 0
        if shift and stripped:
            lines[index] = " " * (width - shift) + stripped
            moved = True
    return _DeepNesting("\n".join(lines) if moved else text, first, first_is_quote)


def _content_offset(marker: re.Match[str]) -> int:
    """Columns from a list marker to its item's content: one space after it when 5 or more follow
    (the rest is indented code) or none does."""
    spaces = len(marker.group(2).expandtabs(4))
    empty = marker.end() == len(marker.string)
    return len(marker.group(1)) + (spaces if 1 <= spaces <= 4 and not empty else 1)


def _too_deep(rel_path: str, line: int, quote: bool = False) -> BuildWarning:
    if quote:
        return BuildWarning(
            rel_path, line, "nested-too-deep",
            f"quotes nested more than {MAX_NESTING} levels deep: from here on, deeper lines are "
            "kept as plain text of the level above them; nest less",
        )
    return BuildWarning(
        rel_path, line, "nested-too-deep",
        f"list nested more than {MAX_NESTING} levels deep: from here on, deeper items are kept at "
        f"level {MAX_NESTING}, as siblings of the item there; indent less",
    )

"""Text bullets in pasted notes (`•`, `o`, `–` ...) as Markdown list items: `text_bullets_to_markdown`.

It runs over every line of every note, so it returns at once when its text holds nothing for it
(an ``in`` test or ``str.isascii`` first, then one precompiled regex).

Notes copied from Word, PowerPoint or a web page keep their bullets as characters: ``•``,
``◦``, ``▪``, ``‣``, ``●``, ``■``, ``➢``, ``➤``, ``–``, the Word second level ``o``... A line
that starts (after indentation) with one of them, then text, becomes a Markdown item
``- text``, indented so that mistune nests it as the author meant:

* a deeper indentation nests; the same indentation with the same glyph is a sibling; the
  same indentation with a *new* glyph nests one level down, because Word pastes its levels
  as ``•``, ``o``, ``▪`` when the indentation is lost; a glyph met earlier at that
  indentation goes back to that level;
* a nested item is put at its parent's content column, or kept where it was when that is
  within three columns of it (so it stays aligned with the author's own Markdown items);
  top-level items start at column 0 (``\\t• x`` after a paragraph would otherwise be text);
* ``o`` and ``→`` are weak: "o" is a word in Spanish, Italian and Portuguese ("o bien", "or")
  and an arrow at a line's start often means "so" after a sentence. They count only when the
  line is indented, when a list (glyph or Markdown) is open above it, or when the next line
  starts with the same glyph: a run of two. A lone "o que..." line in prose stays prose;
* the number of lines never changes, and only glyph lines change. A line right under an item
  (a continuation) is left as it is: Markdown reads it as part of the item, lazily;
* fenced code (``` and ~~~), indented code outside lists (4 columns after a blank line or
  a heading, with no list open) and YAML front matter are never touched;
* a glyph alone on its line is left alone; ``- ``, ``* ``, ``+ ``, ``1. `` are Markdown
  already and stay as they are (a glyph line under them nests by the rules above).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STRONG_BULLETS", "text_bullets_to_markdown"]

# Bullets that mean nothing else at a line's start; `\uf0b7`/`\uf0a7` are Word's Symbol and
# Wingdings bullets when pasted without their font.
STRONG_BULLETS = "•◦▪▫‣⁃●○■□➢➤·∙▸►\uf0b7\uf0a7"
# Bullets that need a space after them and, being weak, more evidence (see the module docstring).
WEAK_BULLETS = ("o", "→")
EN_DASH = "–"
_MARKDOWN_ITEM = "md"  # the glyph of a Markdown list item on the open-item stack
# Indentation, then a strong glyph followed by blanks (or glued to a letter or digit: `•Text`),
# or an en dash or weak glyph followed by blanks; then some text. A glyph alone does not match.
_GLYPH_LINE = re.compile(
    r"([ \t]*)(?:([" + STRONG_BULLETS + r"])(?:[ \t]+|(?=[^\W_]))"
    r"|([" + EN_DASH + "".join(WEAK_BULLETS) + r"])[ \t]+)(?=\S)"
)
# The same, at the start of any line of a text: the gate before the line-by-line pass.
_ANY_GLYPH_LINE = re.compile(
    r"^[ \t]*(?:[" + STRONG_BULLETS + r"]|[" + EN_DASH + "".join(WEAK_BULLETS) + r"][ \t])", re.M
)
_WEAK_O = ("\no ", "\no\t", " o ", " o\t", "\to ", "\to\t")
_MD_ITEM = re.compile(r"([ \t]*)([-*+]|\d{1,9}[.)])([ \t]+|$)")
_THEMATIC_BREAK = re.compile(r" {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
# Blocks that end an open list when they start at its left edge (and interrupt a paragraph).
_BLOCK_START = re.compile(r"(?:#{1,6}(?:[ \t]|$)|>|<[A-Za-z/!?])")
_FENCE_OPEN = re.compile(r"(`{3,})(?!.*`)|(~{3,})")
_FENCE_CLOSE = re.compile(r"(`{3,}|~{3,})\s*$")
# The first characters of the lines the loop must look at closely; any other line is a paragraph's.
_LINE_STARTS = frozenset(STRONG_BULLETS + EN_DASH + "".join(WEAK_BULLETS) + "-*+_0123456789#><`~")
_FRONT_MATTER_END = ("---", "...")


@dataclass
class _Item:
    """An open list item: the column of its marker in the input, its glyph, its column in the output."""

    indent: int
    glyph: str
    out: int
    content: int  # the output column its text starts at: where a child item goes


def text_bullets_to_markdown(text: str) -> str:
    """Rewrite lines bulleted with glyphs (`•`, `◦`, `▪`, `o`, `–`, ...) as nested Markdown list items."""
    if not _may_have_glyph_lines(text):
        return text
    lines = text.split("\n")
    start = _after_front_matter(lines)
    fence = ""  # the opening fence's run (```` ``` ```` or `~~~~`) while inside fenced code
    in_code = False  # inside indented code
    previous = "blank"  # the kind of the previous line: blank, para, list or other
    stack: list[_Item] = []
    changed = False
    for number in range(start, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" \t")
        if fence:
            close = _FENCE_CLOSE.match(stripped)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                fence, previous = "", "other"
            continue
        if not stripped or stripped == "\r":
            previous = "blank"
            continue
        indent = _width(line, len(line) - len(stripped))
        if in_code:
            if indent >= 4:
                continue
            in_code = False
        if not stack and indent >= 4 and previous != "para":
            in_code = True  # indented code: a glyph in it is code
            continue
        if stripped[0] not in _LINE_STARTS:  # a paragraph's line: the quick way
            if stack and previous == "blank" and indent <= stack[0].indent:
                stack.clear()
            previous = "para"
            continue
        opening = _FENCE_OPEN.match(stripped)
        if opening:
            fence = opening.group(1) or opening.group(2)
            if stack and indent <= stack[0].indent:
                stack.clear()
            previous = "other"
            continue
        glyph_line = _GLYPH_LINE.match(line)
        if glyph_line:
            glyph = glyph_line.group(2) or glyph_line.group(3)
            if glyph not in WEAK_BULLETS or indent or stack or _starts_with(lines, number + 1, glyph):
                out = _place(stack, indent, glyph)
                lines[number] = " " * out + "- " + line[glyph_line.end():]
                changed = True
                previous = "list"
                continue
        previous = _other_line(line, stripped, indent, stack, previous)
    return "\n".join(lines) if changed else text


def _other_line(line: str, stripped: str, indent: int, stack: list[_Item], previous: str) -> str:
    """Follow a line that is no glyph item (a rule, a Markdown item, a block or text) on the stack
    of open items; returns its kind (see `previous` in `text_bullets_to_markdown`)."""
    if _THEMATIC_BREAK.match(line):
        stack.clear()
        return "other"
    item = _MD_ITEM.match(line)
    if item:
        while stack and stack[-1].indent >= indent:
            stack.pop()
        spaces = _width(line, item.end(3)) - _width(line, item.end(2))
        content = indent + len(item.group(2)) + (spaces if 1 <= spaces <= 4 else 1)
        stack.append(_Item(indent, _MARKDOWN_ITEM, indent, content))
        return "list"
    block = indent < 4 and _BLOCK_START.match(stripped) is not None
    # A line at the list's left edge ends it after a blank line or as a new block; otherwise
    # it is the item's own text (indented, or a lazy continuation).
    if stack and indent <= stack[0].indent and (block or previous == "blank"):
        stack.clear()
    return "other" if block else "para"


def _may_have_glyph_lines(text: str) -> bool:
    """Whether some line may start with a glyph bullet: cheap `in` tests, then one regex."""
    if text.isascii():
        if not (text.startswith(("o ", "o\t")) or any(weak in text for weak in _WEAK_O)):
            return False
    elif not any(glyph in text for glyph in STRONG_BULLETS + EN_DASH + "→"):
        if not (text.startswith(("o ", "o\t")) or any(weak in text for weak in _WEAK_O)):
            return False
    return _ANY_GLYPH_LINE.search(text) is not None


def _after_front_matter(lines: list[str]) -> int:
    """Index of the first line after YAML front matter (0 when there is none)."""
    if lines[0].rstrip() != "---":
        return 0
    for number in range(1, len(lines)):
        if lines[number].rstrip() in _FRONT_MATTER_END:
            return number + 1
    return 0


def _width(line: str, end: int) -> int:
    """Column of `line[end]`, tabs stopping every 4 columns (the prefix is blanks and markers)."""
    prefix = line[:end]
    return len(prefix.expandtabs(4)) if "\t" in prefix else end


def _starts_with(lines: list[str], number: int, glyph: str) -> bool:
    """Whether line `number` exists and is bulleted with `glyph`."""
    if number >= len(lines):
        return False
    match = _GLYPH_LINE.match(lines[number])
    return match is not None and (match.group(2) or match.group(3)) == glyph


def _place(stack: list[_Item], indent: int, glyph: str) -> int:
    """Push the item of a glyph line onto the open-item stack; returns its output column."""
    while stack and stack[-1].indent > indent:
        stack.pop()
    if stack and stack[-1].indent == indent:
        sibling = None
        for index in range(len(stack) - 1, -1, -1):
            if stack[index].indent != indent:
                break
            if stack[index].glyph == glyph:
                sibling = index
                break
        # Beside a Markdown item, only Word's `o` nests (`1. Step` then `o detail`).
        if sibling is None and stack[-1].glyph == _MARKDOWN_ITEM and glyph != "o":
            sibling = len(stack) - 1
        if sibling is not None:
            out = stack[sibling].out
            del stack[sibling:]
            stack.append(_Item(indent, glyph, out, out + 2))
            return out
    low = stack[-1].content if stack else 0
    out = indent if stack and low <= indent <= low + 3 else low
    stack.append(_Item(indent, glyph, out, out + 2))
    return out

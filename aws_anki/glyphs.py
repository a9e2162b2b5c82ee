"""Glyphs in pasted notes: icons as words, clean headings (text bullets are `bullets`).

Two pure functions, run over every line of every note, so each returns at once when its text
holds nothing for it (an ``in`` test or ``str.isascii`` first, then one precompiled regex).

``icon_words``
    Emoji are noise on a card: every pictograph is dropped (with its variation selector,
    skin tone, zero-width joiner sequence and flag tags), and the spaces it leaves collapse. Check
    and cross marks carry meaning, so they become words by where they stand in their segment
    (the line, or the table cell between ``|``):

    * alone (a table cell ``| ✅ |``, ``- ❌``): ``Yes``, ``No``, ``Warning``;
    * a value after a label (``Encryption: ✅``, ``Multi-AZ ✅``, ``(❌)``): ``Encryption: Yes``,
      ``Multi-AZ: Yes`` (a colon is added when the label has no separator), ``(No)``;
    * leading its text (``✅ Supports SSL``): a check is decoration and goes ("Yes Supports SSL"
      reads worse than "Supports SSL"); a cross would invert the meaning if it went, so it
      becomes ``No:`` (``No: Cross-region``), unless the text already negates ("❌ Not
      encrypted" → "Not encrypted"); ``⚠️ Costs extra`` becomes ``Warning: Costs extra``; a mark
      followed by a qualifier is a value and keeps its word (``❌ (except io2)`` → ``No (except
      io2)``, ``✅ (gp3 only)`` → ``Yes (gp3 only)``);
    * inside a sentence: a check goes, a cross becomes ``No`` (never lost), a warning sign goes;
    * on a heading line every mark is decoration and goes (``## ❌ Common mistakes``).

    Never touched: letters of any script, digits, punctuation, arrows (``→``, ``➡``), ``©®™``,
    math symbols (``➕`` included), circled digits (``❶``), geometric shapes used as bullets, and
    fenced code. The pictograph set is Unicode ranges (1F000–1F2FF, 1F300–1F6FF, 1F780–1F7FF,
    1F900–1FAFF: whole blocks, so emoji newer than Python's ``unicodedata`` go too), the "So"
    (other symbol) characters of Miscellaneous Symbols and Dingbats (2600–27BF) but for the
    dingbat arrows and heavy math signs, and a few emoji elsewhere (⌚ ⏰ ⭐ ⭕ ⬛ ℹ ...). A
    zero-width joiner is dropped only inside an emoji sequence (Indic scripts need theirs).

``strip_heading_noise``
    A card's context line wants "VPC", not "Chapter 4: VPC". Removed: ``#`` marks, emphasis,
    code ticks, HTML tags, links (their text is kept), images, icons, chapter numbers
    (``7 - EC2``, ``3. S3``, ``1.2 IAM``, ``(2) X``, ``IV. X``), chapter words with a number
    (``Chapter 4: VPC``, ``Section 2 – Lambda``, ``Part 1 - Basics`` → ``Basics``; "Day", "Week",
    "Domain" and "Topic" only with a separator, since "Day 2 operations" is a name), decorative
    rules (``=== EC2 ===``) and trailing ``:``/dashes. Numbers that are part of a name stay:
    ``S3``, ``EC2``, ``Route 53``, ``2FA``, ``3-Tier``, ``3 Tier Architecture`` (no separator after
    the number), years (four digits). ``Lambda (continued)`` is left as written. Each step that
    would leave no letter or digit is undone: the result is never empty (at worst the original,
    trimmed).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterator

from .bullets import STRONG_BULLETS

__all__ = ["icon_words", "strip_heading_noise"]

# --------------------------------------------------------------------------------------------
# Icons
# --------------------------------------------------------------------------------------------

YES_MARKS = "✅✔✓☑🗸🗹👍"
NO_MARKS = "❌✖✗✘❎☒🗶🗷👎🚫⛔"
WARNING_MARKS = "⚠"
_MARK_WORDS = {
    **dict.fromkeys(YES_MARKS, "Yes"), **dict.fromkeys(NO_MARKS, "No"), **dict.fromkeys(WARNING_MARKS, "Warning")
}

# Whole blocks of pictographs, assigned or not (newer emoji than this Python knows go too):
# Mahjong, domino and playing cards, enclosed alphanumerics and ideographs, flags (1F000–1F2FF);
# miscellaneous symbols and pictographs, emoticons, ornamental dingbats, transport (1F300–1F6FF);
# geometric shapes extended, the coloured circles and squares (1F780–1F7FF); supplemental and
# extended-A pictographs (1F900–1FAFF). Alchemical symbols and arrows-C are left alone.
_PICTOGRAPH_BLOCKS = ((0x1F000, 0x1F2FF), (0x1F300, 0x1F6FF), (0x1F780, 0x1F7FF), (0x1F900, 0x1FAFF))
# Miscellaneous Symbols and Dingbats: their "So" characters, but for these.
_SYMBOL_BLOCK = (0x2600, 0x27BF)
_KEPT_SYMBOLS = frozenset(range(0x2794, 0x27BF)) - {0x27B0}  # ➕➖➗ and the dingbat arrows (➔ to ➾)
# Emoji outside those blocks: ℹ, ⌚⌛, ⌨, ⏏, ⏩–⏳, ⏸–⏺, ◽◾, ⬛⬜, ⭐, ⭕.
_OTHER_PICTOGRAPHS = "\u2139\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u25fd\u25fe\u2b1b\u2b1c\u2b50\u2b55"
_MODIFIERS = "\U000e0020-\U000e007f"  # flag tag characters (skin tones are in 1F300–1F6FF)
_SELECTORS = re.compile("[\ufe0e\ufe0f]")  # text and emoji presentation selectors
_KEYCAP = re.compile("(?<=[0-9])\u20e3")  # `1️⃣` keeps its digit; `#️⃣` and `*️⃣` are emoji


def _ranges_class(ranges: list[tuple[int, int]]) -> str:
    """A regex character class body for inclusive code point ranges."""
    return "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in ranges)


def _symbol_ranges() -> list[tuple[int, int]]:
    """The pictographic ("So", not kept, not a mark) ranges of Misc Symbols and Dingbats."""
    ranges: list[tuple[int, int]] = []
    for point in range(_SYMBOL_BLOCK[0], _SYMBOL_BLOCK[1] + 1):
        char = chr(point)
        if unicodedata.category(char) != "So" or point in _KEPT_SYMBOLS or char in _MARK_WORDS:
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


def _pictograph_ranges() -> list[tuple[int, int]]:
    """The pictograph blocks, less the marks that become words."""
    ranges: list[tuple[int, int]] = []
    marks = sorted(ord(char) for char in _MARK_WORDS if ord(char) > 0xFFFF)
    for low, high in _PICTOGRAPH_BLOCKS:
        for mark in (m for m in marks if low <= m <= high):
            if low < mark:
                ranges.append((low, mark - 1))
            low = mark + 1
        ranges.append((low, high))
    return ranges


_PICTOGRAPH = "[" + _ranges_class(_pictograph_ranges()) + _ranges_class(_symbol_ranges()) + _OTHER_PICTOGRAPHS + "]"
# One emoji: a pictograph with its modifiers and zero-width-joined parts; then more of them with
# blanks between (dropped as one), then the blanks after them.
_EMOJI = "(?:{p}|[#*]\u20e3)(?:[{m}]|\u200d{p})*".format(p=_PICTOGRAPH, m=_MODIFIERS)
_EMOJI_RUN = re.compile("{e}(?:[ \t]*{e})*(?P<post>[ \t]*)".format(e=_EMOJI))
_MARK = re.compile("[" + "".join(_MARK_WORDS) + r"](?:\u200d?[\U0001f3fb-\U0001f3ff])?(?P<post>[ \t]*)")
_ALNUM = re.compile(r"[^\W_]")
# What opens a line before its text: indentation, quote marks, a heading's or item's marker.
_LINE_MARKUP = re.compile(
    r"[ \t]*(?:>[ \t]*)*(?:(?P<heading>#{1,6}[ \t]+)|(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?)?"
)
_NEGATION = re.compile(
    r"[\W_]*(?:no|not|never|none|nothing|without|cannot|can[’']t|don[’']t|doesn[’']t|isn[’']t|aren[’']t|"
    r"won[’']t|didn[’']t|wasn[’']t|shouldn[’']t|mustn[’']t|unsupported|unavailable)\b",
    re.I,
)
_VALUE_SEPARATORS = (":", "=", "-", "–", "—", "→", "(", "|", "/", ",")
_QUALIFIERS = ("(", "[", ",", ";", ":", "-", "–", "—", "/")  # after a mark, text that qualifies it
_OPENERS = frozenset("([{<\"'“‘*_~`")  # an icon glued after these goes without a space
_CLOSERS = frozenset(")]}>\"'”’*_~`.,;:!?")  # an icon glued before these goes without a space
# Every icon is in one of these ranges (U+20E3 is the end of a `#️⃣`): a scan for this one class
# finds the few candidates fast, and the exact patterns are tried there only.
_CANDIDATE = re.compile("[\u20e3\u2139-\u2b55\U0001f000-\U0001faff]")


def icon_words(text: str) -> str:
    """Drop emoji and pictographs; turn check and cross marks into Yes/No (see the module docstring)."""
    if text.isascii() or _CANDIDATE.search(text) is None:
        return text
    if "```" not in text and "~~~" not in text:
        return _icon_words(text)
    out: list[str] = []
    last = 0
    for start, end in _fenced_spans(text):
        out.append(_icon_words(text[last:start]))
        out.append(text[start:end])
        last = end
    out.append(_icon_words(text[last:]))
    return "".join(out)


def _fenced_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every fenced code block, fences included; an unclosed one runs to the end."""
    spans: list[tuple[int, int]] = []
    opening = ""
    opened = 0
    for line_start, run, rest, line_end in _fence_lines(text):
        if not opening:
            if run[0] == "`" and "`" in rest:
                continue  # a code span, not a fence
            opening, opened = run, line_start
        elif run[0] == opening[0] and len(run) >= len(opening) and not rest.strip():
            spans.append((opened, line_end))
            opening = ""
    if opening:
        spans.append((opened, len(text)))
    return spans


def _fence_lines(text: str) -> list[tuple[int, str, str, int]]:
    """(start, fence run, the rest, end) of each line that starts with ``` or ~~~, in text order."""
    found: list[tuple[int, str, str, int]] = []
    for marker in ("```", "~~~"):  # literal searches: far faster than a regex over the text
        at = text.find(marker)
        while at >= 0:
            line_start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at)
            if line_end < 0:
                line_end = len(text)
            if not text[line_start:at].strip(" \t"):
                run_end = at + 3
                while run_end < line_end and text[run_end] == marker[0]:
                    run_end += 1
                found.append((line_start, text[at:run_end], text[run_end:line_end], line_end))
            at = text.find(marker, line_end)
    found.sort()
    return found


def _icon_words(text: str) -> str:
    """`icon_words` on text outside code."""
    if "\ufe0e" in text or "\ufe0f" in text:
        text = _SELECTORS.sub("", text)
    if "\u20e3" in text:
        text = _KEYCAP.sub("", text)
    return _marks_as_words(_drop_emoji(text))


def _icon_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """The matches of `pattern` (an icon, first) in `text`, tried only where `_CANDIDATE` is."""
    last = 0
    for candidate in _CANDIDATE.finditer(text):
        start = candidate.start()
        if start < last:
            continue
        if text[start] == "\u20e3" and start:
            start -= 1  # a keycap starts at its `#` or `*`
        match = pattern.match(text, start)
        if match:
            yield match
            last = match.end()


def _drop_emoji(text: str) -> str:
    """Text without its pictographs, the blanks around each collapsed."""
    return _drop_icons(_EMOJI_RUN, text)


def _drop_icons(pattern: re.Pattern[str], text: str) -> str:
    """Text without the icons `pattern` finds (see `_icon_matches`), the blanks around each collapsed."""
    out: list[str] = []
    last = 0
    for match in _icon_matches(pattern, text):
        start = _blank_start(text, match.start(), last)
        out.append(text[last:start])
        out.append(_gap(text, start, match.start(), match.start("post"), match.end()))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _blank_start(text: str, start: int, floor: int) -> int:
    """Where the run of spaces and tabs that ends at `start` begins (not before `floor`)."""
    while start > floor and text[start - 1] in " \t":
        start -= 1
    return start


def _gap(text: str, pre: int, start: int, post: int, end: int) -> str:
    """What replaces a dropped icon at text[start:post] with blanks text[pre:start] and text[post:end]."""
    before = text[pre - 1] if pre else "\n"
    after = text[end] if end < len(text) else "\n"
    if after in "\r\n":
        return ""  # at a line's end: trailing blanks go too
    if before == "\n":
        return text[pre:start]  # at a line's start: the indentation stays
    if before == "|" or after == "|":
        return " "  # a table cell keeps a blank to each side
    if (pre == start and before in _OPENERS) or (post == end and after in _CLOSERS):
        return ""  # `**🚀 Lambda**`, `fast 🚀.`
    if pre < start or post < end or (before.isalnum() and after.isalnum()):
        return " "
    return ""


def _marks_as_words(text: str) -> str:
    """Check, cross and warning marks as words, by where they stand in their line or table cell."""
    out: list[str] = []
    last = 0
    for match in _icon_matches(_MARK, text):
        start, post, end = match.start(), match.start("post"), match.end()
        pre = _blank_start(text, start, last)
        word = _mark_word(text, start, post, _MARK_WORDS[text[start]])
        out.append(text[last:pre])
        if not word:
            out.append(_gap(text, pre, start, post, end))
        elif word.startswith(":"):  # `Multi-AZ ✅`: the label gets a colon
            out.append(word + text[post:end])
        else:
            before = text[pre - 1] if pre else "\n"
            after = text[end] if end < len(text) else "\n"
            left = text[pre:start] or ("" if before in "\n|/" or before in _OPENERS else " ")
            spaced = after not in " \t\r\n" and (word.endswith(":") or after.isalnum())
            right = text[post:end] or (" " if spaced else "")
            out.append(left + word + right)
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _mark_word(text: str, start: int, post: int, word: str) -> str:
    """The word for the mark at text[start] (its word, `No:`, `: Yes`...), or "" to drop it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", post)
    if line_end < 0:
        line_end = len(text)
    cell_start = text.rfind("|", line_start, start) + 1 or line_start
    cell_end = text.find("|", post, line_end)
    if cell_end < 0:
        cell_end = line_end
    before = text[cell_start:start]
    heading = False
    if cell_start == line_start:
        markup = _LINE_MARKUP.match(before)
        if markup:
            heading = markup.group("heading") is not None
            before = before[markup.end():]
    after = text[post:cell_end]
    words_before = _ALNUM.search(before) is not None
    words_after = _ALNUM.search(after) is not None
    if not words_before and not words_after:
        return word
    if heading:
        return ""
    negated = word == "No" and _NEGATION.match(after) is not None
    label = before.rstrip()
    if words_before and label.endswith(_VALUE_SEPARATORS):  # `Encryption: ✅ (KMS)`
        return "" if negated or word == "Warning" else word
    if not words_before:  # leading its text
        if after.lstrip().startswith(_QUALIFIERS):  # `❌ (except io2)`: a value with a qualifier
            return word
        if word == "Yes" or negated:
            return ""
        return word + ":"
    if not words_after:  # after its label
        return "" if word == "Warning" else ": " + word
    return "" if word != "No" or negated else word


# --------------------------------------------------------------------------------------------
# Headings
# --------------------------------------------------------------------------------------------

_EXAM_REMARK = re.compile(r"\s*\((?:very |really )?(?:important |key )?(?:for (?:the )?)?exam(?: tip| question)?s?!*\)", re.I)
_ATX_MARKS = re.compile(r"^#+(?:[ \t]+|$)|[ \t]+#+[ \t]*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[\[[^\]]*\]\]")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_WIKILINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]*))?\]\]")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
# Emphasis, strikethrough, highlight and code marks; a single `*`/`_` only off a word's inside (`snake_case` stays).
_EMPHASIS = re.compile(r"\*\*|__|~~|==|`|(?<![^\W_])[*_]|[*_](?![^\W_])")
_ESCAPE = re.compile(r"\\(?=[^\w\s])")
_CHAPTER_WORD = re.compile(
    r"(?:(?:chapter|chap\.|ch\.|section|sect\.|sec\.|part|module|lesson|lecture|unit)[ \t]*"
    r"(?:\d{1,3}(?:\.\d{1,3})*|[ivx]{1,5})\b\.?(?:[ \t]*(?:[-–—:|.)](?=[ \t]|$)))?"
    r"|(?:day|week|domain|topic)[ \t]*(?:\d{1,3}(?:\.\d{1,3})*|[ivx]{1,5})\b[ \t]*[-–—:|.)](?=[ \t]|$))[ \t]*",
    re.I,
)
_CHAPTER_NUMBER = re.compile(
    r"(?:\(\d{1,3}(?:\.\d{1,3})*\)|\d{1,3}(?:\.\d{1,3})*\)"  # (2) / 2) / 1.2)
    r"|\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}\."  # 1.2 / 1.2. / 3.
    r"|\d{1,3}[ \t]*[-–—:|]|[IVX]{1,5}(?:\.|[ \t]*[-–—:|]))(?=[ \t])[ \t]*"  # 7 - / 7: / IV. / II -
)
_RULES = re.compile(r"^[=~_*\-]{3,}[ \t]+|[ \t]+[=~_*\-]{3,}$")  # `=== EC2 ===`
_LEADING_DECORATION = re.compile(r"^[" + STRONG_BULLETS + r"\-–—:|=→➡>]+[ \t]+")
_TRAILING_DECORATION = re.compile(r"[ \t]*[=\-–—:|]+$")
_BLANKS = re.compile(r"\s+")


@lru_cache(maxsize=4096)  # the same headings come back for every fact under them
def strip_heading_noise(heading: str) -> str:
    """A heading without chapter numbers, markup, icons and decoration (see the module docstring)."""
    result = heading.strip()
    for step in (_without_markup, _without_icons, _without_numbering):
        stripped = step(result)
        if not _ALNUM.search(stripped):
            return result
        result = stripped
    return result


def _without_markup(text: str) -> str:
    """Text without ATX marks, images, links (their text kept), HTML tags, emphasis, escapes and
    remarks to oneself ("(important for exam)")."""
    text = _RULES.sub("", _ATX_MARKS.sub("", text))
    if "(" in text:
        text = _EXAM_REMARK.sub("", text)
    if "[" in text:
        text = _IMAGE.sub("", text)
        text = _WIKILINK.sub(lambda m: m.group(2) or m.group(1), text)
        text = _LINK.sub(r"\1", text)
    if "<" in text:
        text = _HTML_TAG.sub("", text)
    text = _EMPHASIS.sub("", text)
    if "\\" in text:
        text = _ESCAPE.sub("", text)
    return _BLANKS.sub(" ", text).strip()


def _without_icons(text: str) -> str:
    """Text without emoji and marks of any kind."""
    if text.isascii():
        return text
    return _drop_icons(_MARK, _drop_emoji(_KEYCAP.sub("", _SELECTORS.sub("", text)))).strip()


def _without_numbering(text: str) -> str:
    """Text without a chapter word and number, a leading number, decoration and a trailing colon."""
    text = _LEADING_DECORATION.sub("", text)
    for prefix in (_CHAPTER_WORD, _CHAPTER_NUMBER):
        match = prefix.match(text)
        if match:
            text = text[match.end():]
    text = _LEADING_DECORATION.sub("", text)
    text = _TRAILING_DECORATION.sub("", text)
    return text.strip()

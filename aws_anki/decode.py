"""Note bytes to clean text: byte-order marks, UTF-8, UTF-16 and guessed charsets (each fallback
with a warning), binary files told apart, control characters removed, mojibake (`â€“` for `–`)
repaired and the text made NFC.

The patterns below are compiled where they are used, on first use (`re` caches them): an up-to-date
check imports the read stage but decodes nothing, and most files never need the fallbacks.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

# Byte-order marks, longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16", "UTF-16 BE"),
)


# Cheap gate for mojibake, run on UTF-8 bytes: UTF-8 text mis-decoded as Windows-1252 or Latin-1
# shows a lead character U+00C2..U+00F4 (UTF-8: C3 82..C3 B4) followed by a character that a
# continuation byte 0x80..0xBF decodes to: U+0080..U+00BF (C2 xx) or one of the Windows-1252
# extras such as € ’ – ™ Œ š ƒ ˆ (C5/C6/CB xx, E2 80..84 xx). "Â " and "Ã " are the same with a
# lost no-break space. ftfy decides whether a flagged line really is mis-decoded.
_MOJIBAKE_BYTES = rb"\xc3[\x82-\xb4](?:[\xc2\xc5\xc6\xcb]|\xe2[\x80-\x84])|\xc3[\x82\x83] "


# The same test on text, to find the lines to repair once the gate has fired.
_CP1252_CONTINUATION = (
    "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)


_MOJIBAKE_TEXT = f"[\xc2-\xf4][{_CP1252_CONTINUATION}]|[\xc2\xc3] "


# One whole mis-decoded character ("â€™" is three), and the word it stands in (shown in the warning).
_MOJIBAKE_RUN = f"[\xc2-\xf4][{_CP1252_CONTINUATION}]+|[\xc2\xc3] "


_MOJIBAKE_WORD = f"\\w*(?:{_MOJIBAKE_RUN})+\\w*"


_QUOTED = r'`[^`]*`|"[^"]*"'


_REPAIRS_SHOWN = 3


# Characters that do not belong in text: C0 controls other than tab and line breaks, DEL,
# C1 controls, and the replacement character left by a failed decode.
_NON_TEXT = "[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]"


_BINARY_RATIO = 0.10


# What is removed from text that is not binary: C0 controls but tab and line feed (carriage returns
# are line breaks by then), DEL and C1 controls; a terminal's CSI and OSC sequences go whole.
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"


_TERMINAL_SEQUENCE = "\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b\n]*(?:\x07|\x1b\\\\)?|" + _CONTROL


_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "backspace", "\x0b": "vertical tab", "\x0c": "form feed",
                  "\x1b": "ESC", "\x7f": "DEL"}


_LINES_SHOWN = 5


# The same on raw 8-bit bytes: deleting every text byte leaves the control bytes to count.
_TEXT_BYTES = bytes(b for b in range(256) if not (b <= 0x08 or 0x0E <= b <= 0x1F or b == 0x7F))


# What Western European text decoded as Windows-1252 may contain besides ASCII: Latin-1 letters
# and the punctuation people type. Anything else (or a symbol inside a word, as in "Za¿ó³æ",
# Polish read as Windows-1252) means the guess is wrong and charset-normalizer decides instead.
_WESTERN_EXTRA = (
    "[^\t\n\r\x20-\x7e\xa0-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u20ac\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u2122]"
)


# (The middle dot of Catalan "l·l", the ordinals ª º and the acute accent typed as an apostrophe
# are allowed inside words.)
_SYMBOL_IN_WORD = "[a-zA-Z\xc0-\xff][\xa1-\xa9\xab-\xb3\xb5\xb6\xb8\xb9\xbb-\xbf\xd7\xf7][a-zA-Z\xc0-\xff]"


_NON_ASCII_LETTER = "[\xc0-\xd6\xd8-\xf6\xf8-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e]"


_ASCII_LETTER = "[a-zA-Z]"


_MAX_NON_ASCII_LETTERS = 0.3


_ESCAPED_BYTE = "[\udc80-\udcff]"


_NON_ASCII = "[^\x00-\x7f]"


_ASCII_BYTES = bytes(range(128))


@dataclass(frozen=True)
class Decoded:
    """Text decoded from bytes, or why it could not be."""

    text: str | None
    warning_code: str | None = None
    message: str | None = None
    line: int | None = None
    from_utf8: bool = False  # the bytes were UTF-8, so byte-level checks may run on them


def decode_bytes(raw: bytes) -> Decoded:
    """Decode note bytes: BOMs, then UTF-8, then a guessed charset with a warning."""
    if not raw:
        return Decoded("")
    for bom, codec, label in _BOMS:
        if raw.startswith(bom):
            return _decode_with_bom(raw, codec, label)
    if b"\x00" in raw:
        utf16 = _decode_utf16_without_bom(raw)
        if utf16 is not None:
            return utf16
        # Stray NULs in 8-bit text: the share of control bytes below tells a binary file from text.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        return _decode_fallback(raw, bad_line)
    if len(raw.translate(None, _TEXT_BYTES)) > _BINARY_RATIO * len(raw):
        return _binary("it is mostly control characters")
    return Decoded(text, from_utf8=True)


def _decode_with_bom(raw: bytes, codec: str, label: str) -> Decoded:
    """Decode a file that starts with a byte-order mark."""
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        text = raw.decode(codec, errors="replace")
        if _looks_binary(text):
            return _binary("it starts with a byte-order mark but is not text")
        bad_line = raw[: exc.start].decode(codec, errors="replace").count("\n") + 1
        return Decoded(
            text,
            "encoding",
            f"starts with a {label} byte-order mark but has invalid bytes (first at line "
            f"{bad_line}), shown as '\ufffd'; re-save the file as UTF-8.",
            bad_line,
        )
    if codec == "utf-8-sig":
        return Decoded(text, from_utf8=True)
    if _looks_binary(text):
        return _binary("it starts with a byte-order mark but is not text")
    return Decoded(text)


def _decode_utf16_without_bom(raw: bytes) -> Decoded | None:
    """Decode UTF-16 that lacks a byte-order mark; None if the bytes are not UTF-16."""
    even, odd = raw[0::2], raw[1::2]
    for codec, label, zeros, others in (("utf-16-le", "UTF-16 LE", odd, even), ("utf-16-be", "UTF-16 BE", even, odd)):
        if zeros.count(0) >= 0.4 * len(zeros) and others.count(0) <= 0.02 * len(others):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                break
            if _looks_binary(text):
                break
            return Decoded(
                text,
                "encoding",
                f"has no byte-order mark; decoded as {label}. Re-save the file as UTF-8.",
            )
    return None


def _decode_fallback(raw: bytes, bad_line: int) -> Decoded:
    """Decode bytes that are not valid UTF-8: mixed UTF-8, Windows-1252, or a detected charset."""
    mixed = raw.decode("utf-8", errors="surrogateescape")
    escaped = len(re.findall(_ESCAPED_BYTE, mixed))
    valid_non_ascii = len(re.findall(_NON_ASCII, mixed)) - escaped
    if valid_non_ascii > escaped:
        # Mostly UTF-8 with a few stray bytes (text pasted from another editor).
        return Decoded(
            re.sub(_ESCAPED_BYTE, lambda m: _stray_byte(m.group()), mixed),
            "encoding",
            f"is mostly UTF-8 but {escaped} byte{'s are' if escaped != 1 else ' is'} not (first at "
            f"line {bad_line}); decoded {'them' if escaped != 1 else 'it'} as Windows-1252. "
            "Check that line and re-save the file as UTF-8.",
            bad_line,
        )
    encoding, guessed = _guess_charset(raw)
    if guessed is None or _looks_binary(guessed):
        return _binary("it is not text in any encoding recognised")
    return Decoded(
        guessed,
        "encoding",
        f"is not UTF-8 (first non-UTF-8 byte at line {bad_line}); decoded as {encoding}. "
        "Check accented characters and re-save the file as UTF-8.",
        bad_line,
    )


def _stray_byte(ch: str) -> str:
    """Decode one surrogate-escaped byte as Windows-1252 (Latin-1 where it has no character)."""
    byte = bytes([ord(ch) - 0xDC00])
    try:
        return byte.decode("cp1252")
    except UnicodeDecodeError:
        return byte.decode("latin-1")


def _guess_charset(raw: bytes) -> tuple[str, str | None]:
    """Return (encoding name, text): Windows-1252 when it reads as Western text, else detected."""
    try:
        western = raw.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and _looks_western(western):
        return "Windows-1252 (Western European)", western
    from charset_normalizer import from_bytes  # ~10 ms (measured): only non-UTF-8 files need it

    best = from_bytes(raw).best()
    if best is None:
        return "", None
    return best.encoding, str(best)


def _looks_western(text: str) -> bool:
    """Tell whether text decoded as Windows-1252 reads like Western European text."""
    if re.search(_WESTERN_EXTRA, text) or re.search(_SYMBOL_IN_WORD, text):
        return False
    accented = len(re.findall(_NON_ASCII_LETTER, text))
    return accented <= _MAX_NON_ASCII_LETTERS * (accented + len(re.findall(_ASCII_LETTER, text)))


def _looks_binary(text: str) -> bool:
    """Tell whether decoded text is mostly control characters (a binary file)."""
    return len(re.findall(_NON_TEXT, text)) > _BINARY_RATIO * len(text)


def _binary(why: str) -> Decoded:
    """Return the skipped-binary result."""
    return Decoded(
        None,
        "binary",
        f"looks like a binary file, not text ({why}); skipped. "
        "Rename it if it is not a note, or re-save it as UTF-8 text.",
    )


def _is_nfc(text: str, utf8: bytes) -> bool:
    """Tell whether text is NFC, looking first at its distinct non-ASCII characters only."""
    # Deleting the ASCII bytes leaves whole UTF-8 sequences: the non-ASCII characters, in a
    # fraction of the time unicodedata.is_normalized takes over a large file.
    non_ascii = utf8.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    if any(_may_change_under_nfc(char) for char in set(non_ascii)):
        return unicodedata.is_normalized("NFC", text)
    return True


def _may_change_under_nfc(char: str) -> bool:
    """Tell whether NFC could change text holding ``char`` (quick check not Yes, or a mark)."""
    if "\u1161" <= char <= "\u11c2":  # Hangul vowel and final jamo compose with what precedes
        return True
    if unicodedata.category(char)[0] == "M":  # combining marks reorder and compose
        return not ("\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef")
    return unicodedata.normalize("NFC", char) != char


def _mojibake_message(repairs: Sequence[tuple[int, str, str]]) -> str:
    """The warning for repaired lines: how many, and what changed on the first few."""
    shown = ", ".join(f"line {line} {before!r} → {after!r}" for line, before, after in repairs[:_REPAIRS_SHOWN])
    more = ", ..." if len(repairs) > _REPAIRS_SHOWN else ""
    return (
        f"repaired mis-decoded characters on {len(repairs)} line{'s' if len(repairs) != 1 else ''}: {shown}{more} "
        "(UTF-8 that was read as Windows-1252); check those lines and re-save the file as UTF-8."
    )


def _strip_controls(text: str) -> tuple[str, list[int], list[str]]:
    """Remove terminal escape sequences and control characters (not tab or line feed); return the
    text, the lines that had any, and the names of what was removed in order of appearance."""
    lines: dict[int, None] = {}
    names: dict[str, None] = {}
    line, counted = 1, 0  # newlines counted since the previous match only: a file may hold many
    for match in re.finditer(_CONTROL, text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        lines.setdefault(line, None)
        names.setdefault(_control_name(match.group()), None)
    return re.sub(_TERMINAL_SEQUENCE, "", text), list(lines), list(names)


def _control_name(char: str) -> str:
    """A short name for a control character, as a user would look it up."""
    if "\x80" <= char <= "\x9f":
        return "C1"
    return _CONTROL_NAMES.get(char, f"U+{ord(char):04X}")


def _repair_mojibake(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Repair the lines that clearly are mis-decoded (see `_mojibake_lines`) with ftfy; return the
    text and, for each line repaired, its number and the first word as it was and as repaired."""
    import ftfy  # ~50 ms (measured): most files are clean

    config = ftfy.TextFixerConfig(
        unescape_html=False,  # "&lt;" in notes is meant literally
        remove_terminal_escapes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,  # curly quotes are correct text
        fix_line_breaks=False,  # line numbers must not move
        remove_control_chars=False,
        normalization=None,  # NFC is applied to the whole text afterwards
        explain=False,
    )
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    repairs: list[tuple[int, str, str]] = []
    for number, start, end in _mojibake_lines(text):
        original = text[start:end]
        fixed = ftfy.fix_text(original, config)
        if fixed == original:
            continue
        pieces += (text[done:start], fixed)
        done = end
        word = re.search(_MOJIBAKE_WORD, original)
        before = word.group() if word is not None else original.strip()
        repairs.append((number, before, ftfy.fix_text(before, config)))
    if not repairs:
        return text, []
    pieces.append(text[done:])
    return "".join(pieces), repairs


def _mojibake_lines(text: str) -> list[tuple[int, int, int]]:
    """(number, start, end) of each line that clearly is mojibake: every non-ASCII character in it is
    part of a mis-decoded sequence, none of which is quoted (in backticks or double quotes), as a
    note explaining mojibake would have it. When the whole file is mojibake (every non-ASCII
    character of it, on two lines or more) quoted sequences are mis-decoded too."""
    mojibake = re.compile(_MOJIBAKE_TEXT)
    found: list[tuple[int, int, int]] = []
    line, counted = 1, 0
    match = mojibake.search(text)
    while match is not None:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        line += text.count("\n", counted, start)
        counted = start
        found.append((line, start, end))
        match = mojibake.search(text, end)
    if len(found) > 1 and re.sub(_MOJIBAKE_RUN, "", text).isascii():
        return found
    return [(n, start, end) for n, start, end in found if _clearly_mojibake(text[start:end])]


def _clearly_mojibake(line: str) -> bool:
    """Tell whether all the non-ASCII text of a line is mis-decoded and none of it quoted."""
    if not re.sub(_MOJIBAKE_RUN, "", line).isascii():
        return False
    unquoted = re.sub(_QUOTED, "", line)
    return len(re.findall(_MOJIBAKE_RUN, unquoted)) == len(re.findall(_MOJIBAKE_RUN, line))


def clean_text(text: str, utf8: bytes | None) -> tuple[str, list[tuple[str, str, int]]]:
    """Decoded text with its line breaks made `\\n`, control characters removed, clearly mis-decoded
    lines repaired and NFC; and (code, message, line) of each change worth a warning. `utf8` is
    the file's bytes when they were UTF-8 (the cheap byte-level checks then run on them)."""
    changes: list[tuple[str, str, int]] = []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if re.search(_CONTROL, text):
        text, lines, names = _strip_controls(text)
        shown = ", ".join(map(str, lines[:_LINES_SHOWN])) + (", ..." if len(lines) > _LINES_SHOWN else "")
        changes.append((
            "control-characters",
            f"removed control characters ({', '.join(names)}) at line{'s' if len(lines) > 1 else ''} {shown}: "
            "they have no place on a card. Check those lines (text pasted from a terminal?).",
            lines[0],
        ))
    # UTF-8 bytes of the text (line breaks aside) for the cheap byte-level checks below.
    if utf8 is None:
        utf8 = text.encode("utf-8", "surrogatepass")
    if re.search(_MOJIBAKE_BYTES, utf8):
        text, repairs = _repair_mojibake(text)
        if repairs:
            utf8 = text.encode("utf-8", "surrogatepass")
            changes.append(("mojibake", _mojibake_message(repairs), repairs[0][0]))
    if not text.isascii() and not _is_nfc(text, utf8):
        text = unicodedata.normalize("NFC", text)
    return text, changes

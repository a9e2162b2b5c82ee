"""Card targets for the shapes of real notes, one small fixture per writing style.

Each `tests/fixtures/styles/<style>.md` imitates the shape of one kind of real notes (written in
our own words) and has beside it `<style>.expect.json`, what a learner should get from it, stated
loosely so it does not depend on the exact HTML:

    {"style": "which real style this imitates",
     "cards":   [{"line": 12, "answer": "24 hours"},
                 {"line": 20, "front": "Visibility timeout", "answer": "30 seconds"},
                 {"line": 31, "front": ["OSI layer", "NLB"], "answer": "4"}],
     "no_card": [{"line": 3, "why": "table of contents"}]}

- a `cards` entry passes when some note from that source line holds `answer` inside one of its
  cloze deletions, or inside the Back of a basic note; when `front` is given (one text, or a list
  of texts that must all appear) the note must be a basic note whose Front holds it;
- a `no_card` entry passes when no note comes from that line.

Texts are compared on the visible text (HTML stripped, entities decoded), case-insensitively, with
runs of white space collapsed, and only as whole words: "No" does not match inside "Not".

These are targets: many fail against today's extractor, and that is the point. Fix the extractor,
never the expectation, unless the expectation itself is wrong for a learner.
"""
from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

STYLES = Path(__file__).parent / "fixtures" / "styles"
EXPECT_SUFFIX = ".expect.json"
_CLOZE = re.compile(r"\{\{c\d+::(.*?)\}\}", re.DOTALL)


def _style_names() -> list[str]:
    return sorted(p.stem for p in STYLES.glob("*.md"))


def _expect_names() -> list[str]:
    return sorted(p.name[: -len(EXPECT_SUFFIX)] for p in STYLES.glob(f"*{EXPECT_SUFFIX}"))


def _load_expect(name: str) -> dict[str, Any]:
    return json.loads((STYLES / f"{name}{EXPECT_SUFFIX}").read_text(encoding="utf-8"))


def _source_lines(name: str) -> list[str]:
    return (STYLES / f"{name}.md").read_text(encoding="utf-8").splitlines()


# --- reading notes ------------------------------------------------------------------------------

def _plain(html_text: str) -> str:
    """Visible text, case-folded, white space collapsed."""
    from aws_anki.cardtext import visible_text  # lazily: the structure tests need no pipeline

    return unicodedata.normalize("NFC", visible_text(html_text)).casefold()


def _holds(haystack: str, needle: str) -> bool:
    """`needle` appears in `haystack` (both plain) as whole words."""
    wanted = re.sub(r"\s+", " ", unicodedata.normalize("NFC", needle)).strip().casefold()
    return re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", haystack) is not None


@functools.lru_cache(maxsize=None)
def _notes(name: str) -> tuple[Any, ...]:
    """The notes built from one fixture file, built once per test session."""
    import aws_anki

    return tuple(aws_anki.build_deck([STYLES / f"{name}.md"], run=aws_anki.RunOptions(use_cache=False)).notes)


def _lines_of(note: Any, name: str) -> set[int]:
    """The source lines of `name`.md a note comes from (its source and any merged sources)."""
    lines = set()
    for source in (note.source, *note.merged_sources):
        if Path(source.path).name == f"{name}.md":
            lines.add(source.line)
    return lines


def _notes_at(name: str, line: int) -> list[Any]:
    return [n for n in _notes(name) if line in _lines_of(n, name)]


def _deletions(note: Any) -> list[str]:
    """The plain text of each cloze deletion of a cloze note (a `::hint` is not part of it)."""
    return [_plain(body.split("::", 1)[0]) for body in _CLOZE.findall(note.field("Text"))]


def _describe(note: Any) -> str:
    if note.note_type == "cloze":
        return f"  cloze  Text: {_plain(note.field('Text'))!r}\n         deletions: {_deletions(note)!r}"
    return f"  basic  Front: {_plain(note.field('Front'))!r}\n         Back: {_plain(note.field('Back'))!r}"


def _report(name: str, line: int) -> str:
    """What the notes from a line (or, when there are none, from the lines around it) look like."""
    source = _source_lines(name)
    text = source[line - 1] if 0 < line <= len(source) else ""
    out = [f"{name}.md:{line}: {text.strip()!r}"]
    here = _notes_at(name, line)
    if here:
        out.append(f"notes from this line ({len(here)}):")
        out.extend(_describe(n) for n in here)
    else:
        out.append("no note comes from this line")
        near = [(sorted(_lines_of(n, name)), n) for n in _notes(name)]
        near = [(ls, n) for ls, n in near if any(abs(x - line) <= 2 for x in ls)]
        if near:
            out.append("notes from lines nearby:")
            out.extend(f"  from line {ls}:\n{_describe(n)}" for ls, n in near)
    return "\n".join(out)


# --- the expectations ---------------------------------------------------------------------------

def _card_cases() -> list[Any]:
    cases = []
    for name in _expect_names():
        for entry in _load_expect(name).get("cards", []):
            front = entry.get("front")
            label = f"{name}:L{entry['line']}:{entry['answer']}" + (f"@{front}" if front else "")
            cases.append(pytest.param(name, entry, id=label, marks=_gap(entry)))
    return cases


def _gap(entry: dict[str, Any]) -> Any:
    """An expectation the extractor does not meet yet is kept, with why, as a strict xfail: it
    fails the suite the day it passes, so the `gap` note is removed with the fix."""
    return pytest.mark.xfail(strict=True, reason=entry["gap"]) if "gap" in entry else ()


def _no_card_cases() -> list[Any]:
    return [
        pytest.param(name, entry, id=f"{name}:L{entry['line']}:no_card", marks=_gap(entry))
        for name in _expect_names()
        for entry in _load_expect(name).get("no_card", [])
    ]


def _fronts(entry: dict[str, Any]) -> list[str]:
    front = entry.get("front")
    if front is None:
        return []
    return [front] if isinstance(front, str) else list(front)


def _satisfies(note: Any, entry: dict[str, Any]) -> bool:
    fronts = _fronts(entry)
    if fronts:
        if note.note_type != "basic":
            return False
        front = _plain(note.field("Front"))
        return all(_holds(front, f) for f in fronts) and _holds(_plain(note.field("Back")), entry["answer"])
    if note.note_type == "cloze":
        return any(_holds(d, entry["answer"]) for d in _deletions(note))
    return _holds(_plain(note.field("Back")), entry["answer"])


@pytest.mark.parametrize(("name", "entry"), _card_cases())
def test_card(name: str, entry: dict[str, Any]) -> None:
    line = entry["line"]
    if any(_satisfies(n, entry) for n in _notes_at(name, line)):
        return
    fronts = _fronts(entry)
    wanted = (
        f"a basic note whose Front holds {fronts!r} and whose Back holds {entry['answer']!r}"
        if fronts
        else f"a cloze deletion or a basic Back holding {entry['answer']!r}"
    )
    pytest.fail(f"wanted {wanted}\n{_report(name, line)}", pytrace=False)


@pytest.mark.parametrize(("name", "entry"), _no_card_cases())
def test_no_card(name: str, entry: dict[str, Any]) -> None:
    line = entry["line"]
    if _notes_at(name, line):
        pytest.fail(f"wanted no card ({entry['why']})\n{_report(name, line)}", pytrace=False)


# --- the fixtures themselves --------------------------------------------------------------------

def test_every_fixture_has_its_expectations() -> None:
    styles, expects = set(_style_names()), set(_expect_names())
    assert styles, f"no fixtures in {STYLES}"
    assert not styles - expects, f"fixtures without {EXPECT_SUFFIX}: {sorted(styles - expects)}"
    assert not expects - styles, f"{EXPECT_SUFFIX} files without a fixture: {sorted(expects - styles)}"


@pytest.mark.parametrize("name", _expect_names())
def test_expectations_are_well_formed(name: str) -> None:
    expect = _load_expect(name)
    source = _source_lines(name)
    assert set(expect) <= {"style", "cards", "no_card"}, f"unknown keys: {sorted(set(expect))}"
    assert isinstance(expect.get("style"), str) and expect["style"].strip(), "a one-line 'style' is required"
    cards, none = expect.get("cards", []), expect.get("no_card", [])
    assert len(none) >= 3, "at least 3 no_card lines"
    assert len(cards) >= 8 or not cards, "at least 8 cards (or none at all, for a file of meta text)"

    def check_line(entry: dict[str, Any]) -> int:
        line = entry.get("line")
        assert isinstance(line, int) and not isinstance(line, bool), f"bad line in {entry}"
        assert 1 <= line <= len(source), f"line {line} is outside {name}.md (1..{len(source)})"
        assert source[line - 1].strip(), f"line {line} of {name}.md is blank"
        return line

    card_lines = set()
    for entry in cards:
        assert set(entry) <= {"line", "front", "answer", "gap"}, f"unknown keys in {entry}"
        card_lines.add(check_line(entry))
        assert isinstance(entry.get("answer"), str) and entry["answer"].strip(), f"empty answer in {entry}"
        front = entry.get("front")
        assert front is None or (isinstance(front, str) and front.strip()) or (
            isinstance(front, list) and front and all(isinstance(f, str) and f.strip() for f in front)
        ), f"front must be a text or a list of texts: {entry}"
    seen = set()
    for entry in none:
        assert set(entry) <= {"line", "why", "gap"}, f"unknown keys in {entry}"
        line = check_line(entry)
        assert isinstance(entry.get("why"), str) and entry["why"].strip(), f"say why in {entry}"
        assert line not in seen, f"line {line} listed twice under no_card"
        seen.add(line)
    both = card_lines & seen
    assert not both, f"lines both with and without a card: {sorted(both)}"
    pairs = [(e["line"], e["answer"], json.dumps(e.get("front"))) for e in cards]
    assert len(pairs) == len(set(pairs)), "a card expectation is listed twice"

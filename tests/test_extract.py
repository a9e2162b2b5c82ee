"""The extract stage, driven by fixture files: a new case is a new file pair, not new code.

Each `tests/fixtures/extract/<case>.md` has its expected facts beside it in `<case>.json`: a list
of objects, one per fact in the order the extractor makes them, or an object
`{"facts": [...], "skipped": [{"line": N, "reason": "..."}]}` to also pin the lines that made no
card. A fact object has:

- `kind`: definition | cloze | list | row | qa | statement;
- `front`, `back`: the fields exactly as they are written into the note (HTML, sanitised, with
  cloze deletions as Anki sees them: `{{c1::<b>...</b>}}`, and `::`/`}}` inside them escaped as
  `:&#58;`/`&#125;}`); `back` is "" for a cloze;
- `line`: the source line of the fact (1-based);
- optional `headings`: the section path below the file title (the file title is the case name);
- optional `extra`, `pattern`: compared only when given.

To add a case, write the `.md`, run `AWS_ANKI_UPDATE_FIXTURES=1 pytest tests/test_extract.py -k
<case>` to draft its `.json` from what the extractor makes today, then read the draft line by line
and correct it to what a learner should get: the test is only as good as that reading.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import aws_anki
from aws_anki.extract import Extraction, Fact, extract_facts
from aws_anki.parse import parse_document
from aws_anki.read import SourceFile
from aws_anki.cloze import finish_cloze
from aws_anki.render import sanitize
from aws_anki.options import RunOptions

CASES = Path(__file__).parent / "fixtures" / "extract"
UPDATE = os.environ.get("AWS_ANKI_UPDATE_FIXTURES") == "1"


def extract(path: Path) -> Extraction:
    """Parse and extract one fixture file, named by its file name."""
    return extract_facts(parse_document(SourceFile(path=path, rel_path=path.name, text=path.read_text(encoding="utf-8"))))


def as_expected(fact: Fact) -> dict[str, Any]:
    """A fact as the fixture JSON states it: fields as Anki will see them."""
    front = sanitize(fact.front)
    return {
        "kind": fact.kind,
        "front": finish_cloze(front) if fact.is_cloze else front,
        "back": sanitize(fact.back) if fact.back else "",
        "headings": list(fact.headings[1:]),
        "line": fact.line,
        "extra": sanitize(fact.extra) if fact.extra else "",
        "pattern": fact.pattern,
    }


def _cases() -> list[str]:
    return sorted(p.stem for p in CASES.glob("*.md"))


@pytest.mark.parametrize("case", _cases())
def test_fixture(case: str) -> None:
    extraction = extract(CASES / f"{case}.md")
    actual = [as_expected(f) for f in extraction.facts]
    skipped = [{"line": s.line, "reason": s.reason} for s in extraction.skipped]
    expected_path = CASES / f"{case}.json"
    if UPDATE:  # asked for by name: drafts are never written from a plain test run
        drafted: Any = [{k: v for k, v in f.items() if k not in ("extra", "pattern") or v} for f in actual]
        if skipped:
            drafted = {"facts": drafted, "skipped": skipped}
        expected_path.write_text(json.dumps(drafted, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip(f"wrote {expected_path.name}: review it by hand")
    if not expected_path.exists():
        pytest.fail(f"{expected_path.name} is missing: draft it with AWS_ANKI_UPDATE_FIXTURES=1 and review it by hand")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    if isinstance(expected, dict):
        assert skipped == expected.get("skipped", []), "lines without a card"
        expected = expected["facts"]
    trimmed = [{k: fact[k] for k in want if k in fact} for fact, want in zip(actual, expected)]
    assert trimmed == expected[: len(trimmed)]
    assert len(actual) == len(expected), [f["front"] for f in actual[len(expected) :]] or "facts missing"


def test_every_case_has_expectations() -> None:
    assert _cases(), "no fixture cases found"
    for case in _cases():
        assert (CASES / f"{case}.json").is_file(), case


def test_same_fact_twice_makes_one_note_listing_both_sources(tmp_path: Path) -> None:
    text = (CASES / "duplicates.md").read_text(encoding="utf-8")
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    notes = aws_anki.build_deck([tmp_path], run=RunOptions(use_cache=False, jobs=1)).notes
    merged = [n for n in notes if n.fields[0] == "Default retention"]
    assert len(merged) == 1
    assert merged[0].source == ("a.md", 5) and merged[0].merged_sources == (("b.md", 5),)
    assert "also b.md:5" in merged[0].field("Source")
    cloze = [n for n in notes if "{{c1::<b>eleven nines</b>}}" in n.fields[0]]
    assert len(cloze) == 1 and cloze[0].source == ("a.md", 12)
    assert set(cloze[0].merged_sources) == {("a.md", 16), ("b.md", 12), ("b.md", 16)}


def test_cloze_fields_stay_valid_for_anki() -> None:
    """Every deletion opens and closes once, nothing nests, and a deletion holds at most one `::`
    (its hint): `::` and `}}` of the notes' own text arrive escaped."""
    for case in _cases():
        for fact in extract(CASES / f"{case}.md").facts:
            if fact.is_cloze:
                text = finish_cloze(sanitize(fact.front))
                assert_valid_cloze(text)


def assert_valid_cloze(text: str) -> None:
    """Walk a Text field the way Anki's cloze parser does and fail on anything ambiguous."""
    import re

    deletions = 0
    position = 0
    for match in re.finditer(r"\{\{c\d+::(.*?)\}\}", text, re.S):
        outside = text[position : match.start()]
        assert "{{" not in outside and "}}" not in outside, text
        assert "{{" not in match.group(1) and match.group(1).count("::") <= 1, text
        deletions += 1
        position = match.end()
    assert "{{" not in text[position:] and "}}" not in text[position:], text
    assert deletions, text


def test_a_wall_of_bold_makes_at_most_twenty_deletions_and_no_card() -> None:
    from aws_anki.extract.deletions import MAX_DELETIONS_PER_NOTE, deletion_groups
    from aws_anki.parse import parse_document, parse_tokens
    from aws_anki.read import SourceFile

    line = " ".join(f"word{i} **term{i}** rest" for i in range(60))
    (paragraph,) = parse_tokens(line)
    assert max(deletion_groups(paragraph["children"]).values()) == MAX_DELETIONS_PER_NOTE == 20
    # ... and as a line of notes it is far over the length a card can hold
    source = SourceFile(path=Path("wall.md"), rel_path="wall.md", text=f"# Amazon S3\n\n- {line}\n")
    extraction = extract_facts(parse_document(source))
    assert extraction.facts == () and [s.reason for s in extraction.skipped] == ["long-sentence"]


def test_no_blank_inside_template_syntax_the_author_wrote() -> None:
    from aws_anki.extract.plain import plain_deletions

    text = "The stack reads {{resolve:ssm:/app/KMS-key}} while it deploys"
    assert plain_deletions([{"type": "text", "raw": text}], text, ("Template syntax",)) == "no-key-term"


def test_a_missing_expected_file_fails_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case without its `.json` is a failure, never a draft written from today's output."""
    (tmp_path / "new-case.md").write_text("# AWS Lambda\n\n- **Maximum timeout**: 15 minutes\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.CASES", tmp_path)
    monkeypatch.setattr(f"{__name__}.UPDATE", False)
    with pytest.raises(pytest.fail.Exception, match="new-case.json is missing"):
        test_fixture("new-case")
    assert not (tmp_path / "new-case.json").exists()

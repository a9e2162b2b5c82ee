"""Card quality: defect counts and honest coverage, on hand-made notes, the fixtures and the real notes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import aws_anki
from aws_anki.cli import cli
from aws_anki.extract import Extraction
from aws_anki.notes import CardNote
from aws_anki.stats import DEFECT_KINDS, deletion_shares, quality, visible_text

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
MIN_COVERAGE = 0.95


def note(fields: tuple[str, ...], *, cloze: bool = False, context: str = "Amazon S3", source: str = "s3.md:1") -> CardNote:
    """A hand-made note: only what quality() reads is meaningful."""
    if not cloze and len(fields) == 2:
        fields = (fields[0], fields[1], context, "", source, "")
    elif cloze and len(fields) == 1:
        fields = (fields[0], context, "", source)
    return CardNote(
        guid="g", note_type="cloze" if cloze else "basic", kind="cloze" if cloze else "definition", fields=fields,
        tags=(), deck="AWS", service="Amazon S3", category="Storage", context=context, source=source,
        merged_sources=(), identity="i", content_hash="h", media=(), cards=1,
    )


def test_visible_text_resolves_cloze_markup_and_entities() -> None:
    assert visible_text("type {{c1::<b>AWS:&#58;S3:&#58;Bucket</b>}} here") == "type AWS::S3::Bucket here"
    assert visible_text("{{c1::Paris::capital}} is big") == "Paris is big"


def test_deletion_share_is_per_number() -> None:
    shares = deletion_shares("{{c1::aaaa}} bb {{c1::cccc}} {{c2::dd}}")
    assert shares[1] == pytest.approx(8 / 15) and shares[2] == pytest.approx(2 / 15)  # of "aaaa bb cccc dd"


def test_each_defect_kind_is_found() -> None:
    notes = [
        note(("{{c1::<b>the whole sentence is hidden here</b>}}.",), cloze=True),
        note(("Limit", "x" * 601)),
        note(("Size", "5 TB"), context=""),
        note(("Size", "5 TB per object"), source="s3.md:9"),
        note(("Size", "5 TB"), source="s3.md:12"),
        note(("a {{c1::<b>b</b>}} c",), cloze=True, context="Amazon S3 › Limits"),
        note(("a {{c1::<b>b</b>}} c",), cloze=True, context="Amazon S3 › Limits", source="s3.md:30"),
    ]
    found = quality(notes)
    assert found.defect_counts == {"big_deletion": 1, "long_answer": 1, "no_context": 1, "duplicate_front": 2}
    assert {d.source for d in found.defects if d.kind == "duplicate_front"} == {"s3.md:12", "s3.md:30"}
    assert "as at s3.md:9" in next(d.text for d in found.defects if d.source == "s3.md:12")


def test_a_short_deletion_and_a_600_character_answer_are_fine() -> None:
    notes = [note(("billed {{c1::<b>per millisecond</b>}} of run time",), cloze=True), note(("Limit", "y" * 600))]
    assert quality(notes).defects == ()


def test_coverage_counts_only_text_that_is_really_in_a_note() -> None:
    extraction = Extraction(
        source="s3.md", metadata={}, facts=(), skipped=(),
        bold_texts=((3, "eleven nines"), (4, "strong consistency"), (5, "not anywhere")),
        definition_texts=((7, "Glacier", "archive storage for data you rarely read"), (8, "Shard", "a unit of capacity")),
    )
    notes = [
        note(("S3 offers {{c1::<b>eleven nines</b>}} of durability",), cloze=True),
        note(("Glacier", "archive storage for data you rarely read, with retrieval in hours")),
        # Words of a span split over front and back (`X is Y`) still count: all in one note.
        note(("Consistency model", "strong consistency for every request")),
    ]
    found = quality(notes, [extraction])
    assert (found.bold_spans, found.bold_covered) == (3, 2)
    assert (found.definition_lines, found.definition_covered) == (2, 1)
    assert found.uncovered == ("s3.md:5 bold: not anywhere", "s3.md:8 definition: Shard: a unit of capacity")
    other_file = [n for n in notes]  # same notes, but the extraction is another file's: nothing counts
    assert quality(other_file, [Extraction("b.md", {}, (), (), ((1, "eleven nines"),), ())]).bold_covered == 0


def _assert_good(result: aws_anki.BuildResult) -> None:
    found = result.report.quality
    assert found is not None and found.notes == result.report.notes
    assert [f"{d.kind} {d.source}: {d.text}" for d in found.defects] == []
    assert found.bold_spans > 0 and found.definition_lines > 0
    assert found.bold_coverage >= MIN_COVERAGE, found.uncovered
    assert found.definition_coverage >= MIN_COVERAGE, found.uncovered


def test_fixtures_have_no_defects_and_are_covered() -> None:
    _assert_good(aws_anki.build_deck([FIXTURES], use_cache=False, jobs=1, quality=True))


def test_real_notes_have_no_defects_and_are_covered(real_notes: Path) -> None:
    result = aws_anki.build_deck([real_notes], use_cache=False, jobs=1, quality=True)
    _assert_good(result)
    found = result.report.quality
    assert found is not None
    # Every rule of the notes is at work on them, and most lines of a note make some card.
    assert {"bold-cloze", "bold-term", "plain-term", "enumeration", "key-points"} <= set(found.facts_by_pattern)
    assert sum(result.report.skipped.values()) < 0.1 * result.report.notes


def test_report_coverage_is_the_quality_coverage(vault: Path) -> None:
    report = aws_anki.build_deck([vault], use_cache=False, jobs=1, quality=True).report
    assert report.quality is not None
    assert (report.bold_spans, report.bold_covered) == (report.quality.bold_spans, report.quality.bold_covered)
    data = report.as_dict()["quality"]
    assert isinstance(data, dict) and set(data["defects"]) == set(DEFECT_KINDS)


def test_quality_is_measured_only_when_asked(vault: Path) -> None:
    # A plain build (what `aws-anki build` runs) skips the quality pass; it reports None, not zeros.
    report = aws_anki.build_deck([vault], use_cache=False, jobs=1).report
    assert report.quality is None and report.bold_spans is None
    assert report.as_dict()["coverage"] is None and report.notes > 0


def test_inspect_stats_prints_defects_and_patterns() -> None:
    result = CliRunner().invoke(cli, ["inspect", str(FIXTURES), "--stats"])
    assert result.exit_code == 0, result.output
    assert "Defects: big_deletion 0, long_answer 0, no_context 0, duplicate_front 0" in result.output
    assert "Facts per pattern:" in result.output and "table-row" in result.output
    data = json.loads(CliRunner().invoke(cli, ["inspect", str(FIXTURES), "--stats", "--json"]).output)
    assert data["quality"]["defects"] == {kind: 0 for kind in DEFECT_KINDS}
    assert data["quality"]["facts_by_pattern"]["qa"] == 4  # author_markers.md and qa_sentences.md

"""The Python API end to end: notes in, inspectable notes and a report out, a deck written."""
from __future__ import annotations

from pathlib import Path

import pytest

import aws_anki
from aws_anki.errors import InputError
from aws_anki.options import DeckOptions, RunOptions


def test_build_deck_returns_inspectable_notes(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    assert result.report.files == 2
    assert result.report.notes == len(result.notes) > 8
    for note in result.notes:
        assert note.guid and note.context and note.tags
        assert note.source.path.startswith("compute/") and note.source.line > 0
        assert note.field("Source").startswith("compute/")
    by_front = {n.fields[0]: n for n in result.notes if n.note_type == "basic"}
    timeout = by_front["Maximum timeout"]
    assert timeout.field("Back") == "15 minutes"
    assert timeout.context == "AWS Lambda"
    assert timeout.source == aws_anki.Source("compute/lambda.md", 6)
    assert str(timeout.source) == "compute/lambda.md:6"
    assert "serverless" in timeout.tags  # from front matter


def test_cloze_from_bold_span(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    clozes = [n.fields[0] for n in result.notes if n.note_type == "cloze"]
    assert "Lambda bills duration in {{c1::<b>1 ms increments</b>}}." in clozes


def test_code_and_image_attach_to_previous_fact(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    vpc = next(n for n in result.notes if "reaches private resources" in n.fields[0])
    extra = vpc.field("Extra")
    assert "invoke" in extra and "--function-name" in extra and "background:#272822" in extra
    assert '<img src="lambda-flow-' in extra
    assert result.media_files and all(p.is_file() for p in result.media_files.values())


def test_noise_makes_no_card(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    text = " ".join(" ".join(n.fields) for n in result.notes)
    assert "not sure" not in text
    assert "EC2 docs" not in text
    assert "Nothing else to say" not in text
    assert result.report.skipped.get("first-person") == 1


def test_same_notes_give_same_guids(vault: Path) -> None:
    first = [n.guid for n in aws_anki.build_deck([vault]).notes]
    second = [n.guid for n in aws_anki.build_deck([vault]).notes]
    assert first == second
    assert len(set(first)) == len(first)


def test_guid_ignores_the_answer_text(vault: Path) -> None:
    before = {n.fields[0]: n.guid for n in aws_anki.build_deck([vault]).notes}
    path = vault / "compute" / "lambda.md"
    path.write_text(path.read_text().replace("15 minutes", "900 seconds"))
    after = {n.fields[0]: n.guid for n in aws_anki.build_deck([vault]).notes}
    assert before["Maximum timeout"] == after["Maximum timeout"]


def test_tags_follow_anki_rules(vault: Path) -> None:
    for note in aws_anki.build_deck([vault]).notes:
        for tag in note.tags:
            assert " " not in tag and tag.strip() == tag


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        aws_anki.build_deck([tmp_path / "nope"])
    with pytest.raises(InputError):
        aws_anki.build_deck([tmp_path])


def test_write_is_atomic_and_reports_changes(vault: Path, tmp_path: Path) -> None:
    result = aws_anki.build_deck([vault])
    out = tmp_path / "deck.apkg"
    first = result.write(out)
    assert out.stat().st_size == first.size > 0
    assert len(first.changes.added) == result.report.notes
    second = aws_anki.build_deck([vault]).write(out)
    assert (len(second.changes.added), len(second.changes.updated)) == (0, 0)
    assert len(second.changes.unchanged) == result.report.notes
    assert not list(tmp_path.glob(".aws-anki-*"))  # no temp files left behind


def test_reverse_cards_for_short_name_definitions_only(tmp_path: Path) -> None:
    (tmp_path / "sqs.md").write_text(
        "# Amazon SQS\n\n- **Visibility timeout**: hides a received message from other consumers\n"
        "- **Use cases**: decoupling producers from consumers\n- **Retention**: 4 days\n"
    )
    short = {n.fields[0]: n for n in aws_anki.build_deck([tmp_path], DeckOptions(reverse="short")).notes}
    assert short["Visibility timeout"].field("Reverse") == "1" and short["Visibility timeout"].cards == 2
    assert next(v for k, v in short.items() if k.endswith("use cases")).field("Reverse") == ""  # a label, not a name
    assert short["Retention"].field("Reverse") == ""  # "4 days" names nothing
    assert all(n.field("Reverse") == "" for n in aws_anki.build_deck([tmp_path]).notes)  # off by default


def test_cycle_collector_is_back_on_and_nothing_left_frozen(vault: Path, tmp_path: Path) -> None:
    import gc

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    assert gc.isenabled()
    aws_anki.build_into(tmp_path / "deck.apkg", [vault], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    Cycle()  # garbage with a cycle, made after the build: the collector still finds it
    assert gc.collect() >= 1
    gc.disable()
    try:
        aws_anki.build_deck([vault], run=RunOptions(jobs=1))
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
    gc.freeze()  # a program that froze its objects (a pre-fork server) finds them still frozen
    try:
        frozen = gc.get_freeze_count()
        aws_anki.build_deck([vault], run=RunOptions(jobs=1))
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_which_service_question_hides_every_section_service_its_answer_names(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "audit.md").write_text(
        "# Auditing\n\n## CloudTrail and AWS Config\n\n"
        "Q: Which service keeps the configuration history of a security group?\nA: AWS Config\n\n"
        "Q: How long does the CloudTrail event history keep management events?\nA: 90 days, in CloudTrail\n",
        encoding="utf-8",
    )
    by_front = {n.fields[0]: n for n in aws_anki.build_deck([notes]).notes}
    which = next(n for front, n in by_front.items() if front.startswith("Which service"))
    assert which.context == "Management & Governance"  # "CloudTrail & Config" would give the answer away
    how_long = next(n for front, n in by_front.items() if front.startswith("How long"))
    assert "CloudTrail" in how_long.context  # the question names the service: nothing to hide

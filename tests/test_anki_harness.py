"""Prove tests/anki_harness.py against genanki decks, and pin the Anki import behaviour we rely on."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import genanki
import pytest
from anki.collection import Collection

from anki_harness import (
    CardSchedule,
    ImportSummary,
    answer_due_cards,
    edit_note,
    html_to_text,
    import_apkg,
    new_collection,
    note_by_guid,
    open_collection,
    rendered_cards,
    revlog_count,
    schedule_snapshot,
)

BASIC_ID = 1_607_392_319
CLOZE_ID = 1_607_392_320
DECK_ID = 2_059_400_110
DECK_NAME = "AWS::Harness"
BASIC_NAME = "Harness Basic"
CLOZE_NAME = "Harness Cloze"
T0 = 1_700_000_000  # a fixed package timestamp in the past: the mod of every note and model

BASIC_FIELDS = [{"name": "Front"}, {"name": "Back"}]
BASIC_TEMPLATE = {
    "name": "Card 1",
    "qfmt": "{{Front}}",
    "afmt": "{{FrontSide}}<hr id=answer>{{Back}}",
}
BASIC_CSS = ".card { color: black; }"

BASIC = genanki.Model(
    BASIC_ID, BASIC_NAME, fields=BASIC_FIELDS, templates=[BASIC_TEMPLATE], css=BASIC_CSS
)
CLOZE = genanki.Model(
    CLOZE_ID,
    CLOZE_NAME,
    fields=[{"name": "Text"}, {"name": "Extra"}],
    templates=[
        {"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}<br>{{Extra}}"}
    ],
    css=".card { color: black; }",
    model_type=genanki.Model.CLOZE,
)

G_CF = "harness-basic-cf"
G_LAMBDA = "harness-basic-lambda"
G_CLOZE_ONE = "harness-cloze-one"
G_CLOZE_TWO = "harness-cloze-two"
ALL_GUIDS = {G_CF, G_LAMBDA, G_CLOZE_ONE, G_CLOZE_TWO}
CLOZE_ONE_TEXT = "Lambda functions are {{c1::serverless}}"
CLOZE_ONE_TWO_DELETIONS = "Lambda functions are {{c1::serverless}} and {{c2::event-driven}}"


def write_deck(
    path: Path,
    timestamp: float,
    *,
    cf_back: str = "2 MB",
    cloze_one: str = CLOZE_ONE_TEXT,
    basic: genanki.Model = BASIC,
    extra_basic_notes: tuple[tuple[str, list[str]], ...] = (),
) -> Path:
    """Write a 4-note, 5-card package whose notes and models all have mod == timestamp."""
    deck = genanki.Deck(DECK_ID, DECK_NAME)
    n_fields = len(basic.fields)

    def basic_fields(front: str, back: str) -> list[str]:
        return [front, back] + [""] * (n_fields - 2)

    deck.add_note(
        genanki.Note(
            basic, basic_fields("CloudFront Functions › Maximum memory", cf_back),
            guid=G_CF, tags=["aws::cloudfront"],
        )
    )
    deck.add_note(
        genanki.Note(
            basic, basic_fields("Lambda › Maximum timeout", "15 minutes"),
            guid=G_LAMBDA, tags=["aws::lambda"],
        )
    )
    deck.add_note(
        genanki.Note(CLOZE, [cloze_one, "AWS Lambda"], guid=G_CLOZE_ONE, tags=["aws::lambda"])
    )
    deck.add_note(
        genanki.Note(
            CLOZE,
            ["S3 offers {{c1::11 nines}} of durability and {{c2::strong}} consistency", ""],
            guid=G_CLOZE_TWO,
            tags=["aws::s3", "storage"],
        )
    )
    for guid, fields in extra_basic_notes:
        deck.add_note(genanki.Note(basic, fields, guid=guid))
    genanki.Package(deck).write_to_file(str(path), timestamp=timestamp)
    return path


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    """A fresh collection, closed after the test."""
    with open_collection(tmp_path / "anki") as collection:
        yield collection


def summary(
    *, new: int = 0, updated: int = 0, duplicate: int = 0, conflicting: int = 0, found: int = 4
) -> tuple[int, ...]:
    """Expected (new, updated, duplicate, conflicting, found_notes, errors...) for comparison."""
    return (new, updated, duplicate, conflicting, found, 0, 0, 0, 0)


def counts(s: ImportSummary) -> tuple[int, ...]:
    """The comparable counts of an ImportSummary."""
    return (
        s.new, s.updated, s.duplicate, s.conflicting, s.found_notes,
        s.first_field_match, s.missing_notetype, s.missing_deck, s.empty_first_field,
    )


def scm(col: Collection) -> int:
    """Schema modification time: if it moves, the next sync is a forced full sync."""
    assert col.db is not None
    return int(col.db.scalar("select scm from col"))


def harness_notetypes(col: Collection) -> dict[int, str]:
    """Our test notetypes (id -> name), ignoring Anki's stock ones."""
    return {
        nt.id: nt.name
        for nt in col.models.all_names_and_ids()
        if nt.name.startswith("Harness")
    }


def answer_everything(col: Collection) -> int:
    """Answer Good until nothing is queued today; return how many answers that took."""
    answered = answer_due_cards(col, 1000)
    assert 0 < answered < 1000
    return answered


# --- the harness itself -------------------------------------------------------------------


def test_collection_lifecycle(tmp_path: Path) -> None:
    fresh = new_collection(tmp_path / "a")
    try:
        assert fresh.note_count() == 0
        assert (tmp_path / "a" / "collection.anki2").exists()
    finally:
        fresh.close()
    with pytest.raises(FileExistsError):
        new_collection(tmp_path / "a")
    with open_collection(tmp_path / "a") as reopened:
        assert reopened.db is not None
    assert reopened.db is None  # closed on exit


def test_fresh_import_counts_and_rendering(col: Collection, tmp_path: Path) -> None:
    result = import_apkg(col, write_deck(tmp_path / "deck.apkg", T0))
    assert counts(result) == summary(new=4)
    assert len(result.new_note_ids) == 4
    assert col.note_count() == 4
    assert col.card_count() == 5

    cards = rendered_cards(col)
    assert {c.guid for c in cards} == ALL_GUIDS
    assert {(c.guid, c.ord) for c in cards} == {
        (G_CF, 0), (G_LAMBDA, 0), (G_CLOZE_ONE, 0), (G_CLOZE_TWO, 0), (G_CLOZE_TWO, 1)
    }
    by_key = {(c.guid, c.ord): c for c in cards}
    for card in cards:
        assert card.deck == DECK_NAME
        assert card.question_text and card.question_text != card.answer_text
        assert "color: black" not in card.question_text  # <style> is not visible text
        assert "<style>" in card.question_html
    cf = by_key[(G_CF, 0)]
    assert cf.notetype == BASIC_NAME
    assert cf.tags == ("aws::cloudfront",)
    assert cf.question_text == "CloudFront Functions › Maximum memory"
    assert cf.answer_text == "CloudFront Functions › Maximum memory 2 MB"
    assert cf.note_id == note_by_guid(col, G_CF).id

    # Anki's own cloze renderer: the deletion is hidden on the front, shown on the back.
    c1 = by_key[(G_CLOZE_ONE, 0)]
    assert c1.notetype == CLOZE_NAME
    assert c1.question_text == "Lambda functions are [...]"
    assert c1.answer_text == "Lambda functions are serverless AWS Lambda"
    s3_c2 = by_key[(G_CLOZE_TWO, 1)]
    assert s3_c2.question_text == "S3 offers 11 nines of durability and [...] consistency"
    assert s3_c2.tags == ("aws::s3", "storage")


def test_html_to_text() -> None:
    html = "<style>.x{}</style><div>a <b>b</b>\n\n c</div><script>alert(1)</script><br>d"
    assert html_to_text(html) == "a b c d"


def test_answer_due_cards_uses_the_v3_scheduler(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "deck.apkg", T0))
    assert answer_due_cards(col, 3) == 3
    assert revlog_count(col) == 3
    snap = schedule_snapshot(col)
    assert sum(s.reps for s in snap.values()) == 3
    # New -> Good puts a card into learning (type 1) with the default 1m 10m steps.
    assert sum(1 for s in snap.values() if s.card_type == 1) >= 2
    total = 3 + answer_everything(col)
    assert revlog_count(col) == total
    assert answer_due_cards(col, 5) == 0  # everything graduated: nothing left today
    assert all(s.card_type == 2 and s.ivl >= 1 for s in schedule_snapshot(col).values())
    with pytest.raises(KeyError):
        answer_due_cards(col, 1, deck="No such deck")


def test_answer_again_keeps_a_new_card_in_learning(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "deck.apkg", T0))
    assert answer_due_cards(col, 1, ease=1, deck=DECK_NAME) == 1
    again = [s for s in schedule_snapshot(col).values() if s.reps == 1]
    assert len(again) == 1 and again[0].card_type == 1 and again[0].lapses == 0
    with pytest.raises(ValueError):
        answer_due_cards(col, 1, ease=5)  # type: ignore[arg-type]


def test_note_lookup_and_learner_edit(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "deck.apkg", T0))
    assert note_by_guid(col, G_CF).mod == T0  # the package's note mod is kept on import
    edit_note(col, G_CF, "Back", "2 MB (learner)")
    note = note_by_guid(col, G_CF)
    assert note["Back"] == "2 MB (learner)"
    assert note.mod > T0
    with pytest.raises(KeyError):
        note_by_guid(col, "no-such-guid")
    with pytest.raises(KeyError):
        edit_note(col, G_CF, "NoSuchField", "x")


# --- the five Anki behaviours the design depends on -----------------------------------------


def test_1_same_package_twice_is_all_duplicate(col: Collection, tmp_path: Path) -> None:
    apkg = write_deck(tmp_path / "deck.apkg", T0)
    import_apkg(col, apkg)
    answer_due_cards(col, 3)
    before, reviews = schedule_snapshot(col), revlog_count(col)

    again = import_apkg(col, apkg)

    assert counts(again) == summary(duplicate=4)  # "duplicate" == unchanged, left alone
    assert (col.note_count(), col.card_count()) == (4, 5)
    assert schedule_snapshot(col) == before
    assert revlog_count(col) == reviews


def test_2_newer_mod_updates_in_place_and_keeps_scheduling(
    col: Collection, tmp_path: Path
) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    answer_due_cards(col, 4)
    before, reviews = schedule_snapshot(col), revlog_count(col)
    note_id = note_by_guid(col, G_CF).id
    assert reviews == 4

    result = import_apkg(col, write_deck(tmp_path / "v2.apkg", T0 + 100, cf_back="2 MB (edited)"))

    # Anki compares mod, not contents: the 3 unchanged notes with a newer mod are "updated" too.
    assert counts(result) == summary(updated=4)
    note = note_by_guid(col, G_CF)
    assert (note.id, note["Back"], note.mod) == (note_id, "2 MB (edited)", T0 + 100)
    assert (col.note_count(), col.card_count()) == (4, 5)
    assert schedule_snapshot(col) == before
    assert revlog_count(col) == reviews


def test_3_not_newer_mod_keeps_the_learners_edit(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    answer_due_cards(col, 4)
    edit_note(col, G_CF, "Back", "2 MB (learner)")
    edited_mod = note_by_guid(col, G_CF).mod
    before, reviews = schedule_snapshot(col), revlog_count(col)

    # Package mod EQUAL to the edited note's mod: not updated (others had T0, so they are).
    equal = import_apkg(col, write_deck(tmp_path / "eq.apkg", edited_mod, cf_back="3 MB"))
    assert counts(equal) == summary(updated=3, duplicate=1)
    assert note_by_guid(col, G_CF)["Back"] == "2 MB (learner)"

    # Package mod SMALLER than every note's mod now: nothing updated.
    older = import_apkg(col, write_deck(tmp_path / "lt.apkg", edited_mod - 1, cf_back="3 MB"))
    assert counts(older) == summary(duplicate=4)
    assert note_by_guid(col, G_CF)["Back"] == "2 MB (learner)"
    assert schedule_snapshot(col) == before
    assert revlog_count(col) == reviews

    # Strictly newer: the package wins and the learner's edit is overwritten.
    newer = import_apkg(col, write_deck(tmp_path / "gt.apkg", edited_mod + 1, cf_back="3 MB"))
    assert counts(newer) == summary(updated=4)
    assert note_by_guid(col, G_CF)["Back"] == "3 MB"
    assert schedule_snapshot(col) == before


def test_4_new_cloze_deletion_adds_a_card_and_keeps_c1(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    answer_everything(col)
    before, reviews = schedule_snapshot(col), revlog_count(col)
    assert before[(G_CLOZE_ONE, 0)].reps > 0

    result = import_apkg(
        col, write_deck(tmp_path / "v2.apkg", T0 + 100, cloze_one=CLOZE_ONE_TWO_DELETIONS)
    )

    assert counts(result) == summary(updated=4)
    assert (col.note_count(), col.card_count()) == (4, 6)
    after = schedule_snapshot(col)
    assert {k: v for k, v in after.items() if k in before} == before
    c2 = after[(G_CLOZE_ONE, 1)]
    assert (c2.card_type, c2.queue, c2.reps, c2.lapses) == (0, 0, 0, 0)  # a new card
    assert revlog_count(col) == reviews
    rendered = {(c.guid, c.ord): c for c in rendered_cards(col)}
    assert rendered[(G_CLOZE_ONE, 1)].question_text == "Lambda functions are serverless and [...]"
    assert rendered[(G_CLOZE_ONE, 1)].deck == DECK_NAME


def _restyled_basic(css: str = ".card { color: navy; }") -> genanki.Model:
    template = dict(BASIC_TEMPLATE, qfmt="<div class=q>Q: {{Front}}</div>")
    return genanki.Model(BASIC_ID, BASIC_NAME, fields=BASIC_FIELDS, templates=[template], css=css)


def test_5a_newer_notetype_template_and_css_update_in_place(
    col: Collection, tmp_path: Path
) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    answer_due_cards(col, 3)
    before, notetypes, schema = schedule_snapshot(col), harness_notetypes(col), scm(col)

    result = import_apkg(col, write_deck(tmp_path / "v2.apkg", T0 + 100, basic=_restyled_basic()))

    assert counts(result) == summary(updated=4)
    assert harness_notetypes(col) == notetypes  # same ids, no new notetype
    model = col.models.get(BASIC_ID)  # type: ignore[arg-type]
    assert model is not None
    assert model["css"] == ".card { color: navy; }"
    assert model["tmpls"][0]["qfmt"] == "<div class=q>Q: {{Front}}</div>"
    assert model["mod"] == T0 + 100
    assert [f["name"] for f in model["flds"]] == ["Front", "Back"]
    assert scm(col) == schema  # no forced full sync
    assert schedule_snapshot(col) == before
    rendered = {(c.guid, c.ord): c for c in rendered_cards(col)}
    assert rendered[(G_CF, 0)].question_text == "Q: CloudFront Functions › Maximum memory"


@pytest.mark.parametrize("delta", [0, -100])
def test_5b_not_newer_notetype_change_is_ignored(
    col: Collection, tmp_path: Path, delta: int
) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    notetypes = harness_notetypes(col)

    result = import_apkg(col, write_deck(tmp_path / "v2.apkg", T0 + delta, basic=_restyled_basic()))

    assert counts(result) == summary(duplicate=4)
    assert harness_notetypes(col) == notetypes
    model = col.models.get(BASIC_ID)  # type: ignore[arg-type]
    assert model is not None
    assert (model["css"], model["tmpls"][0]["qfmt"], model["mod"]) == (BASIC_CSS, "{{Front}}", T0)


def test_5c_changed_field_list_adds_a_new_notetype_and_conflicts(
    col: Collection, tmp_path: Path
) -> None:
    import_apkg(col, write_deck(tmp_path / "v1.apkg", T0))
    answer_due_cards(col, 3)
    before, schema = schedule_snapshot(col), scm(col)
    three_fields = genanki.Model(
        BASIC_ID,
        BASIC_NAME,
        fields=BASIC_FIELDS + [{"name": "Source"}],
        templates=[BASIC_TEMPLATE],
        css=BASIC_CSS,
    )
    apkg = write_deck(
        tmp_path / "v2.apkg",
        T0 + 100,
        basic=three_fields,
        extra_basic_notes=(("harness-basic-new", ["New fact", "new", "notes.md:3"]),),
    )

    result = import_apkg(col, apkg)

    # Existing basic notes are "conflicting" (left alone), cloze notes update, the new note is
    # added with a NEW notetype; the released notetype is untouched and nothing fails.
    assert counts(result) == summary(new=1, updated=2, conflicting=2, found=5)
    notetypes = harness_notetypes(col)
    assert len(notetypes) == 3
    extra_id = next(i for i in notetypes if i not in (BASIC_ID, CLOZE_ID))
    assert notetypes[extra_id].startswith(BASIC_NAME) and notetypes[extra_id] != BASIC_NAME
    original = col.models.get(BASIC_ID)  # type: ignore[arg-type]
    assert original is not None and [f["name"] for f in original["flds"]] == ["Front", "Back"]
    assert note_by_guid(col, G_CF).mid == BASIC_ID
    assert note_by_guid(col, "harness-basic-new").mid == extra_id
    assert scm(col) == schema
    assert {k: v for k, v in schedule_snapshot(col).items() if k in before} == before


def test_deflated_zip_imports_like_genankis_stored_zip(tmp_path: Path) -> None:
    stored = write_deck(tmp_path / "stored.apkg", T0)
    deflated = tmp_path / "deflated.apkg"
    with zipfile.ZipFile(stored) as zin:
        assert {i.compress_type for i in zin.infolist()} == {zipfile.ZIP_STORED}
        with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, zin.read(info.filename))
    assert deflated.stat().st_size < stored.stat().st_size / 2

    results: list[tuple[tuple[int, ...], list[tuple[str, int, str, str]]]] = []
    for name, apkg in (("s", stored), ("d", deflated)):
        with open_collection(tmp_path / name) as collection:
            result = import_apkg(collection, apkg)
            cards = [(c.guid, c.ord, c.question_text, c.answer_text) for c in rendered_cards(collection)]
            results.append((counts(result), sorted(cards)))
    assert results[0] == results[1]
    assert results[0][0] == summary(new=4)


def test_card_schedule_is_keyed_by_guid_and_ord(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, write_deck(tmp_path / "deck.apkg", T0))
    snap = schedule_snapshot(col)
    assert set(snap) == {(G_CF, 0), (G_LAMBDA, 0), (G_CLOZE_ONE, 0), (G_CLOZE_TWO, 0), (G_CLOZE_TWO, 1)}
    assert snap[(G_CF, 0)] == CardSchedule(
        guid=G_CF, ord=0, card_type=0, queue=0, due=0, ivl=0, factor=0, reps=0, lapses=0
    )

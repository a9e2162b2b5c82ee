"""The package writer inserts notes and cards itself: its collection must equal what genanki writes.

The reference is genanki's own path (one `genanki.Note` per note, `Package.write_to_db`) followed
by the same note and note-type modification times the writer sets.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import genanki
import pytest

import aws_anki
from aws_anki.errors import PackageError
from aws_anki.models import BASIC_MODEL_ID, basic_type, cloze_type
from aws_anki.notes import CardNote
from aws_anki.outputs import replace_together
from aws_anki.package import _genanki_model, _set_model_mods, deck_id, stage_package
from aws_anki.options import DeckOptions, RunOptions
from decks import importer_view as _importer_view

CREATED = 1_700_000_000


def write_package(notes: Sequence[CardNote], path: Path, **times: Any) -> None:
    """Stage the deck and rename it into place, as a build does."""
    replace_together([(stage_package(notes, path, **times), path)], "deck")


@pytest.fixture(scope="module")
def bundled() -> tuple[CardNote, ...]:
    """The bundled notes, built as a user builds them."""
    return aws_anki.build_deck(None, run=RunOptions(use_cache=False, jobs=1)).notes


@pytest.fixture(scope="module")
def bundled_reverse() -> tuple[CardNote, ...]:
    """The bundled notes with a reverse card on every definition, in one deck per service."""
    return aws_anki.build_deck(None, DeckOptions(reverse="all", deck_by="service"), RunOptions(use_cache=False, jobs=1)).notes


def _reference_db(notes: Sequence[CardNote], path: Path, note_mods: Mapping[str, int], model_mods: Mapping[int, int]) -> Path:
    """The collection genanki writes for `notes`, with the same modification times set afterwards."""
    models = {t.name: _genanki_model(genanki, t) for t in (basic_type(), cloze_type())}
    decks: dict[str, Any] = {}
    for note in notes:
        deck = decks.setdefault(note.deck, genanki.Deck(deck_id(note.deck), note.deck))
        model = models[basic_type().name if note.note_type == "basic" else cloze_type().name]
        deck.add_note(genanki.Note(model=model, fields=list(note.fields), tags=list(note.tags), guid=note.guid))
    connection = sqlite3.connect(path)
    cursor = connection.cursor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        genanki.Package(list(decks.values())).write_to_db(cursor, CREATED, itertools.count(CREATED * 1000))
    rows = cursor.execute("SELECT id, guid FROM notes").fetchall()
    cursor.executemany("UPDATE notes SET mod = ? WHERE id = ?", [(note_mods.get(guid, CREATED), nid) for nid, guid in rows])
    _set_model_mods(cursor, model_mods, CREATED)
    connection.commit()
    connection.close()
    return path


def _written_db(notes: Sequence[CardNote], tmp_path: Path, note_mods: Mapping[str, int], model_mods: Mapping[int, int]) -> Path:
    """The collection inside the `.apkg` the writer makes for `notes`."""
    apkg = tmp_path / "deck.apkg"
    write_package(notes, apkg, note_mods=note_mods, model_mods=model_mods, created=CREATED)
    with zipfile.ZipFile(apkg) as archive:
        assert archive.testzip() is None
        assert archive.getinfo("collection.anki2").compress_type == zipfile.ZIP_DEFLATED  # genanki stores it
        archive.extract("collection.anki2", tmp_path / "ours")
    return tmp_path / "ours" / "collection.anki2"


def _contents(database: Path) -> dict[str, Any]:
    """Everything in a collection that Anki reads, with the JSON columns parsed."""
    connection = sqlite3.connect(database)
    try:
        col = connection.execute("SELECT * FROM col").fetchall()
        assert len(col) == 1
        columns = [d[1] for d in connection.execute("PRAGMA table_info(col)")]
        row = dict(zip(columns, col[0]))
        for name in ("conf", "models", "decks", "dconf", "tags"):
            row[name] = json.loads(row[name])
        return {
            "col": row,
            # typeof() too: `sfld` is declared integer, so a numeric sort field is stored as a number.
            "notes": connection.execute("SELECT *, typeof(sfld) FROM notes ORDER BY id").fetchall(),
            "cards": connection.execute("SELECT * FROM cards ORDER BY id").fetchall(),
            "revlog": connection.execute("SELECT * FROM revlog").fetchall(),
            "graves": connection.execute("SELECT * FROM graves").fetchall(),
            "schema": sorted(connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()),
        }
    finally:
        connection.close()


def _assert_same_collection(notes: Sequence[CardNote], tmp_path: Path, note_mods: Mapping[str, int] | None = None) -> dict[str, Any]:
    note_mods = note_mods if note_mods is not None else {}
    model_mods = {BASIC_MODEL_ID: CREATED - 500}
    ours = _contents(_written_db(notes, tmp_path, note_mods, model_mods))
    reference = _contents(_reference_db(notes, tmp_path / "reference.anki2", note_mods, model_mods))
    assert ours["notes"] == reference["notes"]
    assert ours["cards"] == reference["cards"]
    assert ours["col"]["models"] == reference["col"]["models"]
    assert ours["col"]["decks"] == reference["col"]["decks"]
    assert ours == reference
    return ours


def _mods(notes: Sequence[CardNote]) -> dict[str, int]:
    """Distinct modification times for every other note; the rest keep the build time."""
    return {note.guid: CREATED - 1000 - i for i, note in enumerate(notes) if i % 2}


def test_bundled_deck_equals_genanki(bundled: tuple[CardNote, ...], tmp_path: Path) -> None:
    ours = _assert_same_collection(bundled, tmp_path, _mods(bundled))
    assert len(ours["notes"]) == len(bundled)
    assert {note[1]: note[3] for note in ours["notes"]} == {n.guid: _mods(bundled).get(n.guid, CREATED) for n in bundled}
    assert ours["col"]["models"][str(BASIC_MODEL_ID)]["mod"] == CREATED - 500
    # cloze notes with several deletions (the bundled notes ask one or two facts per line; more
    # ordinals, unsorted ones and gaps are in test_edge_cases_equal_genanki)
    assert {card[3] for card in ours["cards"]} >= {0, 1}


def test_reverse_cards_and_many_decks_equal_genanki(bundled_reverse: tuple[CardNote, ...], tmp_path: Path) -> None:
    ours = _assert_same_collection(bundled_reverse, tmp_path, _mods(bundled_reverse))
    basic = {row[0] for row in ours["notes"] if row[2] == BASIC_MODEL_ID}
    reverse = [card for card in ours["cards"] if card[1] in basic and card[3] == 1]
    assert reverse and len(reverse) == sum(1 for n in bundled_reverse if n.note_type == "basic" and n.fields[-1])
    assert len({card[2] for card in ours["cards"]}) > 3  # cards in their own decks
    assert len(ours["col"]["decks"]) == len({n.deck for n in bundled_reverse}) + 1  # and "Default"


def test_edge_cases_equal_genanki(bundled: tuple[CardNote, ...], tmp_path: Path) -> None:
    basic = next(n for n in bundled if n.note_type == "basic")
    cloze = next(n for n in bundled if n.note_type == "cloze")

    def basic_note(guid: str, front: str, context: str, reverse: str, deck: str = "AWS", tags: tuple[str, ...] = ("t",)) -> CardNote:
        fields = (front, "back", context, "", "src.md:1", reverse)
        return dataclasses.replace(basic, guid=guid, fields=fields, deck=deck, tags=tags)

    def cloze_note(guid: str, text: str, deck: str = "AWS") -> CardNote:
        return dataclasses.replace(cloze, guid=guid, fields=(text, "ctx", "", "src.md:2"), deck=deck)

    notes = [
        basic_note("b1", "term", "ctx", "1"),
        basic_note("b2", "", "", "1"),  # no question on the first card: genanki writes only the reverse
        basic_note("b3", "", "ctx", "", tags=()),  # no tags at all
        basic_note("b4", "1234", "ctx", "", deck="Other::Deck"),  # a numeric sort field
        cloze_note("c1", "{{c1::a}} {{c3::b}} {{c10::c}} {{c2::d}} {{c1::e}} {{c9::f}}", deck="Other::Deck"),
        # Card IDs follow genanki's iteration of a set of ords, which here is not sorted: [32, 0].
        cloze_note("c4", "{{c33::late}} {{c1::early}}"),
        cloze_note("c2", "no deletion at all"),  # genanki writes no card for it
        cloze_note("c3", "{{c0::zero}} {{c2::multi\nline}} {{c4::}}"),
        basic_note("b5", "last", "ctx", "1", deck="Third"),
    ]
    ours = _assert_same_collection(notes, tmp_path, {"b1": 5, "c1": 7})
    cards = {(row[1], row[3]) for row in ours["cards"]}
    ids = {row[1]: row[0] for row in ours["notes"]}
    assert {ord_ for nid, ord_ in cards if nid == ids["c1"]} == {0, 1, 2, 8, 9}
    assert not any(nid == ids["c2"] for nid, _ in cards)
    assert [row[3] for row in ours["cards"] if row[1] == ids["c4"]] == [32, 0]
    assert {ord_ for nid, ord_ in cards if nid == ids["b2"]} == {1}
    assert next(row for row in ours["notes"] if row[1] == "b3")[5] == "  "


def test_no_notes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PackageError):
        write_package([], tmp_path / "deck.apkg", note_mods={}, model_mods={}, created=CREATED)
    assert not list(tmp_path.iterdir())


def test_a_tag_with_a_space_is_refused_as_genanki_refuses_it(bundled: tuple[CardNote, ...], tmp_path: Path) -> None:
    note = dataclasses.replace(bundled[0], tags=("two words",))
    with pytest.raises(ValueError):
        write_package([note], tmp_path / "deck.apkg", note_mods={}, model_mods={}, created=CREATED)
    assert not list(tmp_path.iterdir())

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
from aws_anki.package import _genanki_model, _set_model_mods, deck_id, write_package
from decks import importer_view as _importer_view

CREATED = 1_700_000_000


@pytest.fixture(scope="module")
def bundled() -> tuple[CardNote, ...]:
    """The bundled notes, built as a user builds them."""
    return aws_anki.build_deck(use_cache=False, jobs=1).notes


@pytest.fixture(scope="module")
def bundled_reverse() -> tuple[CardNote, ...]:
    """The bundled notes with a reverse card on every definition, in one deck per service."""
    return aws_anki.build_deck(use_cache=False, jobs=1, reverse="all", deck_by="service").notes


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
    assert {card[3] for card in ours["cards"]} >= {0, 1, 2}  # cloze notes with several deletions


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


# A collection kept between builds and updated in place -----------------------------------------


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_updating_the_kept_collection_equals_writing_a_new_one(vault: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_anki import package

    bundled_notes = aws_anki.build.bundled_notes()
    for name in ("compute/ec2.md", "storage/s3.md", "database/dynamodb.md"):
        if (bundled_notes / name).is_file():
            (vault / "bundled" / name).parent.mkdir(parents=True, exist_ok=True)
            (vault / "bundled" / name).write_bytes((bundled_notes / name).read_bytes())
    out, cache = tmp_path / "out" / "deck.apkg", tmp_path / "cache"
    first = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_000)
    assert first.result is not None and first.report.notes > 15

    lambda_md = vault / "compute" / "lambda.md"
    _edit(lambda_md, "15 minutes", "15 minutes (900 seconds)")  # a definition changes
    _edit(lambda_md, "1 ms increments", "1 **ms** increments")  # a cloze gains a deletion (a card)
    _edit(lambda_md, "\n# AWS Lambda\n", "\n# AWS Lambda\n\nSome words that make no card.\n")  # facts move down
    (vault / "compute" / "batch.md").write_text("# AWS Batch\n\n- **Job queue**: where submitted jobs wait\n")
    ec2 = vault / "bundled" / "compute" / "ec2.md"
    kept = [line for line in ec2.read_text().split("\n") if "**" not in line or "Spot" not in line]
    assert len(kept) < len(ec2.read_text().split("\n"))
    ec2.write_text("\n".join(kept))  # facts are deleted
    reference = tmp_path / "reference" / "deck.apkg"
    reference.parent.mkdir()
    reference.with_name("deck.apkg.lock.json").write_bytes(out.with_name("deck.apkg.lock.json").read_bytes())

    calls: list[int] = []
    update = package._update_collection
    monkeypatch.setattr(package, "_update_collection", lambda *a, **k: calls.append(1) or update(*a, **k))
    second = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_100)
    assert calls == [1]  # updated in place ...
    changes = second.written.changes
    assert changes.added and changes.updated and changes.removed
    full = aws_anki.build_deck([vault], use_cache=False, jobs=1).write(reference, now=1_800_000_100)
    assert full.changes == changes
    # ... to exactly what a new collection holds.
    assert _importer_view(out, tmp_path / "a") == _importer_view(reference, tmp_path / "b")

    # The build after it starts from the updated collection again.
    _edit(lambda_md, "15 minutes (900 seconds)", "15 minutes")
    third = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_200)
    assert calls == [1, 1] and len(third.written.changes.updated) == 1
    aws_anki.build_deck([vault], use_cache=False, jobs=1).write(reference, now=1_800_000_200)
    assert _importer_view(out, tmp_path / "c") == _importer_view(reference, tmp_path / "d")


def test_a_touched_deck_or_a_new_layout_gets_a_new_collection(vault: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_anki import package

    out, cache = tmp_path / "deck.apkg", tmp_path / "cache"
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_000)
    calls: list[int] = []
    update = package._update_collection
    monkeypatch.setattr(package, "_update_collection", lambda *a, **k: calls.append(1) or update(*a, **k))
    lambda_md = vault / "compute" / "lambda.md"
    _edit(lambda_md, "15 minutes", "16 minutes")
    out.write_bytes(out.read_bytes())  # the deck was copied over: its collection is not known to be ours
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_100)
    assert calls == []
    _edit(lambda_md, "16 minutes", "17 minutes")
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_200, deck_by="file")  # new decks
    assert calls == []
    reference = tmp_path / "reference.apkg"
    reference.with_name("reference.apkg.lock.json").write_bytes(out.with_name("deck.apkg.lock.json").read_bytes())
    _edit(lambda_md, "17 minutes", "18 minutes")
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_300, deck_by="file")
    assert calls == [1]
    aws_anki.build_deck([vault], use_cache=False, jobs=1, deck_by="file").write(reference, now=1_800_000_300)
    assert _importer_view(out, tmp_path / "a") == _importer_view(reference, tmp_path / "b")


def test_a_kept_collection_another_build_holds_is_left_alone(vault: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fcntl = pytest.importorskip("fcntl")
    from aws_anki import package
    from aws_anki.uptodate import kept_path

    out, cache = tmp_path / "deck.apkg", tmp_path / "cache"
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_000)
    calls: list[int] = []
    update = package._update_collection
    monkeypatch.setattr(package, "_update_collection", lambda *a, **k: calls.append(1) or update(*a, **k))
    kept = kept_path(cache, out)
    before = kept.read_bytes()
    lambda_md = vault / "compute" / "lambda.md"
    with open(kept.with_name(kept.name + ".lock"), "wb") as other_build:
        fcntl.flock(other_build, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _edit(lambda_md, "15 minutes", "16 minutes")
        busy = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_100)
        assert calls == [] and kept.read_bytes() == before  # not touched while the other build holds it
    assert len(busy.written.changes.updated) == 1
    reference = tmp_path / "reference.apkg"
    aws_anki.build_deck([vault], use_cache=False, jobs=1).write(reference, use_state=False, now=1_800_000_100)
    assert {g for g, *_ in _importer_view(out, tmp_path / "a")[1]} == {g for g, *_ in _importer_view(reference, tmp_path / "b")[1]}
    # The lock is free again: the next build writes a collection to keep, the one after updates it.
    _edit(lambda_md, "16 minutes", "17 minutes")
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_200)
    _edit(lambda_md, "17 minutes", "18 minutes")
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_300)
    assert calls == [1]


def test_rows_taken_from_the_kept_collection_stay_exact(vault: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A note whose state record is unchanged keeps its kept row digest (not computed again) unless
    a merge changes its Source field or the note options changed: each case equals a new collection."""
    from aws_anki import package

    digested: list[str] = []
    digest = package._digest
    monkeypatch.setattr(package, "_digest", lambda note, mod: digested.append(note.guid) or digest(note, mod))
    out, cache = tmp_path / "deck.apkg", tmp_path / "cache"
    # The copy comes after lambda.md, so the merged note keeps lambda.md's fact as its first source:
    # its state record stays the same while its Source field lists the copy, or not.
    lambda_md, copy = vault / "compute" / "lambda.md", vault / "zz" / "lambda-copy.md"
    copy.parent.mkdir()
    copy.write_text("# AWS Lambda\n\n- **Maximum timeout**: 15 minutes\n", encoding="utf-8")  # a duplicate fact
    first = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_000)
    assert first.report.merged == 1
    steps: list[tuple[str, Any, dict[str, Any]]] = [
        ("an unrelated edit", lambda: _edit(lambda_md, "128 MB", "256 MB"), {}),
        ("the duplicate is deleted", copy.unlink, {}),
        ("the duplicate is back", lambda: copy.write_text("# AWS Lambda\n\n- **Maximum timeout**: 15 minutes\n"), {}),
        ("file tags are turned off", lambda: None, {"file_tags": False}),
        ("an edit without file tags", lambda: _edit(lambda_md, "256 MB", "512 MB"), {"file_tags": False}),
    ]
    for number, (what, change, options) in enumerate(steps, start=1):
        change()
        now = 1_800_000_000 + 100 * number
        reference = tmp_path / f"reference-{number}" / "deck.apkg"
        reference.parent.mkdir()
        reference.with_name("deck.apkg.lock.json").write_bytes(out.with_name("deck.apkg.lock.json").read_bytes())
        digested.clear()
        built = aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=now, **options)
        aws_anki.build_deck([vault], use_cache=False, jobs=1, **options).write(reference, now=now)
        assert _importer_view(out, tmp_path / f"a{number}") == _importer_view(reference, tmp_path / f"b{number}"), what
        if what == "an unrelated edit":  # only the edited note's and the merged note's digests are computed
            assert built.result is not None and len(built.written.changes.updated) == 1
            merged = {n.guid for n in built.result.notes if n.merged_sources}
            assert len(merged) == 1 and sorted(digested) == sorted({*built.written.changes.updated, *merged})

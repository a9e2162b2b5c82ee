"""Package stage: write notes and media to an `.apkg` that Anki imports (atomically, compressed).

genanki writes the collection schema and the `col` row: the note types (with the `req` list it
computes by rendering the templates) and the decks. The notes and cards we insert ourselves, with
one `executemany` each: genanki makes an object per note and inserts row by row, which was most of
the time of writing a deck. The rows are the ones genanki would write (same IDs from the same
counter in the same order, same cards: see `_card_ords`), except that each note carries its own
modification time (Anki updates a note on import only when the package's note is strictly newer).
Each note type's modification time (it moves only when templates or CSS change) is then set in
the `col` row. tests/test_package_writer.py checks the collection against genanki's, row by row.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import genanki

from .errors import PackageError
from .models import NoteType, basic_type, cloze_type
from .notes import CardNote
from .outputs import staging, temporary

# Measured on 48,000 notes (a 28 MB collection): level 1 deflates in 0.18 s, level 6 in 0.5 s, for
# a package 10% larger (21% of the size of genanki's uncompressed default, against 19%).
COMPRESS_LEVEL = 1

# genanki's own patterns, copied so that the cards written are the ones genanki would write: the
# fields a cloze template deletes from, and a deletion as genanki reads it (not as Anki does: see `cloze`).
_CLOZE_FIELD = re.compile(r"{{[^}]*?cloze:(?:[^}]?:)*(.+?)}}")
_CLOZE_FIELD_OLD = re.compile(r"<%cloze:(.+?)%>")
_CLOZE_NUMBER = re.compile(r"{{c(\d+)::.+?}}", re.DOTALL)

NoteRow = tuple[int, str, int, int, int, str, str, str, int, int, str]
CardRow = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, str]
CardOrds = Callable[[Sequence[str]], Iterator[int]]


def deck_id(name: str) -> int:
    """A stable deck ID for a deck name (Anki matches decks by name; the ID only has to be stable)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:6], "big") | 1 << 40


def stage_package(
    notes: Sequence[CardNote],
    path: Path,
    *,
    note_mods: Mapping[str, int],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None = None,
) -> Path:
    """Write the `.apkg` meant for `path` into a temporary file beside it (on disk, readable as any
    new file) and return that file: renaming it into place is the caller's (`outputs.replace_together`)."""
    by_type = _models(genanki)
    # genanki writes deck by deck, each deck's notes in order: the IDs below follow the same order.
    by_deck: dict[str, list[CardNote]] = {}
    for note in notes:
        by_deck.setdefault(note.deck, []).append(note)
    if not by_deck:
        raise PackageError("no notes to write: the notes gave no facts (run `aws-anki inspect --stats` to see why)")
    _check_notes(notes, by_type)
    decks = []
    for name, members in by_deck.items():
        deck = genanki.Deck(deck_id(name), name)
        # A note type's `did` is the last deck that uses it, as when genanki adds the notes.
        for note_type in dict.fromkeys(note.note_type for note in members):
            deck.add_model(by_type[note_type])
        decks.append(deck)

    def fill(cursor: sqlite3.Cursor) -> None:
        _fill_collection(cursor, genanki, decks, by_deck, by_type, note_mods=note_mods, created=created)
        _set_model_mods(cursor, model_mods, created)

    return _stage(Path(path), fill, media_files or {})


def _models(genanki: Any) -> dict[str, Any]:
    return {"basic": _genanki_model(genanki, basic_type()), "cloze": _genanki_model(genanki, cloze_type())}


def _stage(path: Path, fill: Callable[[sqlite3.Cursor], None], media_files: Mapping[str, Path]) -> Path:
    """Make the collection in a temporary file with `fill`, then the package with the media in
    another, beside `path`; returns the package, on disk. PackageError naming `path` on failure,
    and no temporary file is left behind."""
    database: Path | None = None
    with staging(path, ".apkg.part", "deck") as staged:
        try:
            database = temporary(path, ".anki2")
            database.unlink()  # sqlite makes it anew
            connection = sqlite3.connect(database)
            try:
                # A file that becomes part of the deck only after success: no journal, no syncs.
                connection.execute("PRAGMA journal_mode = OFF")
                connection.execute("PRAGMA synchronous = OFF")
                fill(connection.cursor())
                connection.commit()
            finally:
                connection.close()
            names = sorted(media_files.items())
            with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
                archive.write(database, "collection.anki2")
                archive.writestr("media", json.dumps({str(i): name for i, (name, _) in enumerate(names)}))
                for index, (_, source) in enumerate(names):
                    # Images are already compressed; storing them saves time and nothing else.
                    archive.write(source, str(index), compress_type=zipfile.ZIP_STORED)
        except sqlite3.Error as error:
            raise PackageError(f"{path}: could not write the deck: {error}") from error
        finally:
            if database is not None:
                database.unlink(missing_ok=True)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # the data is on disk before the rename makes it the deck
    return staged


def _fill_collection(
    cursor: sqlite3.Cursor,
    genanki: Any,
    decks: Sequence[Any],
    by_deck: Mapping[str, Sequence[CardNote]],
    by_type: Mapping[str, Any],
    *,
    note_mods: Mapping[str, int],
    created: int,
) -> None:
    """Write a new collection: schema and `col` row by genanki, then every note and card."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The decks hold no notes, so genanki writes only the schema and the `col` row.
        genanki.Package(decks).write_to_db(cursor, created, itertools.count(created * 1000))
    # Filling the tables first and indexing them after is a quarter faster than keeping the
    # indexes up to date row by row; the indexes end up the same.
    indexes = cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('notes', 'cards')"
    ).fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    # Rows are made as SQLite takes them: a list of them would hold a second copy of the deck.
    rows = _note_and_card_rows(by_deck, by_type, note_mods=note_mods, created=created)
    cursor.executemany("INSERT INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows.notes())
    cursor.executemany("INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows.cards())
    for _, sql in indexes:
        cursor.execute(sql)


def _note_types(by_type: Mapping[str, Any]) -> dict[str, tuple[int, int, CardOrds]]:
    """Per note type: its model ID, sort field, and which cards a note of it has."""
    return {name: (model.model_id, model.sort_field_index, _card_ords(model)) for name, model in by_type.items()}


def _note_row(nid: int, note: CardNote, model_id: int, sort_field: int, mod: int) -> NoteRow:
    """A `notes` row as genanki writes it, but with the note's own `mod`."""
    fields = note.fields
    return (nid, note.guid, model_id, mod, -1, f" {' '.join(note.tags)} ", "\x1f".join(fields), fields[sort_field], 0, 0, "")


def _card_row(cid: int, nid: int, did: int, ord_: int, created: int) -> CardRow:
    """A `cards` row as genanki writes it: a new card."""
    return (cid, nid, did, ord_, created, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")


def _check_notes(notes: Sequence[CardNote], models: Mapping[str, Any]) -> None:
    """Refuse notes genanki would refuse (before any file is made): wrong field count, spaced tags."""
    counts = {note_type: len(model.fields) for note_type, model in models.items()}
    for note in notes:
        if len(note.fields) != counts[note.note_type]:
            raise ValueError(f"note {note.guid} has {len(note.fields)} fields, its note type {counts[note.note_type]}")
        if any(" " in tag for tag in note.tags):
            raise ValueError(f"note {note.guid} has a tag with a space: {note.tags!r}")


@dataclass(frozen=True)
class _Rows:
    """The `notes` and `cards` rows genanki would insert (deck by deck), but with each note's own
    `mod`; each a generator over the notes in the same order, with IDs from the same counter."""

    by_deck: Mapping[str, Sequence[CardNote]]
    types: Mapping[str, tuple[int, int, CardOrds]]  # note type -> model ID, sort field, card ords
    note_mods: Mapping[str, int]
    created: int
    ords: list[tuple[int, ...]] = field(default_factory=list)  # each note's card ords, as notes() made them

    def notes(self) -> Iterator[NoteRow]:
        """The rows of the `notes` table (run before `cards`)."""
        ids = itertools.count(self.created * 1000)  # genanki's counter: a note's ID, then its cards' IDs
        created, mods, keep = self.created, self.note_mods, self.ords.append
        for members in self.by_deck.values():
            for note in members:
                model_id, sort_field, card_ords = self.types[note.note_type]
                nid = next(ids)
                ords = tuple(card_ords(note.fields))
                keep(ords)
                for _ in ords:
                    next(ids)
                yield _note_row(nid, note, model_id, sort_field, mods.get(note.guid, created))

    def cards(self) -> Iterator[CardRow]:
        """The rows of the `cards` table."""
        ids = itertools.count(self.created * 1000)
        created, ords = self.created, iter(self.ords)
        for name, members in self.by_deck.items():
            did = deck_id(name)
            for _ in members:
                nid = next(ids)
                for ord_ in next(ords):
                    yield _card_row(next(ids), nid, did, ord_, created)


def _note_and_card_rows(
    by_deck: Mapping[str, Sequence[CardNote]],
    models: Mapping[str, Any],
    *,
    note_mods: Mapping[str, int],
    created: int,
) -> _Rows:
    """The rows to insert, made lazily (see `_Rows`)."""
    return _Rows(by_deck, _note_types(models), note_mods, created)


def _card_ords(model: Any) -> CardOrds:
    """Which cards a note of `model` has, decided as genanki decides it."""
    if model.model_type == model.CLOZE:
        # One card per deletion number in the fields the first template deletes from. With none,
        # genanki writes no card (its fallback compares a set with `{}`, which is never equal).
        question = model.templates[0]["qfmt"]
        names = set(_CLOZE_FIELD.findall(question) + _CLOZE_FIELD_OLD.findall(question))
        positions = {f["name"]: i for i, f in enumerate(model.fields)}
        sources = [positions.get(name, -1) for name in names]

        def cloze_ords(fields: Sequence[str]) -> Iterator[int]:
            ords: set[int] = set()
            for index in sources:
                value = fields[index] if index >= 0 else ""
                ords.update(int(n) - 1 for n in _CLOZE_NUMBER.findall(value) if int(n) > 0)
            return iter(ords)  # a set, iterated as genanki iterates it: card IDs follow this order

        return cloze_ords
    # Front/back: genanki's `req` (computed once per model by rendering the templates) says which
    # fields must be non-empty, all or any of them, for each template's card to exist.
    rules = [(ord_, all if mode == "all" else any, tuple(indexes)) for ord_, mode, indexes in model._req]

    def front_back_ords(fields: Sequence[str]) -> Iterator[int]:
        return (ord_ for ord_, test, indexes in rules if test([fields[i] for i in indexes]))

    return front_back_ords


def _genanki_model(genanki: Any, note_type: NoteType) -> Any:
    return genanki.Model(
        note_type.model_id,
        note_type.name,
        fields=[{"name": name} for name in note_type.fields],
        templates=[{"name": name, "qfmt": front, "afmt": back} for name, front, back in note_type.templates],
        css=note_type.css,
        model_type=genanki.Model.CLOZE if note_type.is_cloze else genanki.Model.FRONT_BACK,
        sort_field_index=0,
    )


def _set_model_mods(cursor: sqlite3.Cursor, model_mods: Mapping[int, int], created: int) -> None:
    (raw,) = cursor.execute("SELECT models FROM col").fetchone()
    models = json.loads(raw)
    for model_id, model in models.items():
        model["mod"] = model_mods.get(int(model_id), created)
    cursor.execute("UPDATE col SET models = ?, crt = ?, mod = ?", (json.dumps(models), created, created * 1000))

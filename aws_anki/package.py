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
import tempfile
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .archive import ZipWriter
from .errors import PackageError
from .models import BASIC_FIELDS, CLOZE_FIELDS, NoteType, basic_type, cloze_type
from .notes import CardNote

# Measured on 48,000 notes (a 28 MB collection): level 1 deflates in 0.18 s, level 6 in 0.5 s, for
# a package 10% larger (21% of the size of genanki's uncompressed default, against 19%).
COMPRESS_LEVEL = 1

# genanki's own patterns: the fields a cloze template deletes from, and a deletion `{{cN::...}}`.
_CLOZE_FIELD = re.compile(r"{{[^}]*?cloze:(?:[^}]?:)*(.+?)}}")
_CLOZE_FIELD_OLD = re.compile(r"<%cloze:(.+?)%>")
_CLOZE_NUMBER = re.compile(r"{{c(\d+)::.+?}}", re.DOTALL)

NoteRow = tuple[int, str, int, int, int, str, str, str, int, int, str]
CardRow = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, str]
CardOrds = Callable[[Sequence[str]], Iterator[int]]


def deck_id(name: str) -> int:
    """A stable deck ID for a deck name (Anki matches decks by name; the ID only has to be stable)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:6], "big") | 1 << 40


@dataclass(frozen=True)
class KeptCollection:
    """The uncompressed collection inside the last deck written, kept (in the cache folder) so that
    the next write can update it in place instead of writing every note again."""

    path: Path
    notes: Mapping[str, tuple[int, str]]  # guid -> (note ID, digest of the note's row as written)
    layout: str  # decks, the note types each uses, and the note types' fingerprints
    # (size, mtime_ns) of the file when `notes` were known to describe it: updated in place only if
    # it still has them once locked (another build may have updated it since), None: not checked
    stamp: tuple[int, int] | None = None

    def unchanged(self) -> bool:
        """Whether the collection file is still the one `notes` describe (call it with the lock held)."""
        try:
            info = self.path.stat()
        except OSError:
            return False
        return self.stamp is None or (info.st_size, info.st_mtime_ns) == self.stamp


@dataclass(frozen=True)
class WrittenPackage:
    """What `write_package` wrote: the deck's size, and the collection kept for the next write."""

    size: int
    kept: KeptCollection | None


def write_package(
    notes: Sequence[CardNote],
    path: Path,
    *,
    note_mods: Mapping[str, int],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None = None,
    keep: Path | None = None,
    base: KeptCollection | None = None,
    same_records: Collection[str] = (),
    options: str = "",
) -> WrittenPackage:
    """Write the `.apkg` at `path` (temp file, then rename). With `keep`, its collection stays
    there for the next write; with `base` too (what the previous write kept there, checked by the
    caller to be the deck's current collection), only the notes that differ from it are written.

    `same_records` names notes whose build state record (identity, content hash, mod, source, type)
    is the one the build that wrote `base` left, and `options` the note options; with both the same
    as then, such a note's row is the same too unless its Source field lists merged duplicates, so
    its row digest is taken from `base` instead of computed (see `_digests`)."""
    import genanki  # costs ~150 ms to import; only a build that writes needs it

    by_type = _models(genanki)
    # genanki writes deck by deck, each deck's notes in order: the IDs below follow the same order.
    by_deck: dict[str, list[CardNote]] = {}
    for note in notes:
        by_deck.setdefault(note.deck, []).append(note)
    if not by_deck:
        raise PackageError("no notes to write: the notes gave no facts (run `aws-anki inspect --stats` to see why)")
    uses = {name: tuple(dict.fromkeys(note.note_type for note in members)) for name, members in by_deck.items()}
    layout = layout_of(uses, options)
    lock = _lock_kept(keep) if keep is not None else None
    if lock is None:
        keep = base = None  # another build holds the kept collection: this one writes its own, keeps none
    try:
        return _write(notes, Path(path), by_deck, by_type, uses, layout, genanki, note_mods=note_mods,
                      model_mods=model_mods, created=created, media_files=media_files, keep=keep, base=base,
                      same_records=same_records)
    finally:
        if lock is not None:
            lock.close()


def update_package(
    path: Path,
    *,
    base: KeptCollection,
    present: Mapping[str, str],
    stale: Sequence[CardNote],
    note_mods: Mapping[str, int],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None = None,
) -> WrittenPackage | None:
    """Write the `.apkg` at `path` by updating the kept collection `base` in place: the notes in
    `present` (GUID -> row digest) stay, the others go, and `stale` (the present notes whose rows
    differ from `base`'s, or are new) are written. What `write_package` does with `base` for notes
    whose decks and note types are those of `base`, for a caller that knows which notes changed
    without looking at the others (`aws_anki.incremental`). None when another build holds the
    kept collection, or it is gone or changed since `base` was read: nothing was written."""
    import genanki

    by_type = _models(genanki)
    lock = _lock_kept(base.path)
    if lock is None:
        return None
    try:
        if not base.unchanged():
            return None
        _check_notes(stale, by_type)
        size, note_ids = _store(
            Path(path), base.path, update=True, media_files=media_files, model_mods=model_mods, created=created,
            rows=lambda cursor: _update_collection(cursor, base, present, stale, by_type, note_mods=note_mods, created=created),
        )
    finally:
        lock.close()
    return WrittenPackage(size, KeptCollection(base.path, {guid: (note_ids[guid], d) for guid, d in present.items()}, base.layout))


def layout_of(uses: Mapping[str, Sequence[str]], options: str) -> str:
    """A kept collection's layout: its decks in order, the note types each uses in order, the note
    types' fingerprints and the note options. A collection is updated in place only for the same."""
    return json.dumps([[[deck, list(types)] for deck, types in uses.items()], basic_type().fingerprint,
                       cloze_type().fingerprint, options])


def _models(genanki: Any) -> dict[str, Any]:
    return {"basic": _genanki_model(genanki, basic_type()), "cloze": _genanki_model(genanki, cloze_type())}


def _write(
    notes: Sequence[CardNote],
    path: Path,
    by_deck: Mapping[str, Sequence[CardNote]],
    by_type: Mapping[str, Any],
    uses: Mapping[str, tuple[str, ...]],
    layout: str,
    genanki: Any,
    *,
    note_mods: Mapping[str, int],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None,
    keep: Path | None,
    base: KeptCollection | None,
    same_records: Collection[str],
) -> WrittenPackage:
    update = base is not None and keep is not None and base.path == keep and base.layout == layout and base.unchanged()
    digests = _digests(notes, note_mods, created, base.notes if update and base else {}, same_records) if keep else {}
    # The notes to write: all of them, or when updating in place those whose row would differ.
    stale = _stale(notes, digests, base.notes) if update and base else notes
    _check_notes(stale, by_type)

    def rows(cursor: sqlite3.Cursor) -> dict[str, int]:
        if update:
            assert base is not None
            return _update_collection(cursor, base, digests, stale, by_type, note_mods=note_mods, created=created)
        decks = []
        for name, types in uses.items():
            deck = genanki.Deck(deck_id(name), name)
            # A note type's `did` is the last deck that uses it, as when genanki adds the notes.
            for note_type in types:
                deck.add_model(by_type[note_type])
            decks.append(deck)
        return _fill_collection(cursor, genanki, decks, by_deck, by_type, note_mods=note_mods, created=created)

    size, note_ids = _store(path, keep, update=update, rows=rows, model_mods=model_mods, created=created,
                            media_files=media_files)
    kept = None
    if keep is not None:
        kept = KeptCollection(keep, {guid: (note_ids[guid], digests[guid]) for guid in digests}, layout)
    return WrittenPackage(size, kept)


def _store(
    path: Path,
    keep: Path | None,
    *,
    update: bool,
    rows: Callable[[sqlite3.Cursor], dict[str, int]],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None,
) -> tuple[int, dict[str, int]]:
    """Make the collection (at `keep`, else a temporary file; `update`: the one there, in place) with
    `rows`, which returns every note's ID by GUID, then the `.apkg` at `path` with the media.
    Returns the package's size and the note IDs."""
    directory = path.resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    staged = _temp_path(directory, ".apkg.part")
    database = keep if keep is not None else _temp_path(directory, ".anki2")
    try:
        if not update:
            database.unlink(missing_ok=True)
            database.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(database)
        try:
            # A file that becomes part of the deck only after success: no journal, no syncs.
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            cursor = connection.cursor()
            note_ids = rows(cursor)
            _set_model_mods(cursor, model_mods, created)
            connection.commit()
        finally:
            connection.close()
        # The kept collection's deflated chunks are kept beside it: an update deflates only the
        # chunks it changed (a stale store is harmless: chunks are looked up by content).
        store = keep.with_name(keep.name + ".deflate") if keep is not None else None
        with open(staged, "wb") as handle, ZipWriter(handle) as archive:
            archive.write_chunked("collection.anki2", database, level=COMPRESS_LEVEL, store=store)
            names = sorted((media_files or {}).items())
            media = json.dumps({str(i): name for i, (name, _) in enumerate(names)})
            archive.write_bytes("media", media.encode("utf-8"), level=COMPRESS_LEVEL)
            for index, (_, source) in enumerate(names):
                # Images are already compressed; storing them saves time and nothing else.
                archive.write_file(str(index), source)
        # mkstemp makes the file private (0600); a deck is an ordinary file, so honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staged, 0o666 & ~umask)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # the data is on disk before the rename makes it the deck
        os.replace(staged, path)
    except BaseException as error:
        if keep is not None:
            keep.unlink(missing_ok=True)  # perhaps half updated: never a base again
        if isinstance(error, OSError):
            raise PackageError(f"{path}: could not write the deck: {error.strerror or error}") from error
        raise
    finally:
        staged.unlink(missing_ok=True)
        if keep is None:
            database.unlink(missing_ok=True)
    return path.stat().st_size, note_ids


def _lock_kept(keep: Path) -> IO[bytes] | None:
    """An exclusive lock on the kept collection (held while the handle is open), or None when
    another build holds it or locks are not available: two builds must never update one file."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, so never keep a collection
        return None
    try:
        keep.parent.mkdir(parents=True, exist_ok=True)
        handle = open(keep.with_name(keep.name + ".lock"), "wb")  # noqa: SIM115 (closed by the caller)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _fill_collection(
    cursor: sqlite3.Cursor,
    genanki: Any,
    decks: Sequence[Any],
    by_deck: Mapping[str, Sequence[CardNote]],
    by_type: Mapping[str, Any],
    *,
    note_mods: Mapping[str, int],
    created: int,
) -> dict[str, int]:
    """Write a new collection: schema and `col` row by genanki, then every note and card. Returns
    every note's ID by GUID."""
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
    return rows.note_ids


def _update_collection(
    cursor: sqlite3.Cursor,
    base: KeptCollection,
    present: Mapping[str, str],
    stale: Sequence[CardNote],
    by_type: Mapping[str, Any],
    *,
    note_mods: Mapping[str, int],
    created: int,
) -> dict[str, int]:
    """Bring a kept collection to the notes `present` (GUID -> digest): delete the notes that are
    gone, write the `stale` ones (rows that would differ, or new) and reconcile their cards.
    Returns every present note's ID by GUID.

    Rows come out as a full write makes them, but for IDs (new ones continue after the highest)
    and row order, neither of which Anki's importer uses to match notes (it matches by GUID) or
    cards (by note and ord)."""
    gone = [(nid,) for guid, (nid, _) in base.notes.items() if guid not in present]
    cursor.executemany("DELETE FROM cards WHERE nid = ?", gone)
    cursor.executemany("DELETE FROM notes WHERE id = ?", gone)
    highest = max(created * 1000 - 1, *(cursor.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
                                        for t in ("notes", "cards")))
    ids = itertools.count(highest + 1)
    types = _note_types(by_type)
    note_ids = {guid: nid for guid, (nid, _) in base.notes.items() if guid in present}
    for note in stale:
        model_id, sort_field, card_ords = types[note.note_type]
        nid = note_ids.get(note.guid)
        if nid is None:
            nid = note_ids[note.guid] = next(ids)
            have: dict[int, int] = {}
        else:
            have = {ord_: cid for cid, ord_ in cursor.execute("SELECT id, ord FROM cards WHERE nid = ?", (nid,))}
        did = deck_id(note.deck)
        row = _note_row(nid, note, model_id, sort_field, note_mods.get(note.guid, created))
        cursor.execute("INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
        cursor.execute("UPDATE cards SET did = ? WHERE nid = ?", (did, nid))  # the deck may have changed
        wanted = list(card_ords(note.fields))
        cursor.executemany("DELETE FROM cards WHERE id = ?", [(cid,) for ord_, cid in have.items() if ord_ not in wanted])
        cursor.executemany(
            "INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [_card_row(next(ids), nid, did, ord_, created) for ord_ in wanted if ord_ not in have],
        )
    return note_ids


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


_SOURCE_FIELD = {"basic": BASIC_FIELDS.index("Source"), "cloze": CLOZE_FIELDS.index("Source")}
_MERGED = "m"  # leads the digest of a row whose Source field lists merged duplicates


def _digests(
    notes: Sequence[CardNote],
    note_mods: Mapping[str, int],
    created: int,
    kept: Mapping[str, tuple[int, str]],
    same_records: Collection[str],
) -> dict[str, str]:
    """Every note's row digest. A note in `same_records` that is in `kept` and was not merged then
    or now has the row it had (all the row holds follows from its record and the note options,
    which the kept layout includes, but for a merged Source field): its kept digest is reused."""
    same = same_records if isinstance(same_records, (set, frozenset)) else frozenset(same_records)
    out: dict[str, str] = {}
    for note in notes:
        guid = note.guid
        old = kept.get(guid) if guid in same and not note.merged_sources else None
        if old is not None and not old[1].startswith(_MERGED):
            out[guid] = old[1]
        else:
            out[guid] = _digest(note, note_mods.get(guid, created))
    return out


def _stale(notes: Sequence[CardNote], digests: Mapping[str, str], kept: Mapping[str, tuple[int, str]]) -> list[CardNote]:
    """The notes whose rows differ from the kept collection's (`kept`: GUID -> (note ID, digest)), or are new."""
    return [n for n in notes if kept.get(n.guid, (0, ""))[1] != digests[n.guid]]


def _digest(note: CardNote, mod: int) -> str:
    """What decides a note's row and cards as written: type, deck, mod, tags, fields. The content
    hash already covers every field but Source, so Source is added instead of hashing them again."""
    source = note.fields[_SOURCE_FIELD[note.note_type]]
    text = "\x1e".join((note.content_hash, note.note_type, note.deck, str(mod), " ".join(note.tags), source))
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    return _MERGED + digest if note.merged_sources else digest


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
    note_ids: dict[str, int] = field(default_factory=dict)  # each note's ID by GUID, as notes() made them

    def notes(self) -> Iterator[NoteRow]:
        """The rows of the `notes` table (run before `cards`)."""
        ids = itertools.count(self.created * 1000)  # genanki's counter: a note's ID, then its cards' IDs
        created, mods, keep, note_ids = self.created, self.note_mods, self.ords.append, self.note_ids
        for members in self.by_deck.values():
            for note in members:
                model_id, sort_field, card_ords = self.types[note.note_type]
                nid = note_ids[note.guid] = next(ids)
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


def _temp_path(directory: Path, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=".aws-anki-", suffix=suffix, dir=directory)
    os.close(handle)
    return Path(name)


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

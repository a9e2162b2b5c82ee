"""Package stage: write notes and media to an `.apkg` that Anki imports (atomically, compressed).

genanki builds the collection database; two things are then set that genanki cannot express:
each note's own modification time (Anki updates a note on import only when the package's note is
strictly newer) and each note type's modification time (moves only when templates or CSS change).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import PackageError
from .models import NoteType, basic_type, cloze_type
from .notes import CardNote


def deck_id(name: str) -> int:
    """A stable deck ID for a deck name (Anki matches decks by name; the ID only has to be stable)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:6], "big") | 1 << 40


def write_package(
    notes: Sequence[CardNote],
    path: Path,
    *,
    note_mods: Mapping[str, int],
    model_mods: Mapping[int, int],
    created: int,
    media_files: Mapping[str, Path] | None = None,
) -> int:
    """Write the `.apkg` at `path` (temp file, then rename); returns its size in bytes."""
    import genanki  # costs ~150 ms to import; only a build that writes needs it

    models = {note_type.model_id: _genanki_model(genanki, note_type) for note_type in (basic_type(), cloze_type())}
    decks: dict[str, Any] = {}
    for note in notes:
        deck = decks.get(note.deck)
        if deck is None:
            deck = decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
        model = models[basic_type().model_id if note.note_type == "basic" else cloze_type().model_id]
        deck.add_note(genanki.Note(model=model, fields=list(note.fields), tags=list(note.tags), guid=note.guid))
    if not decks:
        raise PackageError("no notes to write: the notes gave no facts (run `aws-anki inspect --stats` to see why)")

    path = Path(path)
    directory = path.resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    database = _temp_path(directory, ".anki2")
    staged = _temp_path(directory, ".apkg.part")
    try:
        connection = sqlite3.connect(database)
        try:
            cursor = connection.cursor()
            with warnings.catch_warnings():
                # Fields are sanitised HTML already; genanki's own tag check would only add noise.
                warnings.simplefilter("ignore")
                genanki.Package(list(decks.values())).write_to_db(cursor, created, itertools.count(created * 1000))
            # By row id: `notes.guid` has no index, and an UPDATE by guid per note is quadratic.
            rows = cursor.execute("SELECT id, guid FROM notes").fetchall()
            cursor.executemany("UPDATE notes SET mod = ? WHERE id = ?", [(note_mods.get(guid, created), nid) for nid, guid in rows])
            _set_model_mods(cursor, model_mods, created)
            connection.commit()
        finally:
            connection.close()
        with zipfile.ZipFile(staged, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.write(database, "collection.anki2")
            names = sorted((media_files or {}).items())
            archive.writestr("media", json.dumps({str(i): name for i, (name, _) in enumerate(names)}))
            for index, (_, source) in enumerate(names):
                # Images are already compressed; storing them saves time and nothing else.
                archive.write(source, str(index), compress_type=zipfile.ZIP_STORED)
        # mkstemp makes the file private (0600); a deck is an ordinary file, so honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staged, 0o666 & ~umask)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # the data is on disk before the rename makes it the deck
        os.replace(staged, path)
    except OSError as error:
        raise PackageError(f"{path}: could not write the deck: {error.strerror or error}") from error
    finally:
        for leftover in (database, staged):
            leftover.unlink(missing_ok=True)
    return path.stat().st_size


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

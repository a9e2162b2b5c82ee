"""Helpers for tests that compare decks: what Anki's importer sees of a package."""
from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any


def importer_view(apkg: Path, where: Path) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]], tuple[Any, ...]]:
    """A package's collection as Anki's importer sees it: notes by GUID, cards by (GUID, ord), and
    the col row; not row IDs or order, and not a card's `mod` (the importer uses none of them)."""
    with zipfile.ZipFile(apkg) as archive:
        archive.extract("collection.anki2", where)
    with sqlite3.connect(where / "collection.anki2") as db:
        notes = {row[0]: row[1:] for row in db.execute("SELECT guid, mid, mod, usn, tags, flds, sfld, csum, flags, data FROM notes")}
        cards = sorted(db.execute(
            "SELECT n.guid, c.ord, c.did, c.usn, c.type, c.queue, c.due, c.ivl, c.factor, c.reps, c.lapses, c.left,"
            " c.odue, c.odid, c.flags, c.data FROM cards c JOIN notes n ON n.id = c.nid"
        ))
        orphans = db.execute("SELECT count(*) FROM cards WHERE nid NOT IN (SELECT id FROM notes)").fetchone()[0]
        (col,) = db.execute("SELECT crt, mod, scm, ver, dty, usn, ls, conf, models, decks, dconf, tags FROM col")
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    assert orphans == 0 and integrity == "ok"
    return notes, cards, (*col[:8], json.loads(col[8]), json.loads(col[9]), *col[10:])

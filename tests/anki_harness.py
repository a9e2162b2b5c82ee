"""Import decks into a real Anki collection (official ``anki`` package) and act like a learner.

Tests use this instead of reading an .apkg's SQLite themselves: packages go through Anki's own
backend importer (``Collection.import_anki_package``), cards are rendered by Anki's own
template/cloze renderer (``card.question()``/``card.answer()``), reviews go through the v3
scheduler (``get_queued_cards`` + ``build_answer`` + ``answer_card``).

Import options (``DESKTOP_IMPORT_OPTIONS``): update notes "if newer", update notetypes "if
newer", merge notetypes off, with scheduling on, deck presets off. A fresh collection's
``get_import_anki_package_presets()`` is the same except ``with_scheduling=False``; for genanki
packages (new cards, no review log) both give identical results (checked).

Behaviour of anki 26.9.3, pinned by tests/test_anki_harness.py (genanki, fixed GUIDs, 4 notes):

1. Same package imported twice: 2nd import logs new=0 updated=0 duplicate=4. ``duplicate``
   means "a note with this GUID exists and was left alone": it is the *unchanged* count.
   Notes, cards, scheduling and review log untouched.
2. Same GUIDs, one changed field, package note ``mod`` > collection note ``mod``: updated=4,
   new=0. Anki compares ``mod`` only, not contents: the 3 unchanged notes with a newer ``mod``
   are logged ``updated`` too. Note ids stay, every card keeps type/queue/due/ivl/factor/reps/
   lapses, the review log is kept. The imported note keeps the package's ``mod`` (not "now").
3. Package note ``mod`` == or < the collection's (e.g. after the learner edited the note in
   Anki, which sets its ``mod`` to now): logged ``duplicate``, not updated, the edit survives
   ("newer" is strictly ``>``). A later package with ``mod`` > the edit overwrites the edit.
4. Cloze note gaining ``{{c2::...}}`` (newer ``mod``): note ``updated``, a new card (ord 1,
   new, same deck) is created; ord 0 keeps its scheduling; revlog kept.
5. Notetypes are matched by id. genanki's ``write_to_file(timestamp=T)`` sets the ``mod`` of
   every note AND every model to T.
   a. Same id and fields, changed template + CSS, newer model ``mod``: updated in place (same
      id, no new notetype, ``mod`` = package's), cards re-render with it, ``scm`` unchanged
      (no forced full sync), scheduling kept.
   b. Same change with an equal or older model ``mod``: ignored, old template/CSS kept.
   c. Same id, a field ADDED: no failure, the existing notetype is untouched; Anki adds a NEW
      notetype (new id, name ``"<name>+"``). Notes of that notetype whose GUIDs exist are
      logged ``conflicting`` and left alone (no update, ever); new GUIDs are added with the new
      notetype. ``scm`` unchanged. So a field change silently freezes every existing note.

Log (``ImportResponse.Log``): repeated note lists ``new``, ``updated``, ``duplicate``,
``conflicting``, ``first_field_match`` (CSV only), ``missing_notetype``, ``missing_deck``,
``empty_first_field`` (each entry: ``id.nid`` + fields, no GUID), plus ``found_notes`` (notes
in the package) and ``dupe_resolution`` (CSV only).

Zip: genanki writes ZIP_STORED; a ZIP_DEFLATED re-zip of the same members (about 20x smaller
for a tiny deck) imports identically.

Gotchas: import ``anki.collection`` before ``anki.cards`` (the reverse is a circular import);
the Python notetype cache (``col.models``) is NOT invalidated by an import, so
``import_apkg`` clears it; the scheduler only queues the *selected* deck, so
``answer_due_cards`` selects decks first. Cost (2 cores): ``import anki`` ~0.35 s once per
process, a new collection 30-100 ms, importing a small package ~10 ms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from anki.collection import Collection  # first: importing anki.cards first is circular
from anki.cards import Card
from anki.decks import DeckId
from anki.import_export_pb2 import (
    ImportAnkiPackageOptions,
    ImportAnkiPackageRequest,
    ImportAnkiPackageUpdateCondition,
    ImportResponse,
)
from anki.notes import Note
from anki.scheduler.v3 import Scheduler as V3Scheduler
from anki.scheduler_pb2 import CardAnswer
from bs4 import BeautifulSoup

__all__ = [
    "DESKTOP_IMPORT_OPTIONS",
    "CardSchedule",
    "ImportSummary",
    "RenderedCard",
    "answer_due_cards",
    "edit_note",
    "html_to_text",
    "import_apkg",
    "new_collection",
    "note_by_guid",
    "open_collection",
    "rendered_cards",
    "revlog_count",
    "schedule_snapshot",
]

COLLECTION_FILE = "collection.anki2"

DESKTOP_IMPORT_OPTIONS = ImportAnkiPackageOptions(
    merge_notetypes=False,
    update_notes=ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
    update_notetypes=ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
    with_scheduling=True,
    with_deck_configs=False,
)

_RATINGS: dict[int, CardAnswer.Rating.ValueType] = {
    1: CardAnswer.AGAIN,
    2: CardAnswer.HARD,
    3: CardAnswer.GOOD,
    4: CardAnswer.EASY,
}


def new_collection(directory: Path) -> Collection:
    """Create a fresh, empty collection file in ``directory``; the caller must close it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / COLLECTION_FILE
    if path.exists():
        raise FileExistsError(f"collection already exists: {path}")
    return Collection(str(path))


@contextmanager
def open_collection(directory: Path) -> Iterator[Collection]:
    """Open (creating if needed) the collection in ``directory`` and close it on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    col = Collection(str(directory / COLLECTION_FILE))
    # Anki's day starts at 4 am: a test run just before it would see a 10-minute learning step
    # fall into tomorrow. The day starts 12 hours from now instead, far from any test.
    col.set_config("rollover", (time.localtime().tm_hour + 12) % 24)
    try:
        yield col
    finally:
        col.close()


@dataclass(frozen=True)
class ImportSummary:
    """Counts from Anki's import log.

    ``new``: notes added. ``updated``: existing notes (same GUID) overwritten because the
    package's note ``mod`` was strictly newer (contents are not compared). ``duplicate``: notes
    whose GUID already exists and that were left alone (package not newer): the "unchanged"
    count. ``conflicting``: GUID exists but with an incompatible notetype (left alone).
    ``found_notes``: notes in the package. The rest are CSV-only or error categories.
    """

    new: int
    updated: int
    duplicate: int
    conflicting: int
    first_field_match: int
    missing_notetype: int
    missing_deck: int
    empty_first_field: int
    found_notes: int
    new_note_ids: tuple[int, ...] = ()
    updated_note_ids: tuple[int, ...] = ()


def import_apkg(
    col: Collection,
    apkg: Path,
    *,
    options: ImportAnkiPackageOptions = DESKTOP_IMPORT_OPTIONS,
) -> ImportSummary:
    """Import ``apkg`` with Anki's backend importer (desktop defaults) and summarise its log."""
    request = ImportAnkiPackageRequest(package_path=str(apkg), options=options)
    log: ImportResponse.Log = col.import_anki_package(request).log
    # The Python side caches notetype dicts and the import does not invalidate them: without
    # this, col.models.get() would return the pre-import template/CSS.
    col.models._clear_cache()
    return ImportSummary(
        new=len(log.new),
        updated=len(log.updated),
        duplicate=len(log.duplicate),
        conflicting=len(log.conflicting),
        first_field_match=len(log.first_field_match),
        missing_notetype=len(log.missing_notetype),
        missing_deck=len(log.missing_deck),
        empty_first_field=len(log.empty_first_field),
        found_notes=log.found_notes,
        new_note_ids=tuple(n.id.nid for n in log.new),
        updated_note_ids=tuple(n.id.nid for n in log.updated),
    )


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: <style>/<script> dropped, whitespace collapsed."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


@dataclass(frozen=True)
class RenderedCard:
    """A card as Anki renders it. ``*_html`` is ``card.question()``/``card.answer()``
    (including Anki's ``<style>`` prefix); ``*_text`` is its visible text. The answer text
    usually repeats the question (``{{FrontSide}}``, cloze back side)."""

    card_id: int
    note_id: int
    guid: str
    ord: int
    notetype: str
    deck: str
    tags: tuple[str, ...]
    question_html: str
    answer_html: str
    question_text: str
    answer_text: str


def rendered_cards(col: Collection) -> list[RenderedCard]:
    """Render every card of the collection with Anki's own renderer, ordered by card id."""
    result: list[RenderedCard] = []
    for cid in sorted(col.find_cards("")):
        card = col.get_card(cid)
        note = card.note()
        notetype = note.note_type()
        assert notetype is not None
        question = card.question()
        answer = card.answer()
        result.append(
            RenderedCard(
                card_id=card.id,
                note_id=note.id,
                guid=note.guid,
                ord=card.ord,
                notetype=notetype["name"],
                deck=col.decks.name(card.did),
                tags=tuple(note.tags),
                question_html=question,
                answer_html=answer,
                question_text=html_to_text(question),
                answer_text=html_to_text(answer),
            )
        )
    return result


def answer_due_cards(
    col: Collection,
    count: int,
    *,
    ease: Literal[1, 2, 3, 4] = 3,
    deck: str | None = None,
) -> int:
    """Answer up to ``count`` queued cards with the v3 scheduler (Good by default); return how many."""
    if ease not in _RATINGS:
        raise ValueError(f"ease must be 1-4, not {ease!r}")
    rating = _RATINGS[ease]
    sched = col.sched
    if not isinstance(sched, V3Scheduler):
        raise TypeError(f"expected the v3 scheduler, got {type(sched).__name__}")
    answered = 0
    for did in _study_decks(col, deck):
        # The scheduler only queues cards of the selected deck (and its children).
        col.decks.select(did)
        while answered < count:
            queued = sched.get_queued_cards(fetch_limit=1)
            if not queued.cards:
                break
            top = queued.cards[0]
            card = col.get_card(top.card.id)
            card.timer_started = time.time() - 5.0  # a learner takes a few seconds per card
            answer = sched.build_answer(card=card, states=top.states, rating=rating)
            sched.answer_card(answer)
            answered += 1
    return answered


def _study_decks(col: Collection, deck: str | None) -> list[DeckId]:
    """The named deck, or every top-level normal deck (children are studied with parents)."""
    if deck is not None:
        did = col.decks.id_for_name(deck)
        if did is None:
            raise KeyError(f"no deck named {deck!r}")
        return [did]
    return [
        DeckId(d.id)
        for d in col.decks.all_names_and_ids(skip_empty_default=True, include_filtered=False)
        if "::" not in d.name
    ]


@dataclass(frozen=True)
class CardSchedule:
    """Scheduling state of one card, keyed elsewhere by (note guid, card ord)."""

    guid: str
    ord: int
    card_type: int
    queue: int
    due: int
    ivl: int
    factor: int
    reps: int
    lapses: int


def schedule_snapshot(col: Collection) -> dict[tuple[str, int], CardSchedule]:
    """Scheduling state of every card, keyed by (note guid, card ord)."""
    snapshot: dict[tuple[str, int], CardSchedule] = {}
    guids: dict[int, str] = {}
    for cid in col.find_cards(""):
        card: Card = col.get_card(cid)
        guid = guids.get(card.nid)
        if guid is None:
            guid = guids[card.nid] = col.get_note(card.nid).guid
        snapshot[(guid, card.ord)] = CardSchedule(
            guid=guid,
            ord=card.ord,
            card_type=int(card.type),
            queue=int(card.queue),
            due=card.due,
            ivl=card.ivl,
            factor=card.factor,
            reps=card.reps,
            lapses=card.lapses,
        )
    return snapshot


def revlog_count(col: Collection) -> int:
    """Number of rows in the collection's review log."""
    assert col.db is not None
    return int(col.db.scalar("select count() from revlog"))


def note_by_guid(col: Collection, guid: str) -> Note:
    """The collection's note with this GUID (KeyError if none)."""
    assert col.db is not None
    nid = col.db.scalar("select id from notes where guid = ?", guid)
    if nid is None:
        raise KeyError(f"no note with guid {guid!r}")
    return col.get_note(nid)


def edit_note(col: Collection, guid: str, field: str, value: str) -> None:
    """Edit one field like a learner in Anki (``col.update_note``), which sets the note's mod to now."""
    note = note_by_guid(col, guid)
    if field not in note.keys():
        raise KeyError(f"note {guid!r} has no field {field!r}; fields: {note.keys()}")
    note[field] = value
    col.update_note(note)

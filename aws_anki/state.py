"""Build state: what the previous build wrote, so a rebuild keeps identities and modification times.

The state lives next to the deck as `<deck>.apkg.lock.json`:

    {"version": 2,
     "columns": ["guid", "identity", "hash", "mod", "source", "type", "front"],
     "notes": [
      ["<guid>", "<identity>", "<content hash>", <mod>, "<file:line>", "<note type>", "<first field>"],
      ...
     ],
     "models": {"<model id>": {"fingerprint": ..., "mod": ...}}}

One note per line, sorted by GUID, so it diffs well under version control; rows rather than
objects because a big deck has hundreds of thousands of them (version 1 files, with an object per
note, and version 2 files without the "front" column are still read). The first field, as written
into the deck, is what names a removed note and finds it in Anki: Anki cannot search by GUID.

Rules (Anki updates a note on import only when the package's note is strictly newer):
- a note whose content hash is unchanged keeps its old `mod`: re-importing changes nothing, and
  edits the learner made in Anki survive;
- a note whose content changed gets a `mod` later than both its old one and the build time, so
  Anki updates it in place (its cards and review history stay);
- a new fact whose key is unknown may be an edit of a fact that disappeared in the same build: it
  takes over that fact's GUID when it has the same note type and service, and either sits in the
  same section with a similar subject (>= 0.6 similar), or anywhere with a near-identical subject
  (>= 0.9: a renamed heading or a moved fact). Below that it is a new note, and the old one is
  reported as removed. The state remembers the carried-over GUID under the new key.
- facts whose keys collide (`key`, `key#2`: the same subject twice in one section, or in two files
  of one service) are numbered in reading order; reordering their files or sections, or deleting
  one, must not trade their GUIDs (and reviews): a fact whose content a previous note of its group
  had keeps that note's GUID.
- without a state file (first build, or it was lost), a note's `mod` is its file's modification
  time: notes of files not edited since the last import are left alone by Anki.
"""
from __future__ import annotations

import html
import json
import os
import re
import time
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from collections import Counter
from itertools import chain, count
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Sequence

from .cloze import answered
from .errors import BuildWarning, InputError
from .guids import guid_for, identity_parts, numbered, unnumbered
from .models import BASIC_MODEL_ID, CLOZE_MODEL_ID, NoteType
from .outputs import replace_together, staging
from .source import Source

if TYPE_CHECKING:
    from .notes import CardNote

STATE_VERSION = 2
SAME_SECTION_SIMILARITY = 0.6
ANY_SECTION_SIMILARITY = 0.9


class NoteRecord(NamedTuple):
    """What the state remembers of one note (a tuple: a big deck has hundreds of thousands)."""

    identity: str
    content_hash: str
    mod: int
    source: str  # `str(Source)` of the note when built
    note_type: str
    front: str  # the note's first field as written ("" when read from a state that did not keep it)


def _record(values: tuple[str, str, int, str, str, str]) -> NoteRecord:
    """A NoteRecord without the Python-level __new__ of named tuples (a build makes 300,000 of them)."""
    return tuple.__new__(NoteRecord, values)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BuildState:
    """The notes and note types of a previous build."""

    notes: Mapping[str, NoteRecord]
    models: Mapping[int, tuple[str, int]]  # model id -> (fingerprint, mod)


class RemovedNote(NamedTuple):
    """A note of the previous build whose fact is gone: where it was, what it asked, how to find it."""

    guid: str
    source: str  # file:line of the fact when last built
    front: str  # its first field as written into the deck ("" if the state did not keep it)
    note_type: str

    @property
    def name(self) -> str:
        """The first field as a learner reads it, on one line (cloze markup shown as its text)."""
        text = _BLOCK_TAG.sub(" ", answered(self.front))
        return " ".join(html.unescape(_TAG.sub("", text)).split())

    @property
    def search(self) -> str | None:
        """An Anki search (Browse) that finds the note: its note type and first field, as Anki's own
        duplicate check writes it (Anki has no GUID search); None without a recorded first field."""
        model_id = {"basic": BASIC_MODEL_ID, "cloze": CLOZE_MODEL_ID}.get(self.note_type)
        if not self.front or model_id is None:
            return None
        escaped = self.front.replace("\\", "\\\\").replace('"', '\\"')
        return f'"dupe:{model_id},{escaped}"'

    def as_dict(self) -> dict[str, object]:
        """Plain data for `--json`."""
        return {"guid": self.guid, "source": self.source, "front": self.name, "search": self.search}

    def __str__(self) -> str:
        name = f"{self.name[:80]}{'…' if len(self.name) > 80 else ''}"
        where = f"{self.source} \"{name}\"" if name else f"{self.source} (guid {self.guid})"
        found = f"; find it in Anki (Browse) with {self.search}" if self.search else (
            "; its first field was not recorded (a state from an older aws-anki), search for its text in Anki")
        return where + found


# A name is read by a person: unlike `cardtext.visible_text` (every tag a space, to compare words),
# an inline tag inside a word (`<b>S3</b>'s`) leaves it whole.
_BLOCK_TAG = re.compile(r"<(?:br|hr|/?(?:p|div|li|ul|ol|dl|dt|dd|tr|td|th|table|pre|blockquote|h\d))\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Changes:
    """How this build differs from the previous one, by GUID."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[RemovedNote, ...]  # sorted by GUID
    carried_over: tuple[tuple[str, Source], ...]  # (guid, new source) of edited facts that kept their GUID

    def as_dict(self) -> dict[str, object]:
        """Counts and lists, for `--json` output and reports."""
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": [r.as_dict() for r in self.removed],
        }


@dataclass(frozen=True)
class Plan:
    """The notes to write (GUIDs settled), their modification times and the new state."""

    notes: tuple[CardNote, ...]
    note_mods: Mapping[str, int]
    model_mods: Mapping[int, int]
    changes: Changes
    state: BuildState


def build_time() -> int:
    """The clock every route that settles modification times reads (build, sync, push): the
    reproducible-builds SOURCE_DATE_EPOCH when set, else the wall clock, in whole seconds."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return int(time.time())
    # Anki keeps times as 64-bit integers; a deck from the year 10,000 would only confuse it.
    if not value.isdigit() or int(value) >= _LATEST_TIME:
        raise InputError(f"SOURCE_DATE_EPOCH={value[:40]!r} is not a time: give whole seconds since 1970 (e.g. $(date +%s))")
    return int(value)


_LATEST_TIME = 253_402_300_800  # 10000-01-01


def state_path(deck_path: Path) -> Path:
    """Where the state of the deck at `deck_path` is kept."""
    return deck_path.with_name(deck_path.name + ".lock.json")


def load_state(path: Path) -> tuple[BuildState | None, tuple[BuildWarning, ...]]:
    """Read a state file; a missing one is None, a corrupt one is ignored with a warning."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        version = raw.get("version")
        if version == STATE_VERSION:
            notes = _rows(raw["notes"], raw["columns"])
        elif version == 1:
            notes = {
                guid: _record((str(r["identity"]), str(r["hash"]), _mod(r["mod"]), str(r.get("source", "")), str(r["type"]), ""))
                for guid, r in raw["notes"].items()
            }
        else:
            raise ValueError(f"unknown version {version!r}")
        models = {int(k): (_string(v["fingerprint"]), _mod(v["mod"])) for k, v in raw.get("models", {}).items()}
    except FileNotFoundError:
        return None, ()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        warning = BuildWarning(
            str(path), None, "state",
            f"build state unreadable ({error}); ignored, so modification times fall back to file times. "
            "Delete the file to silence this.",
        )
        return None, (warning,)
    return BuildState(notes, models), ()


def _rows(rows: list[Any], columns: list[Any]) -> dict[str, NoteRecord]:
    """Version 2 notes (one row per note) as records; ValueError or TypeError unless well formed.
    The checks are C calls over all rows: a big deck has hundreds of thousands."""
    with_front = columns == list(_COLUMNS)
    if not (with_front or columns == list(_COLUMNS[:-1])) or type(rows) is not list:
        raise ValueError("notes are not rows of the known columns")
    if set(map(type, rows)) - {list} or set(map(len, rows)) - {len(columns)}:
        raise ValueError("a note row of the wrong shape")
    strings = _STRING_COLUMNS if with_front else _STRING_COLUMNS_BEFORE_FRONT
    if set(map(type, chain.from_iterable(map(strings, rows)))) - {str}:
        raise TypeError("GUIDs, identities, hashes, sources, types and fronts must be strings")
    mods = list(map(_MOD, rows))
    if set(map(type, mods)) - {int}:
        raise TypeError("modification times must be integers")
    if mods and (min(mods) < 0 or max(mods) >= _LATEST_TIME):
        raise ValueError(f"modification times must be whole seconds from 1970 to 9999 (found {min(mods)} to {max(mods)})")
    if with_front:
        notes = {row[0]: _record((row[1], row[2], row[3], row[4], row[5], row[6])) for row in rows}
    else:
        notes = {row[0]: _record((row[1], row[2], row[3], row[4], row[5], "")) for row in rows}
    if len(notes) != len(rows):
        raise ValueError("a GUID is listed twice")
    return notes


def _mod(value: Any) -> int:
    """A modification time read from a state file: whole seconds from 1970 to 9999 (Anki keeps
    64-bit integers; a later build adds one), else ValueError or TypeError."""
    if type(value) is not int:
        raise TypeError(f"a modification time must be an integer, not {type(value).__name__}")
    if not 0 <= value < _LATEST_TIME:
        raise ValueError(f"a modification time out of range ({value}: whole seconds from 1970 to 9999)")
    return value


def _string(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def save_state(path: Path, state: BuildState) -> None:
    """Write the state atomically (a temporary file, then a rename), one note per line."""
    replace_together([(stage_state(path, state), path)], "build state")


def stage_state(path: Path, state: BuildState, *, owner: Path | None = None) -> Path:
    """Write the state meant for `path` into a new temporary file beside it, named for `owner`
    (the deck it belongs to; default `path`), and return that file. PackageError naming `path`
    when it cannot be written; no temporary file is left behind then."""
    # Rows are formatted by `_state_lines`: `json.dumps(indent=...)` would switch to the pure-Python
    # encoder, 8 s for a 300,000-note deck.
    notes = state.notes
    values = notes.values()
    plain = all(map(_PLAIN.fullmatch, chain(notes, map(itemgetter(1), values), map(itemgetter(4), values))))
    # Sorted first, formatted a slice at a time as written: every line at once was the peak memory
    # of a whole build at 100x (80 MB more than any other moment).
    order = sorted(notes)
    models = json.dumps({str(k): {"fingerprint": f, "mod": m} for k, (f, m) in sorted(state.models.items())})
    with staging(path, ".lock.json.part", "build state", owner=owner) as staged, staged.open("w", encoding="utf-8") as out:
        out.write(f'{{"version": {STATE_VERSION},\n "columns": {json.dumps(list(_COLUMNS))},\n "notes": [')
        for start in range(0, len(order), _LINES_PER_WRITE):
            out.write(("\n" if start == 0 else ",\n") + ",\n".join(_state_lines(order[start : start + _LINES_PER_WRITE], notes, plain)))
        out.write(f'\n ],\n "models": {models}}}\n')
        out.flush()
        os.fsync(out.fileno())  # on disk before the rename makes it the state
    return staged


_LINES_PER_WRITE = 10_000
_COLUMNS = ("guid", "identity", "hash", "mod", "source", "type", "front")
_STRING_COLUMNS = itemgetter(0, 1, 2, 4, 5, 6)
_STRING_COLUMNS_BEFORE_FRONT = itemgetter(0, 1, 2, 4, 5)
_MOD = itemgetter(3)
_PLAIN = re.compile(r"[0-9A-Za-z_\-]*")


def _state_lines(guids: Sequence[str], notes: Mapping[str, NoteRecord], plain: bool) -> list[str]:
    """The state file's lines for `guids`. Values are formatted with the C string encoder, and only
    those that may need escaping when `plain` (GUIDs base 62, hashes hex, types plain words)."""
    quote = encode_basestring
    records = map(notes.__getitem__, guids)
    if plain:
        return [f'  ["{g}", {quote(r[0])}, "{r[1]}", {int(r[2])}, {quote(r[3])}, "{r[4]}", {quote(r[5])}]' for g, r in zip(guids, records)]
    # a state file edited by hand may hold anything
    return [f"  [{quote(g)}, {quote(r[0])}, {quote(r[1])}, {int(r[2])}, {quote(r[3])}, {quote(r[4])}, {quote(r[5])}]"
            for g, r in zip(guids, records)]


def plan_build(
    notes: Sequence[CardNote],
    previous: BuildState | None,
    *,
    now: int,
    note_types: Sequence[NoteType],
    file_mtimes: Mapping[str, int],
) -> Plan:
    """Settle GUIDs and modification times against the previous build."""
    previous_notes = previous.notes if previous else {}
    notes = list(notes)
    if previous_notes:
        _keep_colliding_facts(notes, previous_notes)
    guids = [n.guid for n in notes]
    found = list(map(previous_notes.get, guids))  # each note's record, if it had one
    # Nearly every note has the record of its GUID, made from its identity: those are settled.
    odd = [i for i, note, record in zip(count(), notes, found) if record is None or record[0] != note.identity]
    if odd:
        by_identity = {r[0]: guid for guid, r in previous_notes.items()}
        for index in odd:
            guid = by_identity.get(notes[index].identity)
            if guid and guid != guids[index]:  # a fact whose GUID was disambiguated or carried over before
                notes[index] = replace(notes[index], guid=guid)
                guids[index], found[index] = guid, previous_notes[guid]
        _give_way(notes, guids, found, odd, previous_notes)
    vanished_guids = previous_notes.keys() - set(guids)
    vanished = {g: r for g, r in previous_notes.items() if g in vanished_guids} if vanished_guids else {}
    carried = _carry_over(notes, [i for i in odd if found[i] is None], vanished)
    for guid, _, index in carried:
        guids[index], found[index] = guid, previous_notes[guid]

    note_mods: dict[str, int] = {}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    records: dict[str, NoteRecord] = {}
    unchanged_append = unchanged.append
    for guid, note, record in zip(guids, notes, found):
        content = note.content_hash
        if record is None:
            mod = now if previous is not None else file_mtimes.get(note.source.path, now)
            added.append(guid)
        elif record[1] == content:
            mod = record[2]
            unchanged_append(guid)
        else:
            mod = max(now, record[2] + 1)
            updated.append(guid)
        note_mods[guid] = mod
        records[guid] = _record((note.identity, content, mod, str(note.source), note.note_type, note.fields[0]))
    removed = tuple(sorted(RemovedNote(g, r[3], r[5], r[4]) for g, r in vanished.items() if g not in records))

    models = _model_records(note_types, previous, now)
    model_mods = {model_id: mod for model_id, (_, mod) in models.items()}
    changes = Changes(tuple(added), tuple(updated), tuple(unchanged), removed, tuple((g, s) for g, s, _ in carried))
    return Plan(tuple(notes), note_mods, model_mods, changes, BuildState(records, models))


def _model_records(note_types: Sequence[NoteType], previous: BuildState | None, now: int) -> dict[int, tuple[str, int]]:
    """Each note type's (fingerprint, mod): its mod moves only when its templates or CSS changed."""
    models: dict[int, tuple[str, int]] = {}
    for note_type in note_types:
        fingerprint, mod = (previous.models.get(note_type.model_id) if previous else None) or ("", 0)
        if fingerprint != note_type.fingerprint:
            mod = max(now, mod + 1)
        models[note_type.model_id] = (note_type.fingerprint, mod)
    return models


def _keep_colliding_facts(notes: list[CardNote], previous_notes: Mapping[str, NoteRecord]) -> None:
    """Facts whose keys collide (same service, section, type and subject: `key`, `key#2`, ...) are
    told apart by the order they are read in, so reordering their files or sections would trade
    their GUIDs, and with them review history. Within each such group, a fact whose content a
    previous note of the group had takes that note's GUID and identity back, in place; the others
    keep theirs unless taken, else get the group's next free `key#N`."""
    identities = list(map(_IDENTITY, notes))
    previous_identities = list(map(_FIRST, previous_notes.values()))
    if "#" not in "".join(identities) and "#" not in "".join(previous_identities):
        return  # C-speed checks: most decks have no colliding keys at all
    bases = {unnumbered(i) for i in chain(identities, previous_identities) if "#" in i}
    groups: dict[str, list[int]] = {}
    for index, identity in enumerate(identities):
        base = unnumbered(identity)
        if base in bases:
            groups.setdefault(base, []).append(index)
    previous_by_base: dict[str, dict[str, str]] = {}  # base -> content hash -> GUID
    for guid, record in previous_notes.items():
        base = unnumbered(record[0])
        if base in groups:
            previous_by_base.setdefault(base, {})[record[1]] = guid
    in_use = set(map(_GUID, notes))
    for base, indexes in groups.items():
        by_content = previous_by_base.get(base, {})
        outside = in_use.difference(notes[i].guid for i in indexes)  # GUIDs no fact of the group may take
        claimed: set[str] = set()
        unmatched: list[int] = []
        for index in indexes:
            guid = by_content.get(notes[index].content_hash)
            if guid is None or guid in claimed or guid in outside:
                unmatched.append(index)
                continue
            claimed.add(guid)
            if guid != notes[index].guid:
                notes[index] = replace(notes[index], guid=guid, identity=previous_notes[guid][0])
        if not claimed:
            continue  # nothing recognised: the order decides, as on a first build
        for index in unmatched:
            note = notes[index]
            if note.guid not in claimed:
                claimed.add(note.guid)
                continue
            for identity in chain((base,), (numbered(base, n) for n in count(2))):
                guid = guid_for(identity)
                record = previous_notes.get(guid)
                if guid not in claimed and guid not in outside and (record is None or record[0] == identity):
                    break
            claimed.add(guid)
            notes[index] = replace(note, guid=guid, identity=identity)


_IDENTITY = attrgetter("identity")
_FIRST = itemgetter(0)
_GUID = attrgetter("guid")


def _give_way(
    notes: list[CardNote], guids: list[str], found: list[NoteRecord | None], odd: Sequence[int],
    previous_notes: Mapping[str, NoteRecord],
) -> None:
    """A fact whose GUID another note holds by identity (a fact renamed kept its GUID, and a new
    fact has its old name) gets a GUID of its own, `identity#2` and on (as `merge_notes` does for
    colliding keys), in place: one deck must never hold two notes with one GUID."""
    held = Counter(guids)
    losers = [i for i in odd if held[guids[i]] > 1 and (found[i] is None or found[i][0] != notes[i].identity)]
    if not losers:
        return
    in_use = set(guids)
    for index in losers:
        note, suffix = notes[index], 1
        while True:
            suffix += 1
            identity = numbered(note.identity, suffix)
            guid = guid_for(identity)
            record = previous_notes.get(guid)
            if guid not in in_use and (record is None or record[0] == identity):
                break
        in_use.add(guid)
        notes[index] = replace(note, guid=guid, identity=identity)
        guids[index], found[index] = guid, record


def _carry_over(
    notes: list[CardNote], fresh: Sequence[int], vanished: Mapping[str, NoteRecord]
) -> list[tuple[str, Source, int]]:
    """Give new facts (`notes[i]` for i in `fresh`: GUIDs the previous build did not have) that look
    like edits of vanished facts the GUID of the vanished one, in place; returns (GUID, source, index)."""
    if not vanished:
        return []
    candidates: list[tuple[float, int, str]] = []
    for index in fresh:
        service, section, note_type, subject = identity_parts(notes[index].identity)
        for guid, record in vanished.items():
            old_service, old_section, old_type, old_subject = identity_parts(record.identity)
            if old_type != note_type or old_service != service:
                continue
            similarity = SequenceMatcher(None, subject, old_subject, autojunk=False).ratio()
            threshold = SAME_SECTION_SIMILARITY if section == old_section else ANY_SECTION_SIMILARITY
            if similarity >= threshold:
                candidates.append((similarity + (0.01 if section == old_section else 0.0), index, guid))
    taken_notes: set[int] = set()
    taken_guids: set[str] = set()
    carried: list[tuple[str, Source, int]] = []
    # Best matches first; ties broken by position, so the outcome is deterministic.
    for similarity, index, guid in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if index in taken_notes or guid in taken_guids:
            continue
        taken_notes.add(index)
        taken_guids.add(guid)
        notes[index] = replace(notes[index], guid=guid)
        carried.append((guid, notes[index].source, index))
    return carried


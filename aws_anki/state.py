"""Build state: what the previous build wrote, so a rebuild keeps identities and modification times.

The state lives next to the deck as `<deck>.apkg.lock.json`:

    {"version": 1,
     "notes": {"<guid>": {"identity": ..., "hash": ..., "mod": ..., "source": ..., "type": ...}},
     "models": {"<model id>": {"fingerprint": ..., "mod": ...}}}

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
- without a state file (first build, or it was lost), a note's `mod` is its file's modification
  time: notes of files not edited since the last import are left alone by Anki.
"""
from __future__ import annotations

import json
import os
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

from .errors import BuildWarning

if TYPE_CHECKING:
    from .models import NoteType
    from .notes import CardNote

STATE_VERSION = 1
SAME_SECTION_SIMILARITY = 0.6
ANY_SECTION_SIMILARITY = 0.9


class NoteRecord(NamedTuple):
    """What the state remembers of one note (a tuple: a big deck has hundreds of thousands)."""

    identity: str
    content_hash: str
    mod: int
    source: str
    note_type: str


def _record(values: tuple[str, str, int, str, str]) -> NoteRecord:
    """A NoteRecord without the Python-level __new__ of named tuples (a build makes 300,000 of them)."""
    return tuple.__new__(NoteRecord, values)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BuildState:
    """The notes and note types of a previous build."""

    notes: Mapping[str, NoteRecord]
    models: Mapping[int, tuple[str, int]]  # model id -> (fingerprint, mod)


@dataclass(frozen=True)
class Changes:
    """How this build differs from the previous one, by GUID."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[tuple[str, str], ...]  # (guid, where it was)
    carried_over: tuple[tuple[str, str], ...]  # (guid, new source) of edited facts that kept their GUID

    def as_dict(self) -> dict[str, object]:
        """Counts and lists, for `--json` output and reports."""
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": [{"guid": g, "source": s} for g, s in self.removed],
        }


@dataclass(frozen=True)
class Plan:
    """The notes to write (GUIDs settled), their modification times and the new state."""

    notes: tuple[CardNote, ...]
    note_mods: Mapping[str, int]
    model_mods: Mapping[int, int]
    changes: Changes
    state: BuildState


def state_path(deck_path: Path) -> Path:
    """Where the state of the deck at `deck_path` is kept."""
    return deck_path.with_name(deck_path.name + ".lock.json")


def load_state(path: Path) -> tuple[BuildState | None, tuple[BuildWarning, ...]]:
    """Read a state file; a missing one is None, a corrupt one is ignored with a warning."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {raw.get('version')!r}")
        notes = {
            guid: _record((str(r["identity"]), str(r["hash"]), int(r["mod"]), str(r.get("source", "")), str(r["type"])))
            for guid, r in raw["notes"].items()
        }
        models = {int(k): (str(v["fingerprint"]), int(v["mod"])) for k, v in raw.get("models", {}).items()}
    except FileNotFoundError:
        return None, ()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        warning = BuildWarning(
            str(path), None, "state",
            f"build state unreadable ({error}); ignored, so modification times fall back to file times. "
            "Delete the file to silence this.",
        )
        return None, (warning,)
    return BuildState(notes, models), ()


def save_state(path: Path, state: BuildState) -> None:
    """Write the state atomically: sorted, one note per line, so it diffs well under version control."""
    # Each line is formatted here with the C string encoder and goes to the file as it is made:
    # `json.dumps(indent=...)` would switch to the pure-Python encoder, 8 s for a 300,000-note deck.
    quote = encode_basestring
    staged = path.with_name(path.name + ".part")
    with staged.open("w", encoding="utf-8") as out:
        out.write(f'{{"version": {STATE_VERSION},\n "notes": {{')
        separator = "\n"
        for guid, r in sorted(state.notes.items()):
            out.write(
                f'{separator}  {quote(guid)}: {{"identity": {quote(r.identity)}, "hash": {quote(r.content_hash)}, '
                f'"mod": {int(r.mod)}, "source": {quote(r.source)}, "type": {quote(r.note_type)}}}'
            )
            separator = ",\n"
        models = json.dumps({str(k): {"fingerprint": f, "mod": m} for k, (f, m) in sorted(state.models.items())})
        out.write(f'\n }},\n "models": {models}}}\n')
    os.replace(staged, path)


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
    guid_by_identity = {r.identity: guid for guid, r in previous_notes.items()}
    notes = [_known_guid(n, guid_by_identity) for n in notes]
    present = {n.guid for n in notes}
    vanished = {g: r for g, r in previous_notes.items() if g not in present}
    notes, carried = _carry_over(notes, vanished, previous_notes)

    note_mods: dict[str, int] = {}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    records: dict[str, NoteRecord] = {}
    for note in notes:
        record = previous_notes.get(note.guid)
        if record is None:
            mod = now if previous is not None else file_mtimes.get(note.source.rsplit(":", 1)[0], now)
            added.append(note.guid)
        elif record.content_hash == note.content_hash:
            mod = record.mod
            unchanged.append(note.guid)
        else:
            mod = max(now, record.mod + 1)
            updated.append(note.guid)
        note_mods[note.guid] = mod
        records[note.guid] = _record((note.identity, note.content_hash, mod, note.source, note.note_type))
    removed = tuple(sorted((g, r.source) for g, r in vanished.items() if g not in records))

    model_mods: dict[int, int] = {}
    models: dict[int, tuple[str, int]] = {}
    for note_type in note_types:
        fingerprint, mod = (previous.models.get(note_type.model_id) if previous else None) or ("", 0)
        if fingerprint != note_type.fingerprint:
            mod = max(now, mod + 1)
        model_mods[note_type.model_id] = mod
        models[note_type.model_id] = (note_type.fingerprint, mod)

    changes = Changes(tuple(added), tuple(updated), tuple(unchanged), removed, tuple(carried))
    return Plan(tuple(notes), note_mods, model_mods, changes, BuildState(records, models))


def _known_guid(note: CardNote, guid_by_identity: Mapping[str, str]) -> CardNote:
    guid = guid_by_identity.get(note.identity)
    return replace(note, guid=guid) if guid and guid != note.guid else note


def _carry_over(
    notes: list[CardNote], vanished: Mapping[str, NoteRecord], previous: Mapping[str, NoteRecord]
) -> tuple[list[CardNote], list[tuple[str, str]]]:
    """Give new facts that look like edits of vanished facts the GUID of the vanished one."""
    if not vanished:
        return notes, []
    candidates: list[tuple[float, int, str]] = []
    for index, note in enumerate(notes):
        if note.guid in previous:
            continue  # already the same note as in the previous build: never moves to another

        service, section, note_type, subject = _split_identity(note.identity)
        for guid, record in vanished.items():
            old_service, old_section, old_type, old_subject = _split_identity(record.identity)
            if old_type != note_type or old_service != service:
                continue
            similarity = SequenceMatcher(None, subject, old_subject, autojunk=False).ratio()
            threshold = SAME_SECTION_SIMILARITY if section == old_section else ANY_SECTION_SIMILARITY
            if similarity >= threshold:
                candidates.append((similarity + (0.01 if section == old_section else 0.0), index, guid))
    taken_notes: set[int] = set()
    taken_guids: set[str] = set()
    carried: list[tuple[str, str]] = []
    # Best matches first; ties broken by position, so the outcome is deterministic.
    for similarity, index, guid in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if index in taken_notes or guid in taken_guids:
            continue
        taken_notes.add(index)
        taken_guids.add(guid)
        notes[index] = replace(notes[index], guid=guid)
        carried.append((guid, notes[index].source))
    return notes, carried


def _split_identity(identity: str) -> tuple[str, str, str, str]:
    parts = identity.split("|", 3)
    while len(parts) < 4:
        parts.append("")
    return parts[0], parts[1], parts[2], parts[3]

"""Route 1: push a build into a running Anki desktop through the AnkiConnect add-on (API v6).

Standard library only (urllib). What `push` does, in order:

1. `version` (>= 6 required) — the first request also proves that Anki is running, the add-on
   is installed and the API key (`key`) is accepted.
2. Note types, matched by NAME (AnkiConnect cannot pin IDs): created when missing (fields,
   templates, CSS, cloze flag); templates and CSS updated in place when they differ (no schema
   change, so no full sync); refused with an error when a note type of that name has other fields
   or other card templates (changing those would force a full sync and lose AnkiMobile reviews).
3. Notes. AnkiConnect exposes neither GUIDs nor any per-note metadata, and the note types' field
   lists are frozen, so a note made by `push` carries ONE tag that identifies it:

       aws-anki::<GUID as lowercase hex>.<content hash, 12 hex>

   The GUID is the build's stable identity (the same one the .apkg uses), hex-encoded because Anki
   treats tags case-insensitively and GUIDs are case-sensitive; the content hash is the build's
   hash of the fields, tags and deck (not the source location) at the last push. Owned notes are
   those of our two note types carrying such a tag: nothing else is ever updated or deleted.
   Matching by Front/Source was rejected: editing a fact or moving it would orphan its note.
   - unknown GUID: added (decks created first);
   - same GUID, same hash: unchanged and not sent, so edits the learner made in Anki survive until
     the fact changes in the Markdown (the rule of `.apkg` re-import);
   - same GUID, other hash: fields and tags updated in place (note id, cards and scheduling kept;
     Anki's own `marked`/`leech` tags kept; cards stay in the deck the learner put them in);
   - an owned note whose GUID is gone from the build: deleted only with `delete=True`, otherwise
     reported as stale. Copies of an owned note (Anki's "Create Copy" copies tags) are reported
     and left alone; the oldest note keeps the identity.
4. Media: the build's file names carry a content hash, so a name Anki already has is the same
   file; only missing ones are sent (`storeMediaFile`, base64).

`dry_run=True` reads Anki and returns the plan without changing anything.
"""
from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..models import NoteType, basic_type, cloze_type
from ..state import build_time, load_state, plan_build, save_state
from . import DeliveryError

if TYPE_CHECKING:  # pragma: no cover
    from ..build import BuildResult
    from ..notes import CardNote

DEFAULT_URL = "http://127.0.0.1:8765"
MIN_VERSION = 6
TAG_ROOT = "aws-anki"
HASH_LENGTH = 12
KEPT_ANKI_TAGS = frozenset({"marked", "leech"})  # Anki's own status tags survive an update
BATCH = 200


class AnkiConnectError(DeliveryError):
    """AnkiConnect answered with an error (its message is included)."""


# ---------------------------------------------------------------------------------------------
# Identity tags
# ---------------------------------------------------------------------------------------------

def identity_tag(guid: str, content_hash: str) -> str:
    """The tag that marks a note as made by aws-anki, with its GUID and pushed content hash."""
    return f"{TAG_ROOT}::{guid.encode('utf-8').hex()}.{content_hash[:HASH_LENGTH]}"


def parse_identity_tag(tag: str) -> tuple[str, str] | None:
    """(guid, content hash) from an identity tag; None for any other tag."""
    prefix = TAG_ROOT + "::"
    if not tag.lower().startswith(prefix):
        return None
    encoded, _, content_hash = tag[len(prefix):].partition(".")
    try:
        return bytes.fromhex(encoded).decode("utf-8"), content_hash.lower()
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

class AnkiConnect:
    """A minimal AnkiConnect v6 client: `invoke(action, **params)` returns the result or raises."""

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, timeout: float = 120.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise DeliveryError(f"AnkiConnect URL must start with http:// or https://, not {url!r}")
        self.url = url
        self.key = key
        self.timeout = timeout

    def invoke(self, action: str, **params: Any) -> Any:
        """Run one action; its result, or a DeliveryError saying what went wrong."""
        request: dict[str, Any] = {"action": action, "version": MIN_VERSION, "params": params}
        if self.key:
            request["key"] = self.key
        reply = self._post(request)
        if not isinstance(reply, dict) or "error" not in reply or "result" not in reply:
            raise DeliveryError(f"{self.url} did not answer like AnkiConnect (v{MIN_VERSION}) to {action!r}: {str(reply)[:200]}")
        if reply["error"] is not None:
            raise _error(action, str(reply["error"]), self.url)
        return reply["result"]

    def multi(self, actions: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Run several actions in one request; raises on the first that failed (after all ran)."""
        results: list[Any] = []
        for start in range(0, len(actions), BATCH):
            chunk = actions[start:start + BATCH]
            replies = self.invoke("multi", actions=[{"action": a, "version": MIN_VERSION, "params": dict(p)} for a, p in chunk])
            errors = []
            for (action, _), reply in zip(chunk, replies):
                if isinstance(reply, dict) and reply.get("error") is not None:
                    errors.append(f"{action}: {reply['error']}")
                results.append(reply.get("result") if isinstance(reply, dict) else reply)
            if errors:
                more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
                raise AnkiConnectError(f"AnkiConnect refused {len(errors)} of {len(chunk)} changes: {'; '.join(errors[:3])}{more}")
        return results

    def _post(self, request: Mapping[str, Any]) -> Any:
        body = json.dumps(request).encode("utf-8")
        http = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:  # anki-connect-server reports server faults as HTTP 500 with a JSON error
                payload = json.loads(text)
                if isinstance(payload, dict) and payload.get("error"):
                    raise _error(str(request.get("action")), str(payload["error"]), self.url) from error
            except ValueError:
                pass
            raise DeliveryError(f"{self.url} answered HTTP {error.code} ({error.reason}): is this AnkiConnect? {text[:200]}") from error
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ConnectionRefusedError):
                raise DeliveryError(f"nothing answers at {self.url}. Is Anki running with AnkiConnect installed? "
                                    "(Tools > Add-ons > Get Add-ons, code 2055492159; then restart Anki)") from error
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise self._timed_out() from error
            raise DeliveryError(f"cannot reach AnkiConnect at {self.url}: {reason}. "
                                "Is Anki running with AnkiConnect installed?") from error
        except (socket.timeout, TimeoutError) as error:
            raise self._timed_out() from error
        except ConnectionError as error:
            raise DeliveryError(f"the connection to {self.url} failed ({error}). Is Anki running with AnkiConnect installed?") from error
        try:
            return json.loads(raw)
        except ValueError as error:
            raise DeliveryError(f"{self.url} did not answer with JSON; is this AnkiConnect? {raw[:200]!r}") from error

    def _timed_out(self) -> DeliveryError:
        return DeliveryError(f"AnkiConnect at {self.url} did not answer within {self.timeout:.0f} s (is a dialog open in Anki?)")


def _error(action: str, message: str, url: str) -> DeliveryError:
    lowered = message.lower()
    if "api key" in lowered:
        return AnkiConnectError(f"AnkiConnect at {url} refused the API key ({message}): pass --key with the "
                                "apiKey set in AnkiConnect's config (Tools > Add-ons > AnkiConnect > Config)")
    if "unsupported action" in lowered:
        return AnkiConnectError(f"AnkiConnect at {url} does not support {action!r} ({message}): update the add-on")
    return AnkiConnectError(f"AnkiConnect {action} failed: {message}")


def check_version(version: object, url: str = DEFAULT_URL) -> int:
    """The server's API version, or a DeliveryError when it is too old or not a version at all."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise DeliveryError(f"{url} answered 'version' with {version!r}; is this AnkiConnect?")
    if version < MIN_VERSION:
        raise DeliveryError(f"AnkiConnect at {url} speaks API version {version}; aws-anki needs {MIN_VERSION} or "
                            "later: update the add-on (Tools > Add-ons > Check for Updates)")
    return version


# ---------------------------------------------------------------------------------------------
# The plan and the report
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedNote:
    """One change to a note: `action` is add, update, delete or stale; `where` is file:line or the front."""

    action: str
    guid: str
    where: str
    note_id: int | None = None


@dataclass(frozen=True)
class PushReport:
    """What `push` did (or, with `dry_run`, would do)."""

    url: str
    dry_run: bool
    added: int
    updated: int
    unchanged: int
    deleted: int
    stale: int  # notes this tool made whose fact is gone, kept because `delete` was off
    note_types: tuple[str, ...]  # "created AWS Anki Basic", "updated templates of AWS Anki Cloze", ...
    media: int  # media files sent
    plan: tuple[PlannedNote, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """Plain data for `--json`."""
        return {
            "url": self.url,
            "dry_run": self.dry_run,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "stale": self.stale,
            "note_types": list(self.note_types),
            "media": self.media,
            "plan": [{"action": p.action, "guid": p.guid, "where": p.where, "note_id": p.note_id} for p in self.plan],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Owned:
    note_id: int
    model: str
    content_hash: str
    tags: tuple[str, ...]
    front: str


# ---------------------------------------------------------------------------------------------
# push
# ---------------------------------------------------------------------------------------------

def push(
    result: "BuildResult",
    *,
    url: str = DEFAULT_URL,
    key: str | None = None,
    delete: bool = False,
    dry_run: bool = False,
    state: str | Path | None = None,
    timeout: float = 120.0,
) -> PushReport:
    """Send a build to Anki through AnkiConnect: add new notes, update changed ones in place.

    `delete`: also delete notes this tool made whose facts are gone. `dry_run`: only plan.
    `state`: a build state file (`*.lock.json`) to settle GUIDs exactly like `build` does (an
    edited fact keeps its note even when its subject changed); it is updated after a real push.
    Raises `DeliveryError` with a message for the user.
    """
    client = AnkiConnect(url, key, timeout)
    check_version(client.invoke("version"), url)
    notes, new_state = _settle_guids(result, state)
    note_type_changes = _ensure_note_types(client, dry_run)
    owned, copies = _owned_notes(client)
    changes = _compare(notes, owned, delete)
    media = _missing_media(client, result.media_files, notes)
    if not dry_run:
        for name in media:
            client.invoke("storeMediaFile", filename=name, data=base64.b64encode(result.media_files[name].read_bytes()).decode("ascii"))
        _add(client, changes.add)
        _update(client, changes.update)
        if delete and changes.gone:
            client.invoke("deleteNotes", notes=[mine.note_id for _, mine in changes.gone])
        if new_state is not None and state is not None:
            save_state(Path(state), new_state)
    return PushReport(
        url=url,
        dry_run=dry_run,
        added=len(changes.add),
        updated=len(changes.update),
        unchanged=changes.unchanged,
        deleted=len(changes.gone) if delete else 0,
        stale=0 if delete else len(changes.gone),
        note_types=tuple(note_type_changes),
        media=len(media),
        plan=changes.plan,
        warnings=(*(f"note {nid} is a copy of an aws-anki note (same identity tag); left alone" for nid in copies),
                  *changes.warnings),
    )


@dataclass(frozen=True)
class _Changes:
    """What a push changes in Anki: notes to add and to update, owned notes whose fact is gone."""

    add: tuple[CardNote, ...]
    update: tuple[tuple[CardNote, _Owned], ...]
    unchanged: int
    gone: tuple[tuple[str, _Owned], ...]  # (GUID, note), sorted by GUID
    plan: tuple[PlannedNote, ...]
    warnings: tuple[str, ...]


def _compare(notes: Sequence[CardNote], owned: Mapping[str, _Owned], delete: bool) -> _Changes:
    """The build's notes against the notes this tool made in Anki, by GUID and content hash."""
    to_add: list[CardNote] = []
    to_update: list[tuple[CardNote, _Owned]] = []
    plan: list[PlannedNote] = []
    warnings: list[str] = []
    unchanged = 0
    names = {basic_type().name: "basic", cloze_type().name: "cloze"}
    for note in notes:
        mine = owned.get(note.guid)
        if mine is None:
            to_add.append(note)
            plan.append(PlannedNote("add", note.guid, str(note.source)))
        elif names.get(mine.model) != note.note_type:
            warnings.append(f"{note.source}: Anki has this fact's note {mine.note_id} with note type {mine.model!r}; left alone")
        elif mine.content_hash == note.content_hash[:HASH_LENGTH]:
            unchanged += 1
        else:
            to_update.append((note, mine))
            plan.append(PlannedNote("update", note.guid, str(note.source), mine.note_id))
    present = {n.guid for n in notes}
    gone = sorted((guid, mine) for guid, mine in owned.items() if guid not in present)
    plan += [PlannedNote("delete" if delete else "stale", guid, mine.front, mine.note_id) for guid, mine in gone]
    return _Changes(tuple(to_add), tuple(to_update), unchanged, tuple(gone), tuple(plan), tuple(warnings))


def _settle_guids(result: "BuildResult", state: str | Path | None) -> tuple[Sequence["CardNote"], Any]:
    if state is None:
        return result.notes, None
    previous, _ = load_state(Path(state))
    planned = plan_build(
        result.notes,
        previous,
        now=build_time(),
        note_types=(basic_type(), cloze_type()),
        file_mtimes=result.file_mtimes,
    )
    return planned.notes, planned.state


def _ensure_note_types(client: AnkiConnect, dry_run: bool) -> list[str]:
    changes: list[str] = []
    existing = set(client.invoke("modelNames"))
    for note_type in (basic_type(), cloze_type()):
        if note_type.name not in existing:
            changes.append(f"created note type {note_type.name}")
            if not dry_run:
                _create_note_type(client, note_type)
            continue
        fields = client.invoke("modelFieldNames", modelName=note_type.name)
        if list(fields) != list(note_type.fields):
            raise DeliveryError(
                f"Anki has a note type named {note_type.name!r} with fields {fields}, not {list(note_type.fields)}: "
                "aws-anki will not change it (that would force a full sync) nor write into it. Rename that note "
                "type in Anki (Tools > Manage Note Types) and push again."
            )
        templates = client.invoke("modelTemplates", modelName=note_type.name)
        wanted = {name: {"Front": front, "Back": back} for name, front, back in note_type.templates}
        if set(templates) != set(wanted):
            raise DeliveryError(
                f"Anki's note type {note_type.name!r} has card templates {sorted(templates)}, not {sorted(wanted)}: "
                "aws-anki will not add or remove templates (that would force a full sync). Rename that note type "
                "in Anki (Tools > Manage Note Types) and push again."
            )
        if templates != wanted:
            changes.append(f"updated the templates of {note_type.name}")
            if not dry_run:
                client.invoke("updateModelTemplates", model={"name": note_type.name, "templates": wanted})
                if client.invoke("modelTemplates", modelName=note_type.name) != wanted:
                    raise DeliveryError(f"AnkiConnect at {client.url} did not apply the template update of {note_type.name!r} "
                                        "correctly; check the note type in Anki (Tools > Manage Note Types > Cards)")
        styling = client.invoke("modelStyling", modelName=note_type.name)
        if (styling or {}).get("css") != note_type.css:
            changes.append(f"updated the styling of {note_type.name}")
            if not dry_run:
                client.invoke("updateModelStyling", model={"name": note_type.name, "css": note_type.css})
    return changes


def _create_note_type(client: AnkiConnect, note_type: NoteType) -> None:
    created = client.invoke(
        "createModel",
        modelName=note_type.name,
        inOrderFields=list(note_type.fields),
        cardTemplates=[{"Name": name, "Front": front, "Back": back} for name, front, back in note_type.templates],
        css=note_type.css,
        isCloze=note_type.is_cloze,
    )
    # AnkiConnect returns the new note type; a cloze type must have type 1 or every cloze note
    # would get a single card. Detect servers that ignore isCloze instead of filling them with notes.
    if isinstance(created, dict) and "type" in created and int(created["type"]) != int(note_type.is_cloze):
        raise DeliveryError(
            f"AnkiConnect at {client.url} created {note_type.name!r} as a "
            f"{'standard' if note_type.is_cloze else 'cloze'} note type (it ignored isCloze), so its cards would be "
            "wrong. Delete that note type in Anki (Tools > Manage Note Types) and use the AnkiConnect add-on, or "
            "import the .apkg from `aws-anki build` once to create the note types."
        )


def _owned_notes(client: AnkiConnect) -> tuple[dict[str, _Owned], list[int]]:
    """Notes this tool made, by GUID; and the ids of copies that carry an already-seen identity."""
    query = " OR ".join(f'"note:{nt.name}"' for nt in (basic_type(), cloze_type()))
    ids = sorted(client.invoke("findNotes", query=f"({query}) tag:{TAG_ROOT}::*"))
    owned: dict[str, _Owned] = {}
    copies: list[int] = []
    ours = {basic_type().name, cloze_type().name}
    for start in range(0, len(ids), 500):
        for info in client.invoke("notesInfo", notes=ids[start:start + 500]):
            if not info or info.get("modelName") not in ours:
                continue
            tags = tuple(info.get("tags", ()))
            identities = {parsed for parsed in map(parse_identity_tag, tags) if parsed is not None}
            if len(identities) != 1:  # none (a sub-tag the user made) or ambiguous: not provably ours
                continue
            ((guid, content_hash),) = identities
            fields = info.get("fields", {})
            first = min(fields.values(), key=lambda f: f.get("order", 0)).get("value", "") if fields else ""
            note = _Owned(int(info["noteId"]), info["modelName"], content_hash, tags, first[:80])
            if guid in owned:  # ids are sorted: the oldest note keeps the identity
                copies.append(note.note_id)
            else:
                owned[guid] = note
    return owned, copies


def _missing_media(client: AnkiConnect, media_files: Mapping[str, Path], notes: Iterable["CardNote"]) -> list[str]:
    wanted = sorted({name for note in notes for name in note.media if name in media_files})
    if not wanted:
        return []
    try:
        have = set(client.invoke("getMediaFilesNames", pattern="*"))
    except AnkiConnectError:  # older add-ons: send everything (same names are the same files)
        have = set()
    return [name for name in wanted if name not in have]


def _note_payload(note: "CardNote") -> dict[str, Any]:
    return dict(zip(note.field_names, note.fields))


def _add(client: AnkiConnect, notes: Sequence["CardNote"]) -> None:
    if not notes:
        return
    for deck in sorted({n.deck for n in notes}):
        client.invoke("createDeck", deck=deck)
    model = {"basic": basic_type().name, "cloze": cloze_type().name}
    payload = [
        {
            "deckName": note.deck,
            "modelName": model[note.note_type],
            "fields": _note_payload(note),
            "tags": [*note.tags, identity_tag(note.guid, note.content_hash)],
            # Two facts may share a front in different sections; identity is the tag, not field 1.
            "options": {"allowDuplicate": True},
        }
        for note in notes
    ]
    for start in range(0, len(payload), BATCH):
        chunk = payload[start:start + BATCH]
        ids = client.invoke("addNotes", notes=chunk)
        failed = [chunk[i]["fields"] for i, nid in enumerate(ids or []) if nid is None]
        if failed or len(ids or []) != len(chunk):
            raise AnkiConnectError(f"AnkiConnect could not add {len(failed) or len(chunk)} notes (first: {str(failed[:1])[:200]})")


def _update(client: AnkiConnect, updates: Sequence[tuple["CardNote", _Owned]]) -> None:
    actions = []
    for note, mine in updates:
        kept = [t for t in mine.tags if t.lower() in KEPT_ANKI_TAGS]
        tags = list(dict.fromkeys([*note.tags, *kept, identity_tag(note.guid, note.content_hash)]))
        actions.append(("updateNote", {"note": {"id": mine.note_id, "fields": _note_payload(note), "tags": tags}}))
    if actions:
        client.multi(actions)


__all__ = [
    "DEFAULT_URL",
    "AnkiConnect",
    "AnkiConnectError",
    "PlannedNote",
    "PushReport",
    "check_version",
    "identity_tag",
    "parse_identity_tag",
    "push",
]

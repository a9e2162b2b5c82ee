"""Route 2: import a build into a collection file headlessly, then sync it (AnkiWeb or self-hosted).

Uses only the official `anki` library (`pip install aws-anki[sync]`), the same code Anki desktop
runs:

1. **Open** the collection (created if the file does not exist). Anki holds an exclusive SQLite
   lock on an open collection; if Anki desktop (or anything else) has it open, opening fails and we
   refuse with a clear message instead of waiting or copying.
2. **Pull first** (when a user is given): log in and sync, so the import lands on the learner's
   latest collection (reviews from the phone merged in). A fresh, empty local collection takes a
   full download of the server's collection; an empty server takes a full upload.
3. **Import** the build like Anki desktop's File > Import: notes matched by GUID and updated only
   when the package's note is newer (`mod`), note types matched by their pinned IDs and updated
   only when newer, scheduling never touched. The build state (GUIDs, content hashes, mod times)
   lives next to the collection as `<collection>.aws-anki.lock.json`, so an unchanged fact keeps
   its mod and an edit the learner made on the phone survives until the source changes.
4. **Push**: a normal sync sends the new and updated notes (and their media, then media sync runs
   to completion) to the server; the phone receives them at its next sync and merges its reviews.

Full syncs (one side overwrites the other) are chosen automatically only when one side has no
cards, so nothing can be lost (that is also what Anki itself does). When both sides have cards and
the server demands a full sync (a schema change, or a local collection that never synced with this
account), nothing is overwritten unless the caller says which side wins (`full_sync="upload"` or
`"download"`); a download is followed by the import, so the build still arrives.

Credentials: the password is used once to log in and never written anywhere. The session key
(`hkey`) Anki gets back is as good as the password for syncing, so it is not cached either: each
run logs in again (one extra request).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import DeliveryError
from ..outputs import replace_together, staging

try:  # the optional `anki` package (pip install 'aws-anki[sync]'); sync_collection says when it is missing
    from anki.collection import Collection
    from anki.errors import DBError, NetworkError, SyncError
    from anki.import_export_pb2 import (
        ImportAnkiPackageOptions,
        ImportAnkiPackageRequest,
        ImportAnkiPackageUpdateCondition,
    )
    from anki.sync import SyncOutput
except ImportError:  # pragma: no cover - depends on the installation
    Collection = None

if TYPE_CHECKING:  # pragma: no cover
    from ..build import BuildResult
    from ..state import Changes

PASSWORD_ENV = "AWS_ANKI_SYNC_PASSWORD"
FULL_SYNC_CHOICES = ("upload", "download")


class CollectionInUseError(DeliveryError):
    """The collection is open in Anki (or another program)."""


class FullSyncRequiredError(DeliveryError):
    """The server wants a one-way full sync and both sides have cards."""


@dataclass(frozen=True)
class SyncReport:
    """What `sync_collection` did: the import's counts and each sync step."""

    collection: Path
    added: int  # notes Anki added
    updated: int  # notes Anki updated in place (scheduling kept)
    unchanged: int  # notes whose GUID exists and that were left alone (not newer)
    conflicting: int  # GUID exists with another note type: left alone
    changes: "Changes | None"  # the build against the previous build state (removed facts are listed here)
    steps: tuple[str, ...] = ()  # e.g. ("pull: full download", "push: normal sync", "media: 3 added")
    synced: bool = False
    server_message: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """Plain data for `--json`."""
        return {
            "collection": str(self.collection),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "conflicting": self.conflicting,
            "removed": [r.as_dict() for r in (self.changes.removed if self.changes else ())],
            "steps": list(self.steps),
            "synced": self.synced,
            "server_message": self.server_message,
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
        }


def sync_state_path(collection_path: str | Path) -> Path:
    """Where the build state of the deck imported into this collection is kept."""
    path = Path(collection_path)
    return path.with_name(path.name + ".aws-anki.lock.json")


def normalise_endpoint(server: str | None) -> str | None:
    """A sync server URL as Anki expects it (with a trailing slash); None means AnkiWeb."""
    if not server:
        return None
    server = server.strip()
    if not server.startswith(("http://", "https://")):
        raise DeliveryError(f"sync server URL must start with http:// or https://, not {server!r}")
    return server if server.endswith("/") else server + "/"


def sync_collection(
    result: "BuildResult",
    collection_path: str | Path,
    *,
    server: str | None = None,
    user: str | None = None,
    password: str | None = None,
    full_sync: str | None = None,
    media_timeout: float = 600.0,
    progress: Callable[[str], None] | None = None,
) -> SyncReport:
    """Import `result` into the collection at `collection_path`, then sync it when `user` is given.

    `server`: a self-hosted sync server URL (None: AnkiWeb). `password`: None reads
    AWS_ANKI_SYNC_PASSWORD. `full_sync`: "upload" or "download" to settle a full sync that Anki
    would otherwise ask about (see the module doc). Raises `DeliveryError` (or a subclass) with a
    message for the user; the collection is always closed.
    """
    if full_sync not in (None, *FULL_SYNC_CHOICES):
        raise DeliveryError(f"full_sync must be one of {FULL_SYNC_CHOICES}, not {full_sync!r}")
    endpoint = normalise_endpoint(server)
    password = _password(user, password)
    if Collection is None:  # pragma: no cover - depends on the installation
        raise DeliveryError("the sync command needs the official anki package: pip install 'aws-anki[sync]'")
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    path = Path(collection_path).expanduser()
    col = _open(path)
    steps: list[str] = []
    server_message = ""
    try:
        session: _Session | None = None
        if user is not None:
            assert password is not None
            session = _Session(col, _login(col, user, password, endpoint), media_timeout)
            server_message = session.pull(full_sync, say, steps)
            col = session.col
        say("importing the build")
        summary, changes, warnings = _import(col, result, path)
        if session is not None:
            message = session.push(full_sync, say, steps)
            server_message = server_message or message
            col = session.col
    finally:
        _close(col)
    return SyncReport(
        collection=path,
        added=summary["new"],
        updated=summary["updated"],
        unchanged=summary["duplicate"],
        conflicting=summary["conflicting"],
        changes=changes,
        steps=tuple(steps),
        synced=user is not None,
        server_message=server_message,
        seconds=time.perf_counter() - started,
        warnings=warnings,
    )


def _password(user: str | None, password: str | None) -> str | None:
    """The password to log in with: the one given, else (with a user) AWS_ANKI_SYNC_PASSWORD."""
    if user is not None and password is None:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise DeliveryError(f"no sync password: set {PASSWORD_ENV} or enter it when asked")
    return password


def _open(path: Path) -> Any:
    if path.suffix != ".anki2":
        raise DeliveryError(f"{path}: a collection file ends in .anki2 (e.g. ~/.local/share/Anki2/User 1/collection.anki2)")
    if path.is_dir():
        raise DeliveryError(f"{path} is a folder; give the collection file inside it (collection.anki2)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Collection(str(path))
    except DBError as error:
        if "already open" in str(error).lower() or "locked" in str(error).lower():
            raise CollectionInUseError(
                f"{path} is open in Anki (or another program): close that profile in Anki "
                "(File > Switch Profile) or quit Anki, then run this again"
            ) from error
        raise DeliveryError(f"{path}: Anki cannot open this collection: {error}") from error
    except OSError as error:
        raise DeliveryError(f"{path}: cannot open the collection: {error.strerror or error}") from error


def _close(col: Any) -> None:
    if col is not None and col.db is not None:
        col.close()


def _login(col: Any, user: str, password: str, endpoint: str | None) -> Any:
    where = endpoint or "AnkiWeb"
    try:
        return col.sync_login(user, password, endpoint)
    except SyncError as error:
        raise DeliveryError(f"sync login to {where} as {user!r} failed: {error}") from error
    except NetworkError as error:
        raise DeliveryError(f"cannot reach the sync server {where}: {_first_line(error)}") from error


class _Session:
    """A logged-in collection: runs syncs and settles full syncs (reopening the collection)."""

    def __init__(self, col: Any, auth: Any, media_timeout: float) -> None:
        self.col = col
        self.auth = auth
        self.media_timeout = media_timeout
        self.media_started = False

    def pull(self, full_sync: str | None, say: Callable[[str], None], steps: list[str]) -> str:
        """Sync before the import, so that it lands on the latest collection; the server's message."""
        say("pulling the latest collection from the server")
        pulled, message = self.sync(phase="pull", full_sync=full_sync, sync_media=False)
        steps.append(f"pull: {pulled}")
        return message

    def push(self, full_sync: str | None, say: Callable[[str], None], steps: list[str]) -> str:
        """Sync after the import, then media to completion; the server's message."""
        say("pushing to the server")
        pushed, message = self.sync(phase="push", full_sync=full_sync, sync_media=True)
        steps.append(f"push: {pushed}")
        say("syncing media")
        steps.append(f"media: {self.wait_for_media()}")
        return message

    def sync(self, *, phase: str, full_sync: str | None, sync_media: bool) -> tuple[str, str]:
        try:
            out = self.col.sync_collection(self.auth, sync_media)
        except SyncError as error:
            raise DeliveryError(f"sync ({phase}) failed: {error}") from error
        except NetworkError as error:
            raise DeliveryError(f"sync ({phase}) failed, the server could not be reached: {_first_line(error)}") from error
        if out.new_endpoint:  # AnkiWeb may move an account to another host; follow it for this run
            self.auth.endpoint = out.new_endpoint
        required = out.required
        if required in (SyncOutput.NO_CHANGES, SyncOutput.NORMAL_SYNC):
            self.media_started = self.media_started or sync_media
            # The backend has already merged both ways (it reports NO_CHANGES once that is done).
            return "normal sync", out.server_message
        if required == SyncOutput.FULL_DOWNLOAD:  # the local collection has no cards: nothing to lose
            upload = False
        elif required == SyncOutput.FULL_UPLOAD:  # the server has no cards: nothing to lose
            upload = True
        elif full_sync is None:
            raise FullSyncRequiredError(
                "the sync server asks for a one-way full sync and both sides have cards; nothing was "
                "overwritten. Sync once in Anki desktop and choose there, or run again with "
                "--full-sync download (keep the server's collection, then import the build into it) or "
                "--full-sync upload (replace the server's collection with this one)"
            )
        elif phase == "push" and full_sync == "download":  # right after the import: it would be thrown away
            raise FullSyncRequiredError(
                "after the import the sync server still asks for a one-way full sync; a download now would "
                "discard the import, so nothing was overwritten. Sync once in Anki desktop and choose there"
            )
        else:
            upload = full_sync == "upload"
        self._full(upload, out.server_media_usn if sync_media else None)
        return ("full upload" if upload else "full download"), out.server_message

    def _full(self, upload: bool, server_media_usn: int | None) -> None:
        self.col.close_for_full_sync()
        try:
            self.col.full_upload_or_download(auth=self.auth, server_usn=server_media_usn, upload=upload)
        except (SyncError, NetworkError) as error:
            raise DeliveryError(f"full {'upload' if upload else 'download'} failed: {_first_line(error)}") from error
        finally:
            self.col.reopen(after_full_sync=True)
        self.media_started = self.media_started or server_media_usn is not None

    def wait_for_media(self) -> str:
        """Wait for the background media sync to finish; a summary of its last progress."""
        if not self.media_started:
            self.col.sync_media(self.auth)
        deadline = time.monotonic() + self.media_timeout
        last = None
        while True:
            try:
                status = self.col.media_sync_status()
            except Exception as error:  # the backend re-raises a failed media sync here
                raise DeliveryError(f"media sync failed: {_first_line(error)}") from error
            last = status.progress
            if not status.active:
                break
            if time.monotonic() > deadline:
                self.col.abort_media_sync()
                raise DeliveryError(f"media sync did not finish within {self.media_timeout:.0f} s; run again to resume it")
            time.sleep(0.05)
        parts = [p for p in (last.checked, last.added, last.removed) if p] if last is not None else []
        # Anki's translated strings wrap numbers in Unicode isolation marks; drop them for terminals.
        return "; ".join(parts).replace("\u2068", "").replace("\u2069", "") or "done"


def _import(col: Any, result: "BuildResult", collection_path: Path) -> tuple[dict[str, int], "Changes", tuple[str, ...]]:
    """Write the build (with its state next to the collection) and import it like Anki desktop."""
    if_newer = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER
    # Anki desktop's choices (tests/anki_harness.py DESKTOP_IMPORT_OPTIONS): update notes and note
    # types only when newer, never merge note types, keep scheduling, leave deck presets alone.
    options = ImportAnkiPackageOptions(
        merge_notetypes=False,
        update_notes=if_newer,
        update_notetypes=if_newer,
        with_scheduling=True,
        with_deck_configs=False,
    )
    state = sync_state_path(collection_path)
    with tempfile.TemporaryDirectory(prefix="aws-anki-sync-") as folder:
        deck = Path(folder) / "deck.apkg"
        staged_state = Path(folder) / "deck.apkg.lock.json"
        if state.exists():
            shutil.copyfile(state, staged_state)
        written = result.write(deck)
        log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(deck), options=options)).log
        col.models._clear_cache()  # the import does not invalidate the Python note type cache
        # Only now that the collection holds this build does its state become the reference
        # (renamed into place whole: a failed copy leaves the previous state).
        _replace_state(staged_state, state)
    warnings = [str(w) for w in written.warnings]
    if log.conflicting:
        warnings.append(
            f"{len(log.conflicting)} notes were left alone because the collection has them with another "
            "note type (were the AWS Anki note types' fields changed in Anki?)"
        )
    counts = {
        "new": len(log.new),
        "updated": len(log.updated),
        "duplicate": len(log.duplicate),
        "conflicting": len(log.conflicting),
    }
    return counts, written.changes, tuple(warnings)


def _replace_state(staged: Path, state: Path) -> None:
    """Put a copy of `staged` in place of `state`, whole or not at all (PackageError naming `state`)."""
    with staging(state, ".lock.json.part", "build state") as copy:
        shutil.copyfile(staged, copy)
    replace_together([(copy, state)], "build state")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return " ".join(text.split("\n\n", 1)[0].split()) or type(error).__name__

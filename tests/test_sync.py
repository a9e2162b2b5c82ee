"""Route 2 end to end: a headless collection imports the build and syncs through Anki's own sync
server (`python -m anki.syncserver`, on loopback); a second collection standing in for the phone
syncs it down, studies, and receives an edited fact with its reviews kept."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("anki")

from anki.collection import Collection  # noqa: E402
from anki.sync import SyncOutput  # noqa: E402
from anki_harness import answer_due_cards, note_by_guid, revlog_count, schedule_snapshot  # noqa: E402
from servers import SyncServer, Unavailable, sync_server  # noqa: E402

import aws_anki  # noqa: E402
from aws_anki.deliver import DeliveryError  # noqa: E402
from aws_anki.deliver.collection_sync import (  # noqa: E402
    CollectionInUseError,
    FullSyncRequiredError,
    sync_collection,
    sync_state_path,
)
from aws_anki.models import BASIC_MODEL_ID, CLOZE_MODEL_ID  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "s3cret-Pa55word"

LAMBDA = (FIXTURES / "deliver" / "lambda.md").read_text(encoding="utf-8")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SyncServer]:
    try:
        with sync_server(tmp_path / "server", password=PASSWORD) as running:
            yield running
    except Unavailable as error:
        pytest.skip(f"anki sync server unavailable: {error}")


@pytest.fixture
def vault(delivery_vault: Path) -> Path:
    return delivery_vault


def phone_sync(path: Path, server: SyncServer) -> str:
    """What AnkiMobile does at a sync, with the anki library: normal sync, or a full download when empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    col = Collection(str(path))
    try:
        auth = col.sync_login(server.user, server.password, server.url)
        out = col.sync_collection(auth, True)
        if out.required in (SyncOutput.NO_CHANGES, SyncOutput.NORMAL_SYNC):
            kind = "normal"
        else:
            assert out.required == SyncOutput.FULL_DOWNLOAD, out.required
            col.close_for_full_sync()
            col.full_upload_or_download(auth=auth, server_usn=out.server_media_usn, upload=False)
            col.reopen(after_full_sync=True)
            kind = "full download"
        while col.media_sync_status().active:  # no deadline: a busy machine is slow, not wrong
            time.sleep(0.05)
        return kind
    finally:
        col.close()


def sync_a(build: aws_anki.BuildResult, path: Path, server: SyncServer, **kwargs: object):
    return sync_collection(build, path, server=server.url, user=server.user, password=server.password, **kwargs)


def test_build_reaches_the_phone_and_an_edit_arrives_with_reviews_kept(tmp_path: Path, vault: Path, server: SyncServer) -> None:
    desktop = tmp_path / "A" / "collection.anki2"
    phone = tmp_path / "B" / "collection.anki2"

    build1 = aws_anki.build_deck([vault])
    first = sync_a(build1, desktop, server)
    assert (first.added, first.updated, first.unchanged) == (4, 0, 0)
    assert first.steps[:2] == ("pull: normal sync", "push: full upload")  # empty server: nothing to lose

    assert phone_sync(phone, server) == "full download"
    col = Collection(str(phone))
    try:
        guids = {note.guid: note for note in build1.notes}
        phone_notes = {col.get_note(nid).guid: col.get_note(nid) for nid in col.find_notes("")}
        assert set(phone_notes) == set(guids)
        for guid, note in phone_notes.items():
            assert list(note.fields) == list(guids[guid].fields)
            assert sorted(note.tags) == sorted(guids[guid].tags)
            assert note.mid in (BASIC_MODEL_ID, CLOZE_MODEL_ID)  # pinned note types, not copies
        assert col.card_count() == build1.report.cards == 5
        media_dir = Path(col.media.dir())
        for name, source in build1.media_files.items():
            assert (media_dir / name).read_bytes() == source.read_bytes()
        assert answer_due_cards(col, 5) == 5  # the learner studies every card on the phone
        before = schedule_snapshot(col)
        reviews = revlog_count(col)
        (edited,) = [n.guid for n in build1.notes if n.fields[0] == "Asynchronous invocation"]
        edited_nid = note_by_guid(col, edited).id
    finally:
        col.close()
    assert phone_sync(phone, server) == "normal"  # reviews go up before the desktop syncs again

    (vault / "compute" / "lambda.md").write_text(LAMBDA.replace("retries twice", "retries up to two more times"), encoding="utf-8")
    build2 = aws_anki.build_deck([vault])
    second = sync_a(build2, desktop, server)
    assert (second.added, second.updated, second.unchanged) == (0, 1, 3)
    assert second.steps[:2] == ("pull: normal sync", "push: normal sync")

    col = Collection(str(desktop))
    try:
        assert revlog_count(col) == reviews  # the pull merged the phone's reviews before importing
    finally:
        col.close()

    assert phone_sync(phone, server) == "normal"
    col = Collection(str(phone))
    try:
        changed = [n for n in build2.notes if "retries up to two more times" in n.fields[1]]
        assert len(changed) == 1
        note = note_by_guid(col, changed[0].guid)
        assert note["Back"] == changed[0].fields[1]
        assert note.guid == edited and note.id == edited_nid  # updated in place, not re-added
        assert len(col.find_notes("")) == 4 and col.card_count() == 5
        assert schedule_snapshot(col) == before  # every card keeps the phone's scheduling
        assert revlog_count(col) == reviews
    finally:
        col.close()


def test_same_build_again_changes_nothing_and_no_secret_is_written(tmp_path: Path, vault: Path, server: SyncServer) -> None:
    desktop = tmp_path / "A" / "collection.anki2"
    sync_a(aws_anki.build_deck([vault]), desktop, server)
    again = sync_a(aws_anki.build_deck([vault]), desktop, server)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert sync_state_path(desktop).is_file()
    for path in desktop.parent.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_refuses_a_collection_open_in_anki(tmp_path: Path, vault: Path) -> None:
    path = tmp_path / "A" / "collection.anki2"
    path.parent.mkdir()
    held = Collection(str(path))  # Anki desktop holding the profile open
    try:
        with pytest.raises(CollectionInUseError, match="is open in Anki"):
            sync_collection(aws_anki.build_deck([vault]), path)
        assert held.note_count() == 0
    finally:
        held.close()
    report = sync_collection(aws_anki.build_deck([vault]), path)  # closed: import only (no user)
    assert (report.added, report.synced, report.steps) == (4, False, ())


def test_wrong_password_and_unreachable_server_are_clear(tmp_path: Path, vault: Path, server: SyncServer) -> None:
    path = tmp_path / "A" / "collection.anki2"
    build = aws_anki.build_deck([vault])
    with pytest.raises(DeliveryError, match="sync login to .* as 'test' failed") as caught:
        sync_collection(build, path, server=server.url, user="test", password="wrong-password")
    assert "wrong-password" not in str(caught.value)
    with pytest.raises(DeliveryError, match="cannot reach the sync server"):
        sync_collection(build, path, server="http://127.0.0.1:9/", user="test", password="x")


def test_full_sync_conflict_is_never_settled_silently(tmp_path: Path, vault: Path, server: SyncServer) -> None:
    phone = tmp_path / "B" / "collection.anki2"
    phone.parent.mkdir()
    col = Collection(str(phone))  # the learner's existing collection, already on the server
    try:
        note = col.new_note(col.models.by_name("Basic"))
        note["Front"], note["Back"] = "my own card", "keep me"
        col.add_note(note, col.decks.id("Default"))
    finally:
        col.close()
    col = Collection(str(phone))
    try:
        auth = col.sync_login(server.user, server.password, server.url)
        out = col.sync_collection(auth, False)
        assert out.required == SyncOutput.FULL_UPLOAD
        col.close_for_full_sync()
        col.full_upload_or_download(auth=auth, server_usn=None, upload=True)
        col.reopen(after_full_sync=True)
    finally:
        col.close()

    desktop = tmp_path / "A" / "collection.anki2"
    sync_collection(aws_anki.build_deck([vault]), desktop)  # imported earlier, never synced
    with pytest.raises(FullSyncRequiredError, match="--full-sync download"):
        sync_a(aws_anki.build_deck([vault]), desktop, server)
    report = sync_a(aws_anki.build_deck([vault]), desktop, server, full_sync="download")
    assert report.steps[0] == "pull: full download" and report.added == 4  # re-imported into the server's copy
    assert phone_sync(phone, server) == "normal"
    col = Collection(str(phone))
    try:
        assert col.find_notes('"front:my own card"') and len(col.find_notes("")) == 5
    finally:
        col.close()

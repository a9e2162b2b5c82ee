"""Route 1 against a real AnkiConnect-compatible server on loopback: the PyPI package
`anki-connect-server` (FastAPI over the official anki library, in its own Python 3.12 venv; see
tests/servers.py for the three upstream-parity fixes its launcher applies). Reviews are made with
AnkiConnect's own `answerCards` (Anki's scheduler), so "scheduling kept" is checked on real cards."""
from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from servers import AnkiConnectServer, Unavailable, ankiconnect_server, free_port

import aws_anki
from aws_anki.deliver import DeliveryError
from aws_anki.deliver.ankiconnect import AnkiConnect, check_version, identity_tag, parse_identity_tag, push
from aws_anki.models import basic_type, cloze_type

FIXTURES = Path(__file__).parent / "fixtures"

LAMBDA = (FIXTURES / "deliver" / "lambda.md").read_text(encoding="utf-8")


def _server(tmp_path: Path, **kwargs: Any) -> Iterator[AnkiConnectServer]:
    try:
        with ankiconnect_server(tmp_path / "ankiconnect", **kwargs) as running:
            yield running
    except Unavailable as error:
        pytest.skip(f"anki-connect-server unavailable: {error}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AnkiConnectServer]:
    yield from _server(tmp_path)


@pytest.fixture
def vault(delivery_vault: Path) -> Path:
    return delivery_vault


def edit(vault: Path, old: str, new: str) -> None:
    path = vault / "compute" / "lambda.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def notes_by_guid(anki: AnkiConnect) -> dict[str, dict[str, Any]]:
    infos = anki.invoke("notesInfo", notes=anki.invoke("findNotes", query="tag:aws-anki::*"))
    found = {}
    for info in infos:
        (guid,) = [parsed[0] for parsed in map(parse_identity_tag, info["tags"]) if parsed]
        found[guid] = info
    return found


def schedules(anki: AnkiConnect) -> dict[int, tuple[int, int, int, int]]:
    cards = anki.invoke("cardsInfo", cards=anki.invoke("findCards", query="deck:*"))
    return {c["cardId"]: (c["note"], c["interval"], c["due"], c["reps"]) for c in cards}


def test_identity_tags_round_trip() -> None:
    tag = identity_tag("Oc%h]uDO}Q", "0123456789abcdef0123")
    assert tag == "aws-anki::4f6325685d75444f7d51.0123456789ab"
    assert parse_identity_tag(tag) == ("Oc%h]uDO}Q", "0123456789ab")
    assert parse_identity_tag("AWS::Compute::Lambda") is None
    assert parse_identity_tag("aws-anki::not-hex.00") is None


def test_push_adds_updates_in_place_and_deletes_only_its_own(server: AnkiConnectServer, vault: Path) -> None:
    anki = AnkiConnect(server.url)
    build = aws_anki.build_deck([vault])

    plan = push(build, url=server.url, dry_run=True)
    assert (plan.added, plan.updated, plan.unchanged, plan.media) == (4, 0, 0, 1)
    assert [p.action for p in plan.plan] == ["add"] * 4 and plan.note_types == (
        "created note type AWS Anki Basic", "created note type AWS Anki Cloze")
    assert anki.invoke("findNotes", query="deck:*") == [] and "AWS Anki Basic" not in anki.invoke("modelNames")

    first = push(build, url=server.url)
    assert (first.added, first.updated, first.unchanged, first.media) == (4, 0, 0, 1)
    pushed = notes_by_guid(anki)
    assert set(pushed) == {n.guid for n in build.notes}
    for note in build.notes:
        info = pushed[note.guid]
        assert [info["fields"][name]["value"] for name in note.field_names] == list(note.fields)
        assert sorted(info["tags"]) == sorted([*note.tags, identity_tag(note.guid, note.content_hash)])
    assert len(schedules(anki)) == build.report.cards == 5  # the 2-deletion cloze note has 2 cards
    (media_name,) = build.media_files
    assert anki.invoke("retrieveMediaFile", filename=media_name) is not None
    for note_type in (basic_type(), cloze_type()):
        assert anki.invoke("modelFieldNames", modelName=note_type.name) == list(note_type.fields)
        assert anki.invoke("modelStyling", modelName=note_type.name)["css"] == note_type.css

    # The learner studies every card and edits one note in Anki; a foreign note shares our note type.
    cards = sorted(schedules(anki))
    assert all(anki.invoke("answerCards", answers=[{"cardId": c, "ease": 3} for c in cards]))
    studied = schedules(anki)
    timeout = next(n for n in build.notes if n.fields[0] == "Maximum timeout")
    anki.invoke("updateNoteFields", note={"id": pushed[timeout.guid]["noteId"], "fields": {"Back": "15 min (my words)"}})
    foreign = anki.invoke("addNote", note={"deckName": "AWS", "modelName": "AWS Anki Basic", "tags": ["mine"],
                                           "fields": {"Front": "Memory", "Back": "my own note"}})

    again = push(aws_anki.build_deck([vault]), url=server.url)
    assert (again.added, again.updated, again.unchanged, again.media, again.note_types) == (0, 0, 4, 0, ())
    assert notes_by_guid(anki)[timeout.guid]["fields"]["Back"]["value"] == "15 min (my words)"  # edit survives

    edit(vault, "retries twice", "retries up to two more times")
    edit(vault, "- **Memory**: from 128 MB up to 10,240 MB\n", "")
    build2 = aws_anki.build_deck([vault])
    changed = next(n for n in build2.notes if n.fields[0] == "Asynchronous invocation")
    memory = next(n for n in build.notes if n.fields[0] == "Memory")
    second = push(build2, url=server.url)
    assert (second.added, second.updated, second.unchanged, second.stale, second.deleted) == (0, 1, 2, 1, 0)
    now = notes_by_guid(anki)
    assert now[changed.guid]["noteId"] == pushed[changed.guid]["noteId"]  # updated in place
    assert now[changed.guid]["fields"]["Back"]["value"] == changed.fields[1]
    now_scheduled = schedules(anki)
    assert {card: now_scheduled[card] for card in studied} == studied  # interval, due date and reps kept

    third = push(build2, url=server.url, delete=True)
    assert (third.deleted, third.stale, [p.action for p in third.plan]) == (1, 0, ["delete"])
    left = notes_by_guid(anki)
    assert memory.guid not in left and set(left) == {n.guid for n in build2.notes}
    assert anki.invoke("notesInfo", notes=[foreign])[0]["fields"]["Back"]["value"] == "my own note"  # never touched
    kept = {card: when for card, when in studied.items() if when[0] != pushed[memory.guid]["noteId"]}
    now_scheduled = schedules(anki)
    assert {card: now_scheduled[card] for card in kept} == kept and len(now_scheduled) == len(kept) + 1  # + foreign


def test_template_and_css_drift_is_repaired_in_place(server: AnkiConnectServer, vault: Path) -> None:
    anki = AnkiConnect(server.url)
    push(aws_anki.build_deck([vault]), url=server.url)
    ids = anki.invoke("modelNamesAndIds")
    anki.invoke("updateModelStyling", model={"name": "AWS Anki Cloze", "css": ".card { color: red }"})
    anki.invoke("updateModelTemplates", model={"name": "AWS Anki Basic", "templates": {"Reverse": {"Front": "{{Back}}?", "Back": "{{Front}}"}}})

    report = push(aws_anki.build_deck([vault]), url=server.url)
    assert report.note_types == ("updated the templates of AWS Anki Basic", "updated the styling of AWS Anki Cloze")
    assert report.unchanged == 4 and anki.invoke("modelNamesAndIds") == ids  # same note types, no copies
    wanted = {name: {"Front": front, "Back": back} for name, front, back in basic_type().templates}
    assert anki.invoke("modelTemplates", modelName="AWS Anki Basic") == wanted
    assert anki.invoke("modelStyling", modelName="AWS Anki Cloze")["css"] == cloze_type().css


def test_refuses_a_note_type_of_that_name_with_other_fields(server: AnkiConnectServer, vault: Path) -> None:
    anki = AnkiConnect(server.url)
    anki.invoke("createModel", modelName="AWS Anki Basic", inOrderFields=["Front", "Back"],
                cardTemplates=[{"Name": "Card 1", "Front": "{{Front}}", "Back": "{{Back}}"}])
    with pytest.raises(DeliveryError, match=r"note type named 'AWS Anki Basic' with fields \['Front', 'Back'\]"):
        push(aws_anki.build_deck([vault]), url=server.url)
    assert anki.invoke("findNotes", query="deck:*") == []


def test_connection_and_version_errors_are_clear(vault: Path) -> None:
    build = aws_anki.build_deck([vault])
    with pytest.raises(DeliveryError, match="Is Anki running with AnkiConnect installed"):
        push(build, url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryError, match="needs 6 or later"):
        check_version(5)

    class NotAnki(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    other = http.server.HTTPServer(("127.0.0.1", 0), NotAnki)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DeliveryError, match="is this AnkiConnect"):
            push(build, url=f"http://127.0.0.1:{other.server_address[1]}")
    finally:
        other.shutdown()


def test_a_wrong_api_key_is_named(tmp_path: Path, vault: Path) -> None:
    build = aws_anki.build_deck([vault])
    for running in _server(tmp_path, key="s3cret"):
        with pytest.raises(DeliveryError, match="refused the API key"):
            push(build, url=running.url, key="wrong")
        assert push(build, url=running.url, key="s3cret").added == 4


def test_a_server_that_ignores_iscloze_is_refused_not_filled(tmp_path: Path, vault: Path) -> None:
    for running in _server(tmp_path, as_published=True):  # anki-connect-server 0.5.0 as published
        with pytest.raises(DeliveryError, match="ignored isCloze"):
            push(aws_anki.build_deck([vault]), url=running.url)
        assert AnkiConnect(running.url).invoke("findNotes", query="deck:*") == []


def test_tests_never_install_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server where the tests look: they skip saying how to install one, and run no installer."""
    import subprocess

    import servers

    monkeypatch.setattr(servers, "_CACHE", tmp_path / "empty-cache")
    monkeypatch.delenv("AWS_ANKI_ANKICONNECT_PYTHON", raising=False)
    monkeypatch.delenv("AWS_ANKI_ANKICONNECT", raising=False)
    ran: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: ran.append(args))
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: ran.append(args))
    with pytest.raises(Unavailable, match=r"never install it.*servers\.py install"):
        with ankiconnect_server(tmp_path / "ankiconnect"):
            pass
    assert ran == [] and not (tmp_path / "empty-cache").exists()


def test_the_push_tests_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import servers

    monkeypatch.setenv("AWS_ANKI_ANKICONNECT", "0")
    with pytest.raises(Unavailable, match="AWS_ANKI_ANKICONNECT=0"):
        servers.ankiconnect_python()

"""The build state file: it reads back exactly, older versions are still read, and a damaged one is
ignored with a warning, never trusted. Correctness only: no timings here (see benchmarks/run.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aws_anki.state import BuildState, _record, load_state, save_state


def _state() -> BuildState:
    notes = {
        "Ab3": _record(("lambda|limits|basic|timeout", "0a1b2c", 1_700_000_000, "lambda.md:3", "basic", "Maximum timeout")),
        "zZ9": _record(("s3|classes|cloze|glacier", "ff00ee", 1_700_000_100, 'odd "name"\\é.md:7', "cloze", '{{c1::<b>Glacier</b>}} "\\ é')),
    }
    return BuildState(notes, {1607392319: ("fingerprint", 1_700_000_000)})


def test_round_trip_one_note_per_line_sorted(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    assert load_state(path) == (_state(), ())
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith("  [")]
    assert [json.loads(row.rstrip(","))[0] for row in rows] == ["Ab3", "zZ9"]
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 2


def test_empty_state_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, BuildState({}, {}))
    assert load_state(path) == (BuildState({}, {}), ())


def test_version_1_file_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    path.write_text(json.dumps({
        "version": 1,
        "notes": {guid: {"identity": r.identity, "hash": r.content_hash, "mod": r.mod, "source": r.source, "type": r.note_type}
                  for guid, r in _state().notes.items()},
        "models": {"1607392319": {"fingerprint": "fingerprint", "mod": 1_700_000_000}},
    }), encoding="utf-8")
    assert load_state(path) == (_without_fronts(_state()), ())


def _without_fronts(state: BuildState) -> BuildState:
    return BuildState({g: r._replace(front="") for g, r in state.notes.items()}, state.models)


def test_version_2_file_without_fronts_is_still_read(tmp_path: Path) -> None:
    """States written before the first field was kept: read, with no first fields to name removed notes."""
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["columns"][-1] == "front"
    raw["columns"] = raw["columns"][:-1]
    raw["notes"] = [row[:-1] for row in raw["notes"]]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert load_state(path) == (_without_fronts(_state()), ())


@pytest.mark.parametrize(
    "tamper",
    ["mod-not-an-int", "identity-not-a-string", "front-not-a-string", "row-too-short", "row-not-a-list", "guid-twice", "other-columns", "truncated"],
)
def test_damaged_state_is_ignored_with_a_warning(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tamper == "mod-not-an-int":
        raw["notes"][0][3] = "1700000000"
    elif tamper == "identity-not-a-string":
        raw["notes"][0][1] = None
    elif tamper == "front-not-a-string":
        raw["notes"][0][6] = ["<script>"]
    elif tamper == "row-too-short":
        raw["notes"][0] = raw["notes"][0][:-1]
    elif tamper == "row-not-a-list":
        raw["notes"][0] = {"guid": "Ab3"}
    elif tamper == "guid-twice":
        raw["notes"][1][0] = raw["notes"][0][0]
    elif tamper == "other-columns":
        raw["columns"] = list(reversed(raw["columns"]))
    text = json.dumps(raw)
    path.write_text(text[: len(text) // 2] if tamper == "truncated" else text, encoding="utf-8")
    state, warnings = load_state(path)
    assert state is None
    assert [w.code for w in warnings] == ["state"]


def test_hand_edited_guids_and_hashes_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    odd = BuildState({'g "1"\\': _record(("id", 'h"', 5, "s.md:1", "basic", ""))}, {})
    save_state(path, odd)
    assert load_state(path) == (odd, ())


def test_state_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_state(path, BuildState({"Ab3": _record((None, "0a", 1, "s", "basic", ""))}, {}))  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path))


def test_rows_are_sorted_by_guid_whatever_its_characters(tmp_path: Path) -> None:
    guids = ["ab", "abc", "a-", "a0", "aZ", "a_", "aa", "A", "9z", "ab-", "ab0"]
    state = BuildState({g: _record((f"id {g}", "0f", 1, "s.md:1", "basic", "x")) for g in guids}, {})
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, state)
    assert [row[0] for row in json.loads(path.read_text(encoding="utf-8"))["notes"]] == sorted(guids)


# The one clock ------------------------------------------------------------------------------------

SQS = "# Amazon SQS\n\n- **Visibility timeout**: hides a received message\n- **Retention**: 4 days by default\n"


def _route(route: str, vault: Path, tmp_path: Path) -> Path:
    """Build `vault` and settle its notes the `route` way; the state file that route keeps."""
    import aws_anki

    result = aws_anki.build_deck([vault], run=aws_anki.RunOptions(use_cache=False))
    if route == "build":
        out = tmp_path / "deck.apkg"
        result.write(out)
        return out.with_name("deck.apkg.lock.json")
    if route == "sync":
        pytest.importorskip("anki")
        from aws_anki.deliver.collection_sync import sync_collection, sync_state_path

        collection = tmp_path / "anki" / "collection.anki2"
        sync_collection(result, collection)  # no user: import only, no server
        return sync_state_path(collection)
    from aws_anki.deliver.ankiconnect import _settle_guids  # what push settles before it sends

    state = tmp_path / "push.lock.json"
    save_state(state, _settle_guids(result, state)[1])
    return state


@pytest.mark.parametrize("route", ["build", "sync", "push"])
def test_every_route_dates_changes_by_the_one_clock(route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build, sync and push stamp a changed note with SOURCE_DATE_EPOCH, never the wall clock,
    and leave an unchanged note its time."""
    vault = tmp_path / "notes"
    vault.mkdir()
    note = vault / "sqs.md"
    note.write_text(SQS, encoding="utf-8")
    os.utime(note, (1_600_000_000, 1_600_000_000))  # a first build dates notes by their file
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1900000000")
    state, _ = load_state(_route(route, vault, tmp_path))
    assert state is not None and {r.mod for r in state.notes.values()} == {1_600_000_000}
    note.write_text(SQS.replace("4 days", "four days"), encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1900000100")
    state, _ = load_state(_route(route, vault, tmp_path))
    assert state is not None
    assert sorted(r.mod for r in state.notes.values()) == [1_600_000_000, 1_900_000_100]


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5", "99999999999999999999"])
def test_a_bad_source_date_epoch_is_one_clear_error(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from aws_anki.cli import cli

    (tmp_path / "sqs.md").write_text(SQS, encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "sqs.md"), "-o", str(tmp_path / "deck.apkg")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output  # no traceback
    assert f"SOURCE_DATE_EPOCH={value!r} is not a time" in result.output
    assert not (tmp_path / "deck.apkg").exists()

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
        "Ab3": _record(("lambda|limits|basic|timeout", "0a1b2c", 1_700_000_000, "lambda.md:3", "basic")),
        "zZ9": _record(("s3|classes|cloze|glacier", "ff00ee", 1_700_000_100, 'odd "name"\\é.md:7', "cloze")),
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
    assert load_state(path) == (_state(), ())


@pytest.mark.parametrize(
    "tamper",
    ["mod-not-an-int", "identity-not-a-string", "row-too-short", "row-not-a-list", "guid-twice", "other-columns", "truncated"],
)
def test_damaged_state_is_ignored_with_a_warning(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tamper == "mod-not-an-int":
        raw["notes"][0][3] = "1700000000"
    elif tamper == "identity-not-a-string":
        raw["notes"][0][1] = None
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
    odd = BuildState({'g "1"\\': _record(("id", 'h"', 5, "s.md:1", "basic"))}, {})
    save_state(path, odd)
    assert load_state(path) == (odd, ())


def test_state_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, _state())
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_state(path, BuildState({"Ab3": _record((None, "0a", 1, "s", "basic"))}, {}))  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path))


def test_rows_are_sorted_by_guid_whatever_its_characters(tmp_path: Path) -> None:
    guids = ["ab", "abc", "a-", "a0", "aZ", "a_", "aa", "A", "9z", "ab-", "ab0"]
    state = BuildState({g: _record((f"id {g}", "0f", 1, "s.md:1", "basic")) for g in guids}, {})
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, state)
    assert [row[0] for row in json.loads(path.read_text(encoding="utf-8"))["notes"]] == sorted(guids)

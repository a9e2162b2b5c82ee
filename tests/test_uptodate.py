"""A rebuild into the same deck does nothing when nothing changed, and everything when anything did.
Correctness only: no timings here (see benchmarks/run.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aws_anki import build_into
from aws_anki.build import DeckBuild
from aws_anki.cli import cli
from aws_anki.uptodate import record_path
from aws_anki.options import DeckOptions, RunOptions


MISSING_IMAGE = "# Amazon S3\n\n- **Bucket policy**: JSON rules on a bucket ![[policy-diagram.png]]\n"


def _build(vault: Path, out: Path, cache: Path, deck: DeckOptions = DeckOptions(), use_cache: bool = True) -> DeckBuild:
    return build_into(out, [vault], deck, RunOptions(cache_dir=cache, jobs=1, use_cache=use_cache))


@pytest.fixture
def built(vault: Path, tmp_path: Path) -> tuple[Path, Path, DeckBuild]:
    """The fixture vault built once into out.apkg, with its own cache folder."""
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    (vault / "s3.md").write_text(MISSING_IMAGE)
    first = _build(vault, out, cache)
    assert not first.written.up_to_date and first.result is not None
    return out, cache, first


def test_unchanged_rebuild_leaves_the_deck_alone(vault: Path, built: tuple[Path, Path, DeckBuild]) -> None:
    out, cache, first = built
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    again = _build(vault, out, cache)
    assert again.written.up_to_date and again.result is None
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    keys = ("files", "notes", "cards", "notes_by_kind", "notes_by_service", "skipped", "merged", "warnings")
    assert {k: again.report.as_dict()[k] for k in keys} == {k: first.report.as_dict()[k] for k in keys}
    assert again.report.warnings == first.report.warnings  # the same objects, file:line and all
    assert len(again.written.changes.unchanged) == first.report.notes
    assert again.written.changes.added == again.written.changes.updated == ()


@pytest.mark.parametrize("change", ["edit-note", "add-note", "deck-touched", "deck-deleted", "state-deleted",
                                    "image-changed", "image-added", "record-corrupt", "other-options"])
def test_any_change_makes_a_full_build(vault: Path, built: tuple[Path, Path, DeckBuild], change: str) -> None:
    out, cache, first = built
    deck = DeckOptions()
    if change == "edit-note":
        note = vault / "compute" / "lambda.md"
        note.write_text(note.read_text() + "\n- **Default timeout**: 3 seconds\n")
    elif change == "add-note":
        (vault / "compute" / "batch.md").write_text("# AWS Batch\n\n- **Job queue**: where submitted jobs wait\n")
    elif change == "deck-touched":
        out.write_bytes(out.read_bytes() + b"\0")
    elif change == "deck-deleted":
        out.unlink()
    elif change == "state-deleted":
        out.with_name(out.name + ".lock.json").unlink()
    elif change == "image-changed":
        image = next(p for p in (vault / "attachments").iterdir() if p.is_file())
        image.write_bytes(image.read_bytes() + b" ")
    elif change == "image-added":  # a reference that was missing now resolves
        assert any(w.code == "missing-image" for w in first.report.warnings)
        (vault / "attachments" / "policy-diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    elif change == "record-corrupt":
        record_path(cache, out).write_text("{not json")
    elif change == "other-options":
        deck = DeckOptions(reverse="all")
    again = _build(vault, out, cache, deck)
    assert not again.written.up_to_date and again.result is not None
    assert out.is_file()
    # ... and the build after it is up to date again.
    assert _build(vault, out, cache, deck).written.up_to_date


def test_no_cache_or_no_state_always_builds(vault: Path, built: tuple[Path, Path, DeckBuild]) -> None:
    out, cache, _ = built
    assert not _build(vault, out, cache, use_cache=False).written.up_to_date
    assert not build_into(out, [vault], run=RunOptions(cache_dir=cache), use_state=False).written.up_to_date


def test_a_failed_write_is_never_up_to_date(vault: Path, built: tuple[Path, Path, DeckBuild],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache, _ = built
    note = vault / "compute" / "lambda.md"
    note.write_text(note.read_text() + "\n- **Default timeout**: 3 seconds\n")

    def fail(*args: object, **kwargs: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr("aws_anki.package._stage", fail)
    with pytest.raises(OSError):
        _build(vault, out, cache)
    monkeypatch.undo()
    assert not record_path(cache, out).exists()
    assert not _build(vault, out, cache).written.up_to_date


def test_cli_says_up_to_date(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    (vault / "s3.md").write_text(MISSING_IMAGE)
    command = ["build", str(vault), "-o", str(out), "--cache-dir", str(cache)]
    first = CliRunner().invoke(cli, command)
    assert first.exit_code == 0 and "\nWrote " in first.output, first.output
    second = CliRunner().invoke(cli, command)
    assert second.exit_code == 0, second.output
    assert "Up to date (nothing changed since the last build)" in second.output
    assert "0 added, 0 updated" in second.output
    assert second.output.count("warning:") == first.output.count("warning:") > 0


def test_state_file_round_trips_one_note_per_line(tmp_path: Path) -> None:
    from aws_anki.state import BuildState, NoteRecord, load_state, save_state

    state = BuildState(
        {f"g{i}": NoteRecord(f'ec2|sección "{i}"|basic|x', f"h{i}", 1_700_000_000 + i, f"a.md:{i}", "basic", f"<b>X</b> \"{i}\"") for i in range(3)},
        {1780395021: ("abc", 5)},
    )
    path = tmp_path / "deck.apkg.lock.json"
    save_state(path, state)
    assert load_state(path) == (state, ())
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0].strip() for line in lines if line.startswith('  ["g')] == ['["g0"', '["g1"', '["g2"']
    assert "sección" in path.read_text(encoding="utf-8")  # readable, not \u-escaped
    save_state(path, BuildState({}, {}))
    assert load_state(path) == (BuildState({}, {}), ())


def test_cli_rebuild_after_an_edit_reports_what_changed(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    command = ["build", str(vault), "-o", str(out), "--cache-dir", str(cache)]
    first = CliRunner().invoke(cli, command)
    assert first.exit_code == 0, first.output
    note = vault / "compute" / "lambda.md"
    note.write_text(note.read_text() + "\n- **Default timeout**: 3 seconds\n")
    second = CliRunner().invoke(cli, command)
    assert second.exit_code == 0, second.output
    assert "1 added, 0 updated" in second.output

"""The command line, end to end, through click's runner and as a real subprocess."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aws_anki.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_build_fixture_vault(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.apkg"
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(out), "--deck-name", "Test"])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert re.search(r"Wrote .*out\.apkg .*: \d+ notes, \d+ cards from 2 files", result.output)
    assert "basic notes" in result.output and "cloze notes" in result.output
    assert "Changes since last build:" in result.output


def test_build_json_and_strict(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.apkg"
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(out), "--json"])
    data = json.loads(result.output)
    assert data["notes"] > 0 and data["changes"]["added"] == data["notes"]
    (vault / "compute" / "broken.md").write_text("- a **fact** here\n\n![[nowhere.png]]\n")
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(out), "--strict", "-q"])
    assert result.exit_code == 1
    assert "broken.md:1" in result.output  # the fact the image belongs to and "nowhere.png" in result.output


def test_build_bundled_notes_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["build", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "aws.apkg").is_file()


def test_inspect_table_and_json(vault: Path) -> None:
    table = CliRunner().invoke(cli, ["inspect", str(vault)])
    assert table.exit_code == 0
    assert "compute/lambda.md:6  [definition]  AWS Lambda" in table.output
    lines = CliRunner().invoke(cli, ["inspect", str(vault), "--json"]).output.splitlines()
    notes = [json.loads(line) for line in lines]
    assert all({"guid", "fields", "tags", "source", "context"} <= set(n) for n in notes)


def test_inspect_stats(vault: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(vault), "--stats"])
    assert result.exit_code == 0
    assert "Coverage: bold spans" in result.output
    assert "first-person" in result.output


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert "no Markdown files" in result.output
    assert "Traceback" not in result.output


def test_every_command_has_help_with_example_and_is_in_readme() -> None:
    readme = README.read_text()
    for name, command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, name
        assert f"aws-anki {name}" in readme, name


def test_version_and_module_entry_point() -> None:
    assert CliRunner().invoke(cli, ["--version"]).output.startswith("aws-anki, version ")
    done = subprocess.run([sys.executable, "-m", "aws_anki", "--help"], capture_output=True, text=True, check=True)
    assert "build" in done.stdout and "inspect" in done.stdout


def test_preview_command_and_build_preview(vault: Path, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    result = CliRunner().invoke(cli, ["preview", str(vault), "-o", str(page)])
    assert result.exit_code == 0, result.output
    assert page.read_text().count('class="card') > 5
    other = tmp_path / "q.html"
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(tmp_path / "d.apkg"), "--preview", str(other), "-q"])
    assert result.exit_code == 0 and other.is_file()


def test_attachments_folder_option(vault: Path, tmp_path: Path) -> None:
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    (pictures / "arch.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>')
    (vault / "compute" / "batch.md").write_text("# AWS Batch\n\n- **Job queue**: holds submitted jobs\n\n![[arch.svg]]\n")
    without = CliRunner().invoke(cli, ["inspect", str(vault / "compute" / "batch.md"), "--json"])
    assert "missing-image" in without.output  # outside the notes root: not found by default
    with_folder = CliRunner().invoke(cli, ["inspect", str(vault / "compute" / "batch.md"), "--json", "--attachments", str(pictures)])
    assert with_folder.exit_code == 0 and '<img src=\\"arch-' in with_folder.output


def test_progress_shows_stages_once_a_build_is_slow(vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from aws_anki import build_into
    from aws_anki.cli import _Progress

    monkeypatch.setattr(_Progress, "DELAY", -1.0)  # as if parsing had already taken a while
    progress = _Progress(enabled=True)
    build_into(tmp_path / "out.apkg", [vault], cache_dir=tmp_path / "cache", jobs=1, progress=progress)
    progress.close()
    shown = capsys.readouterr().err
    assert "Parsing notes" in shown and "Merging duplicate facts..." in shown and "Writing the deck..." in shown
    assert shown.index("Merging") < shown.index("Writing")
    quiet = _Progress(enabled=False)
    build_into(tmp_path / "other.apkg", [vault], cache_dir=tmp_path / "cache", jobs=1, progress=quiet)
    assert capsys.readouterr().err == ""


def test_console_script_freezes_what_is_alive_before_the_process_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from aws_anki import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["aws-anki", "--help"])
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit):
            cli_module.main()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()

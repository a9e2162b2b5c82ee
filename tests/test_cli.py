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
from aws_anki.options import RunOptions

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
    (vault / "compute" / "broken.md").write_text("- a function runs for at most **15 minutes**\n\n![[nowhere.png]]\n")
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(out), "--strict", "-q"])
    assert result.exit_code == 1
    (line,) = result.output.splitlines()  # -q: the warning, nothing else
    # the line of the fact the image belongs to, the image's name, the warning's code
    assert line.startswith("warning: compute/broken.md:1: image 'nowhere.png' not found"), line
    assert line.endswith("[missing-image]"), line


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
    from aws_anki.progress import ProgressBar

    monkeypatch.setattr(ProgressBar, "DELAY", -1.0)  # as if parsing had already taken a while
    progress = ProgressBar(enabled=True)
    build_into(tmp_path / "out.apkg", [vault], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1, progress=progress))
    progress.close()
    shown = capsys.readouterr().err
    assert "Parsing notes" in shown and "Merging duplicate facts..." in shown and "Writing the deck..." in shown
    assert shown.index("Merging") < shown.index("Writing")
    quiet = ProgressBar(enabled=False)
    build_into(tmp_path / "other.apkg", [vault], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1, progress=quiet))
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


def _sample(vault: Path, *options: str) -> str:
    result = CliRunner().invoke(cli, ["inspect", str(vault), "--sample", "4", *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_inspect_sample_prints_cards_as_raters_get_them(vault: Path) -> None:
    shown = _sample(vault)
    first = shown.splitlines()[0]
    assert re.fullmatch(r"# 4 of \d+ cards, seed 0", first)
    headers = re.findall(r"^## Card (\d+) — (\S+\.md:\d+) \((\w+)\)$", shown, re.M)
    assert [number for number, _, _ in headers] == ["1", "2", "3", "4"]
    cards = shown.split("\n## Card ")[1:]
    assert all("\nFRONT:\n" in card and "\nBACK:\n" in card for card in cards)
    assert re.search(r"</?[a-z]+[ >]", shown) is None  # no HTML left


def test_inspect_sample_is_repeatable_by_seed(vault: Path) -> None:
    assert _sample(vault) == _sample(vault, "--seed", "0")
    assert _sample(vault, "--seed", "7") == _sample(vault, "--seed", "7")
    drawn = _sample(vault).split("\n", 1)[1]  # the cards, without the line naming the seed
    assert any(_sample(vault, "--seed", str(seed)).split("\n", 1)[1] != drawn for seed in (1, 2, 3))


def test_inspect_sample_without_source_hides_how_cards_were_made(vault: Path) -> None:
    with_source, blind = _sample(vault, "--seed", "5"), _sample(vault, "--seed", "5", "--no-source")
    assert re.findall(r"^## Card \d+$", blind, re.M) == ["## Card 1", "## Card 2", "## Card 3", "## Card 4"]
    assert ".md" not in blind and "(definition)" not in blind and "(cloze)" not in blind
    assert re.sub(r" — .*", "", with_source) == blind  # the same cards, only the sources gone
    bad = CliRunner().invoke(cli, ["inspect", str(vault), "--no-source"])
    assert bad.exit_code == 2 and "--no-source goes with --sample" in bad.output


def test_inspect_sample_as_json_lines(vault: Path) -> None:
    lines = CliRunner().invoke(cli, ["inspect", str(vault), "--sample", "3", "--json", "--no-source"]).stdout.splitlines()
    cards = [json.loads(line) for line in lines]
    assert [c["card"] for c in cards] == [1, 2, 3] and all(set(c) == {"card", "front", "back"} for c in cards)


def test_inspect_skipped_lists_each_line_by_reason(vault: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(vault), "--skipped"])
    assert result.exit_code == 0, result.output
    assert re.match(r"\d+ lines made no card, for \d+ reasons\n", result.stdout)
    assert re.search(r"^first-person \(1\):\n  compute/ec2\.md:\d+  I am not sure", result.stdout, re.M)
    rows = [json.loads(line) for line in CliRunner().invoke(cli, ["inspect", str(vault), "--skipped", "--json"]).stdout.splitlines()]
    assert {"source", "line", "reason", "text"} == set(rows[0]) and "first-person" in {r["reason"] for r in rows}


def test_inspect_modes_exclude_each_other(vault: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(vault), "--stats", "--sample", "2"])
    assert result.exit_code == 2 and "--stats and --sample cannot be used together" in result.output


def test_inspect_stats_counts_card_defects(vault: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(vault), "--stats"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^Card defects: \d+ of \d+ cards", result.stdout, re.M)
    assert re.search(r"^  answer_on_front +\d+$", result.stdout, re.M)


def test_services_with_an_unknown_category_lists_the_categories() -> None:
    result = CliRunner().invoke(cli, ["services", "--category", "Nope"])
    assert result.exit_code == 2, result.output
    assert "no category 'Nope'" in result.output and "Storage" in result.output and "Compute" in result.output
    assert CliRunner().invoke(cli, ["services", "--category", "storage"]).output.count("\n") > 5


def test_build_of_a_file_that_is_not_markdown_says_so(tmp_path: Path) -> None:
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4 not notes")
    result = CliRunner().invoke(cli, ["build", str(pdf), "-o", str(tmp_path / "deck.apkg")])
    assert result.exit_code != 0
    assert "not a Markdown file (.pdf)" in result.output and "no facts" not in result.output
    assert not (tmp_path / "deck.apkg").exists()


def test_build_names_removed_notes_with_an_anki_search(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.apkg"
    assert CliRunner().invoke(cli, ["build", str(vault), "-o", str(out)]).exit_code == 0
    lambda_md = vault / "compute" / "lambda.md"
    lambda_md.write_text(lambda_md.read_text(encoding="utf-8").replace("- **Maximum timeout**: 15 minutes\n", ""), encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", str(vault), "-o", str(out)])
    assert result.exit_code == 0, result.output
    removed = [line for line in result.output.splitlines() if line.startswith("  removed: ")]
    assert removed == ['  removed: compute/lambda.md:6 "Maximum timeout"; find it in Anki (Browse) with '
                       '"dupe:1780395021,Maximum timeout"'], result.output
    data = json.loads(CliRunner().invoke(cli, ["build", str(vault), "-o", str(tmp_path / "again.apkg"), "--json"]).output)
    assert data["changes"]["removed"] == []  # a first build into another file removes nothing
    lambda_md.write_text(lambda_md.read_text(encoding="utf-8").replace("- Memory: 128 MB to 10,240 MB\n", ""), encoding="utf-8")
    data = json.loads(CliRunner().invoke(cli, ["build", str(vault), "-o", str(tmp_path / "again.apkg"), "--json"]).output)
    assert [(r["source"], r["front"], r["search"]) for r in data["changes"]["removed"]] == [
        ("compute/lambda.md:6", "Memory", '"dupe:1780395021,Memory"')]

"""Inputs that used to break a build or get lost (issue 20, items 7-14, 19, 21), met through the CLI
as a user meets them: each bad file or line is warned about by file and line, and never costs the
rest of the deck."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aws_anki.cli import cli
from aws_anki.read import read_sources

DEFINITION = "# AWS Lambda\n\n- **Maximum memory**: 10 GB\n"


def inspect(*args: str) -> tuple[list[dict[str, Any]], str]:
    """The notes `aws-anki inspect ARGS --json` prints, and what it says on stderr."""
    result = CliRunner().invoke(cli, ["inspect", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def texts(notes: list[dict[str, Any]]) -> list[str]:
    """The first field of each note."""
    return [next(iter(note["fields"].values())) for note in notes]


def write(folder: Path, name: str | bytes, text: str | bytes) -> Path:
    """Write a note (a `bytes` name is a file name that need not be valid UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name))) if isinstance(name, bytes) else folder / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


# 7. A file name that is not valid UTF-8 --------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="Windows file names are always Unicode")
def test_a_file_name_that_is_not_utf8_is_built_and_named_in_a_warning(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    try:
        write(notes, b"bad\xffname.md", DEFINITION)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    write(notes, "good.md", "# Amazon S3\n\n- **Maximum object size**: 5 TB\n")
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(cli, ["build", str(notes), "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.is_file()
    assert "bad\\xffname.md: file name is not valid UTF-8" in result.stderr
    notes_made, _ = inspect(str(notes))
    assert {n["source"] for n in notes_made} == {"bad\\xffname.md:3", "good.md:3"}
    for note in notes_made:
        json.dumps(note, ensure_ascii=False).encode("utf-8")  # no lone surrogate left anywhere

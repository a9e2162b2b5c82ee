"""Build options: one typed value for what decides the notes, one for how a build runs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aws_anki.errors import InputError
from aws_anki.extract import extract_facts
from aws_anki.notes import file_notes
from aws_anki.options import DeckOptions, RunOptions
from aws_anki.parse import parse_document
from aws_anki.read import SourceFile


def test_the_notes_stage_takes_the_deck_options_as_they_are() -> None:
    source = SourceFile(Path("/n/sqs.md"), "sqs.md", "# Amazon SQS\n\n- **Retention**: 4 days by default\n")
    deck = DeckOptions(deck_name="SAA", deck_by="category", tag_prefix="Cert", file_tags=False, attachments=("files",))
    (note,) = file_notes(extract_facts(parse_document(source)), options=deck).notes
    assert note.deck == "SAA::Application Integration"
    assert note.tags[0].startswith("Cert::") and not any(t.startswith("file::") for t in note.tags)


def test_the_key_follows_every_deck_option_and_no_run_option() -> None:
    keys = {DeckOptions(**{f.name: value}).key() for f, value in zip(
        dataclasses.fields(DeckOptions), ("X", "file", "short", "Y", False, True, ("./img",)))}
    assert len(keys | {DeckOptions().key()}) == len(dataclasses.fields(DeckOptions)) + 1
    assert RunOptions(jobs=3, use_cache=False) == RunOptions(jobs=3, use_cache=False, progress=print)


@pytest.mark.parametrize("given", [{"deck_by": "tag"}, {"reverse": "some"}])
def test_unknown_values_are_refused(given: dict[str, str]) -> None:
    with pytest.raises(InputError):
        DeckOptions(**given)


def test_attachments_are_a_tuple_of_strings() -> None:
    with pytest.raises(TypeError):
        DeckOptions(attachments="files")  # type: ignore[arg-type]

"""Build options: one typed value for what decides the notes, one for how a build runs."""
from __future__ import annotations

import dataclasses

import pytest

from aws_anki.errors import InputError
from aws_anki.notes import NoteOptions
from aws_anki.options import DeckOptions, RunOptions
from aws_anki.parallel import note_options


def test_deck_options_carry_every_note_option() -> None:
    deck = DeckOptions(deck_name="SAA", deck_by="service", reverse="all", tag_prefix="Cert", file_tags=False,
                       secondary_tags=True, attachments=("files",))
    notes = note_options(deck)
    assert {f.name for f in dataclasses.fields(NoteOptions)} <= {f.name for f in dataclasses.fields(DeckOptions)}
    assert all(getattr(notes, f.name) == getattr(deck, f.name) for f in dataclasses.fields(NoteOptions))


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

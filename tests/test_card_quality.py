"""The card-quality target: no card defect a program can see, on real notes and on the public corpus.

One deck is built from ../shared/real_notes and one from each folder of ../shared/corpus, and every
card is checked for each class of `aws_anki.cardchecks.CARD_DEFECT_KINDS` (defined in that module's
docstring). The target is none; the tests hold each class at or below what was last measured
(`CEILINGS`), so no change makes cards worse unnoticed. A failure names, per deck, how many cards
have the defect and a few of them (file:line, card, excerpt).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import aws_anki
from aws_anki.cardchecks import CARD_DEFECT_KINDS, CardQuality, card_quality
from aws_anki.options import RunOptions

SHARED = Path(__file__).resolve().parents[2] / "shared"  # as conftest.py finds the real notes


def decks() -> dict[str, Path]:
    """The decks to check, by name: the real notes, then each folder of the corpus."""
    found = {"real_notes": SHARED / "real_notes"}
    corpus = SHARED / "corpus"
    if corpus.is_dir():
        found.update({folder.name: folder for folder in sorted(corpus.iterdir()) if folder.is_dir()})
    return {name: path for name, path in found.items() if path.is_dir()}


@pytest.fixture(scope="module")
def measured() -> dict[str, CardQuality]:
    """Each deck built once for the whole module, and its cards checked."""
    paths = decks()
    if not paths:
        pytest.skip("../shared/real_notes and ../shared/corpus are not present")
    return {name: card_quality(aws_anki.build_deck([path], run=RunOptions(use_cache=False)).notes) for name, path in paths.items()}


def _report(kind: str, measured: dict[str, CardQuality]) -> str:
    lines = [f"cards with {kind}:"]
    for name, found in measured.items():
        count = found.counts[kind]
        if count:
            lines.append(f"  {name}: {count} of {found.cards} cards")
            lines.extend(f"    {d.source} ({d.card}): {d.text}" for d in found.examples(kind))
    return "\n".join(lines)


# Cards with each defect over all decks as measured when the extraction became one fact per card
# (issue 18). The target is zero for every class: a change that makes more such cards fails here,
# and one that makes fewer lowers the number in the same commit.
CEILINGS = {
    "grab_bag_front": 12, "cloze_over_one_sentence": 6, "whole_sentence_blanked": 2, "glyph": 1, "meta": 0,
    "long_answer": 3, "parent_twice": 3, "answer_on_front": 6, "duplicate_first_field": 6,
}


@pytest.mark.parametrize("kind", CARD_DEFECT_KINDS)
def test_no_more_cards_with_the_defect_than_measured(kind: str, measured: dict[str, CardQuality]) -> None:
    total = sum(found.counts[kind] for found in measured.values())
    if total > CEILINGS.get(kind, 0):
        pytest.fail(f"{total} > {CEILINGS.get(kind, 0)}\n" + _report(kind, measured), pytrace=False)


def test_every_deck_was_built(measured: dict[str, CardQuality]) -> None:
    assert all(found.cards > 0 for found in measured.values()), {name: f.cards for name, f in measured.items()}

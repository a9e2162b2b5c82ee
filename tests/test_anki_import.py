"""Decks built by aws_anki, imported into a real Anki collection with the official `anki` package."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("anki")

from anki_harness import RenderedCard, import_apkg, open_collection, rendered_cards  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402

import aws_anki  # noqa: E402
from aws_anki.models import BASIC_NAME, CLOZE_NAME  # noqa: E402


def _check_blanks(card: RenderedCard) -> None:
    """The card's own deletions are blanks on the front ([...] or the author's [hint]) and their
    text on the back, as Anki renders them."""
    ordinal = str(card.ord + 1)
    front = BeautifulSoup(card.question_html, "html.parser").select(f'span.cloze[data-ordinal="{ordinal}"]')
    back = BeautifulSoup(card.answer_html, "html.parser").select(f'span.cloze[data-ordinal="{ordinal}"]')
    assert front and len(front) == len(back), card.question_html
    for blank, shown in zip(front, back):
        assert re.fullmatch(r"\[[^\[\]]+\]", blank.get_text()), card.question_html  # [...] or [hint]
        hidden = BeautifulSoup(str(blank["data-cloze"]), "html.parser").get_text()
        assert hidden.strip() and shown.get_text() == hidden, card.answer_html
        assert hidden not in blank.get_text()


def _check_deck(result: aws_anki.BuildResult, tmp_path: Path) -> None:
    out = tmp_path / "deck.apkg"
    result.write(out)
    with open_collection(tmp_path / "anki") as col:
        summary = import_apkg(col, out)
        assert summary.new == result.report.notes
        assert (summary.updated, summary.conflicting, summary.missing_notetype) == (0, 0, 0)
        assert col.note_count() == result.report.notes
        assert col.card_count() == result.report.cards
        cards = rendered_cards(col)
        types = Counter(card.notetype for card in cards)
        assert set(types) == {BASIC_NAME, CLOZE_NAME}
        for card in cards:
            assert card.tags, card.guid
            assert card.question_text.strip(), card.guid
            assert card.question_text != card.answer_text, card.guid
            if card.notetype == CLOZE_NAME:
                _check_blanks(card)
        for note_id in col.find_notes(f'"note:{CLOZE_NAME}"'):
            assert "{{c" in col.get_note(note_id)["Text"]


def test_fixture_vault_imports_into_real_anki(vault: Path, tmp_path: Path) -> None:
    _check_deck(aws_anki.build_deck([vault]), tmp_path)


def test_bundled_notes_import_into_real_anki(tmp_path: Path) -> None:
    result = aws_anki.build_deck()
    assert result.report.notes > 0
    _check_deck(result, tmp_path)


def test_cloze_card_hides_and_shows_the_deletion(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "deck.apkg"
    aws_anki.build_deck([vault]).write(out)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        card = next(c for c in rendered_cards(col) if "bills duration" in c.question_text)
        assert "1 ms increments" not in card.question_text
        assert "1 ms increments" in card.answer_text
        assert "AWS Lambda" in card.question_text  # the context line
        assert "compute/lambda.md:" in card.answer_text  # the source line

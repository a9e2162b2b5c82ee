"""The card preview page: same cards as the deck, fronts as real Anki renders them, self-contained."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag

import aws_anki
from aws_anki.cloze import cloze_numbers, reveal_cloze
from aws_anki.models import basic_type, cloze_type
from aws_anki.preview import TemplateError, preview_cards, render_preview, render_template, write_preview
from aws_anki.options import DeckOptions, RunOptions


@pytest.fixture(scope="module")
def bundled() -> aws_anki.BuildResult:
    """The bundled notes, built once for this module (with reverse cards for short definitions)."""
    return aws_anki.build_deck(None, DeckOptions(reverse="short"))


def _page(result: aws_anki.BuildResult) -> BeautifulSoup:
    return BeautifulSoup(render_preview(result), "html.parser")


def _one(tag: Tag, selector: str) -> Tag:
    found = tag.select_one(selector)
    assert found is not None, selector
    return found


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    assert isinstance(value, str), (name, value)
    return value


def _text(element: Tag) -> str:
    """Visible text the way the Anki harness takes it from question_html (whitespace collapsed)."""
    from anki_harness import html_to_text

    return html_to_text(element.decode_contents())


def _faces(soup: BeautifulSoup) -> dict[tuple[str, int], tuple[str, str]]:
    faces = {}
    for item in soup.select("article.pv-item"):
        key = (_attr(item, "data-guid"), int(_attr(item, "data-ord")))
        assert key not in faces, key
        faces[key] = (_text(_one(item, ".pv-front")), _text(_one(item, ".pv-back")))
    return faces


# The same cards as the deck -----------------------------------------------------------------


@pytest.mark.parametrize("reverse", ["none", "all"])
def test_one_item_per_card(vault: Path, reverse: str) -> None:
    result = aws_anki.build_deck([vault], DeckOptions(reverse=reverse))
    soup = _page(result)
    items = soup.select("article.pv-item")
    assert len(items) == result.report.cards == sum(note.cards for note in result.notes)
    by_note = Counter(_attr(item, "data-guid") for item in items)
    assert by_note == {note.guid: note.cards for note in result.notes}
    if reverse == "all":
        assert any(_attr(item, "data-ord") == "1" and _attr(item, "data-type") == "basic" for item in items)
    # Every card has a front shown and a back hidden, inside Anki's `.card` wrapper.
    for item in items:
        front, back = _one(item, ".pv-front"), _one(item, ".pv-back")
        assert "card" in front.get_attribute_list("class") and "card" in back.get_attribute_list("class")
        assert not front.has_attr("hidden") and back.has_attr("hidden")


def test_bundled_notes_card_count_matches_the_deck(bundled: aws_anki.BuildResult) -> None:
    assert render_preview(bundled).count('<article class="pv-item"') == bundled.report.cards


@pytest.mark.parametrize("reverse", ["none", "all"])
def test_fronts_and_backs_match_real_anki(vault: Path, tmp_path: Path, reverse: str) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    result = aws_anki.build_deck([vault], DeckOptions(reverse=reverse))
    result.write(tmp_path / "deck.apkg", use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, tmp_path / "deck.apkg")
        anki = {(card.guid, card.ord): (card.question_text, card.answer_text) for card in rendered_cards(col)}
    preview = _faces(_page(result))
    assert len(anki) == result.report.cards > 0
    assert set(preview) == set(anki)
    assert sorted(front for front, _ in preview.values()) == sorted(front for front, _ in anki.values())
    assert preview == anki  # fronts and backs, card by card


def test_bundled_fronts_match_real_anki(bundled: aws_anki.BuildResult, tmp_path: Path) -> None:
    """Real-world cards (tables, code, up to 8 deletions per note, reverse cards) against Anki:
    every 12th bundled note and every cloze note with 3 or more cards (all of them take 15 s)."""
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    sample = tuple(n for i, n in enumerate(bundled.notes) if i % 12 == 0 or (n.note_type == "cloze" and n.cards > 2))
    result = replace(bundled, notes=sample, report=replace(bundled.report, cards=sum(n.cards for n in sample)))
    result.write(tmp_path / "deck.apkg", use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, tmp_path / "deck.apkg")
        anki = {(card.guid, card.ord): card.question_text for card in rendered_cards(col)}
    preview = {key: front for key, (front, _back) in _faces(_page(result)).items()}
    assert len(preview) == len(anki) == result.report.cards
    mismatched = [key for key in anki if preview.get(key) != anki[key]]
    assert not mismatched, [(anki[k], preview.get(k)) for k in mismatched[:3]]


def test_cloze_front_hides_the_active_deletion_only(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    item = next(i for i in _page(result).select("article.pv-item") if "bills duration" in i.get_text())
    front, back = _text(_one(item, ".pv-front")), _text(_one(item, ".pv-back"))
    assert "[...]" in front and "1 ms increments" not in front
    assert "1 ms increments" in back and "[...]" not in back
    assert _one(item, ".pv-back .cloze").get_text() == "1 ms increments"


# The page is self-contained -----------------------------------------------------------------


def test_page_loads_nothing_from_the_network(vault: Path) -> None:
    page = render_preview(aws_anki.build_deck([vault]))
    soup = BeautifulSoup(page, "html.parser")
    assert "<script src" not in page.lower()
    assert not soup.select("script[src], link, iframe, object, embed, base")
    for element in soup.select("[src]"):
        assert _attr(element, "src").startswith("data:"), _attr(element, "src")[:80]
    styles = " ".join(style.get_text() for style in soup.select("style"))
    assert "@import" not in styles and not re.search(r"url\((?!\s*['\"]?data:)", styles)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]*\.(?:js|css|woff2?|ttf|otf)\b""", page, re.I)
    policy = _attr(_one(soup, 'meta[http-equiv="Content-Security-Policy"]'), "content")
    assert "default-src 'none'" in policy
    # The deck's CSS is in the page unchanged.
    assert basic_type().css in page


def test_images_are_embedded_as_data_uris(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    index, note = next((i, n) for i, n in enumerate(result.notes) if n.note_type == "basic")
    extra = '<img src="flow-0123456789.svg" alt="flow"><img src="missing.png" alt="gone">'
    with_image = replace(note, fields=tuple(extra if name == "Extra" else f for name, f in zip(note.field_names, note.fields)))
    notes = (*result.notes[:index], with_image, *result.notes[index + 1 :])
    media = {**result.media_files, "flow-0123456789.svg": vault / "attachments" / "lambda-flow.svg"}
    soup = _page(replace(result, notes=notes, media_files=media))
    sources = [_attr(img, "src") for img in soup.select(f'article[data-guid="{note.guid}"] .pv-back img')]
    assert sources[0].startswith("data:image/svg+xml;base64,")
    assert sources[1] == "missing.png"  # not in the package either: left as it is (Anki shows it broken too)


def test_what_the_page_adds_is_escaped(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    hostile = '<img src=x onerror="alert(1)">"&'
    note = replace(result.notes[0], service=hostile, kind=hostile, source=hostile, deck=hostile)
    page = render_preview(replace(result, notes=(note, *result.notes[1:])), title=hostile)
    assert hostile not in page
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.select("[onerror]")
    assert _attr(_one(soup, "article.pv-item"), "data-service") == hostile
    assert _one(soup, "title").get_text() == hostile


def test_write_preview_writes_the_page(vault: Path, tmp_path: Path) -> None:
    result = aws_anki.build_deck([vault])
    out = write_preview(result, tmp_path / "out" / "preview.html")
    assert out == tmp_path / "out" / "preview.html"
    assert out.read_text(encoding="utf-8") == render_preview(result)
    assert [p.name for p in out.parent.iterdir()] == ["preview.html"]  # no temp file left


def test_counts_per_service_and_kind(vault: Path) -> None:
    result = aws_anki.build_deck([vault])
    soup = _page(result)
    cards: Counter[str] = Counter()
    for note in result.notes:
        cards[note.service or "(unresolved)"] += note.cards
    chips = {_attr(chip, "data-service"): int(_one(chip, ".pv-n").get_text()) for chip in soup.select(".pv-chip")}
    assert chips == dict(cards)
    options = [_attr(option, "value") for option in soup.select("#pv-kind option")]
    assert options == ["", *sorted({note.kind for note in result.notes})]


# The template language ----------------------------------------------------------------------


def test_fields_and_conditionals() -> None:
    fields = {"A": "alpha", "B": "", "C": " <br> "}
    assert render_template("{{A}}|{{#A}}yes{{/A}}|{{#B}}no{{/B}}|{{^B}}empty{{/B}}|{{#C}}no{{/C}}", fields) == (
        "alpha|yes||empty|",
        True,
    )
    assert render_template("{{#B}}{{A}}{{/B}}", fields) == ("", False)  # no card from this front
    assert render_template("{{FrontSide}}<hr>{{ A }}", fields, front_side="Q")[0] == "Q<hr>alpha"
    with pytest.raises(TemplateError):
        render_template("{{Missing}}", fields)
    with pytest.raises(TemplateError):
        render_template("{{#A}}open", fields)


def test_cloze_rendering_follows_anki() -> None:
    text = "a {{c1::b::hint}} {{c2::c {{c3::d}}}} {{c1::e}}"
    assert cloze_numbers(text) == [1, 2, 3]
    assert reveal_cloze(text, 1, question=True) == (
        'a <span class="cloze" data-ordinal="1">[hint]</span> '
        '<span class="cloze-inactive" data-ordinal="2">c <span class="cloze-inactive" data-ordinal="3">d</span></span> '
        '<span class="cloze" data-ordinal="1">[...]</span>'
    )
    assert reveal_cloze(text, 2, question=True).count("[...]") == 1  # the nested deletion goes with it
    assert 'class="cloze" data-ordinal="2">c <span' in reveal_cloze(text, 2, question=False)
    assert reveal_cloze(text, 4, question=True) == ""
    escaped = "{{c1::AWS:&#58;S3:&#58;Bucket}} &#125;}"
    assert reveal_cloze(escaped, 1, question=False) == '<span class="cloze" data-ordinal="1">AWS:&#58;S3:&#58;Bucket</span> &#125;}'


def test_reverse_card_only_when_reverse_is_filled(vault: Path) -> None:
    note = next(n for n in aws_anki.build_deck([vault], DeckOptions(reverse="all")).notes if n.note_type == "basic" and n.cards == 2)
    cards = preview_cards(note)
    assert [(c.ord, c.template) for c in cards] == [(0, "Card 1"), (1, "Reverse")]
    assert "Which term is this?" in cards[1].question
    plain = replace(note, fields=(*note.fields[:5], ""), cards=1)
    assert [c.template for c in preview_cards(plain)] == ["Card 1"]
    assert cloze_type().templates[0][0] == "Cloze"


def test_preview_page_is_readable_like_any_new_file(tmp_path: Path) -> None:
    """The page is written through a private temporary file, but ends as the umask says (not 0600)."""
    import os

    from aws_anki.preview import write_preview

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "s3.md").write_text("# Amazon S3\n\n- **Durability**: eleven nines\n", encoding="utf-8")
    mask = os.umask(0o022)
    try:
        page = write_preview(aws_anki.build_deck([notes], run=RunOptions(use_cache=False)), tmp_path / "preview.html")
    finally:
        os.umask(mask)
    assert page.stat().st_mode & 0o777 == 0o644

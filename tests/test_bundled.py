"""The bundled AWS deck (source_notes/): what every new user sees first must be good material."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import aws_anki
from aws_anki.build import bundled_notes
from aws_anki.options import RunOptions


@pytest.fixture(scope="module")
def bundled() -> aws_anki.BuildResult:
    return aws_anki.build_deck(None, run=RunOptions(quality=True))


def test_bundled_deck_builds_cleanly_and_is_large(bundled: aws_anki.BuildResult) -> None:
    assert bundled.report.warnings == ()
    assert bundled.report.notes >= 1500


def test_every_bundled_note_has_its_service(bundled: aws_anki.BuildResult) -> None:
    assert [n.source for n in bundled.notes if not n.service] == []
    assert all(any(t.startswith("AWS::") and "Unresolved" not in t for t in n.tags) for n in bundled.notes)


def test_bundled_deck_has_no_quality_defects(bundled: aws_anki.BuildResult) -> None:
    quality = bundled.report.quality
    assert quality is not None
    assert [f"{d.kind} {d.source}: {d.text}" for d in quality.defects] == []


def test_bundled_deck_shows_every_kind_of_card(bundled: aws_anki.BuildResult) -> None:
    kinds = Counter(n.kind for n in bundled.notes)
    for kind in ("definition", "cloze", "list", "row", "qa"):
        assert kinds[kind] > 0, kind
    extras = " ".join(n.field("Extra") for n in bundled.notes)
    assert "<img" in extras and 'class="code"' in extras  # diagrams and code on backs
    assert len(bundled.media_files) >= 8 and all(name.endswith(".svg") for name in bundled.media_files)


def test_bundled_notes_are_grouped_by_category_with_one_spanish_file() -> None:
    root = bundled_notes()
    folders = {p.name for p in root.iterdir() if p.is_dir()}
    assert {"compute", "storage", "database", "networking", "security", "integration"} <= folders
    spanish = list((root / "espanol").glob("*.md"))
    assert spanish
    notes = aws_anki.build_deck(spanish).notes
    assert len(notes) >= 15 and all(n.service == "AWS IAM" for n in notes)


def test_bundled_covers_every_service_of_the_real_notes(bundled: aws_anki.BuildResult, real_notes: Path) -> None:
    real = {n.service for n in aws_anki.build_deck([real_notes]).notes if n.service}
    covered = {n.service for n in bundled.notes}
    assert sorted(real - covered) == []

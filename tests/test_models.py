"""Note types are matched by ID and their field lists are frozen: pin both."""
from __future__ import annotations

from aws_anki import models


def test_model_ids_are_pinned() -> None:
    assert models.BASIC_MODEL_ID == 1780395021
    assert models.CLOZE_MODEL_ID == 1780395022
    assert models.basic_type().model_id == 1780395021
    assert models.cloze_type().model_id == 1780395022


def test_released_field_lists_are_frozen() -> None:
    # Changing these makes Anki create a second note type and freeze every existing note.
    assert models.basic_type().fields == ("Front", "Back", "Context", "Extra", "Source", "Reverse")
    assert models.cloze_type().fields == ("Text", "Context", "Extra", "Source")


def test_templates_use_every_field_and_night_mode_css() -> None:
    basic = models.basic_type()
    text = " ".join(q + a for _, q, a in basic.templates)
    for name in basic.fields:
        assert "{{" + name + "}}" in text or "{{#" + name + "}}" in text
    cloze = models.cloze_type()
    assert "{{cloze:Text}}" in cloze.templates[0][1]
    assert ".nightMode" in basic.css and ".night_mode" in basic.css
    assert "http" not in basic.css  # self-contained: no web fonts


def test_fingerprint_changes_with_templates_only() -> None:
    assert models.basic_type().fingerprint == models.basic_type().fingerprint
    assert models.basic_type().fingerprint != models.cloze_type().fingerprint

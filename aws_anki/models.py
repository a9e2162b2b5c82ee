"""The two note types: pinned IDs, frozen field lists, templates and CSS from `templates/`.

Anki matches note types by ID. Changing a released field list makes Anki create a second note type
and freeze every existing note of the first (verified with anki 26.9), so the field lists below are
frozen; tests pin them. Template and CSS changes are safe: they update the note type in place.
The basic type has its reverse template from day one (shown only when `Reverse` is filled),
because adding a template later is a schema change that forces a full sync.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BASIC_MODEL_ID = 1780395021
CLOZE_MODEL_ID = 1780395022

BASIC_FIELDS = ("Front", "Back", "Context", "Extra", "Source", "Reverse")
CLOZE_FIELDS = ("Text", "Context", "Extra", "Source")

BASIC_NAME = "AWS Anki Basic"
CLOZE_NAME = "AWS Anki Cloze"


@dataclass(frozen=True)
class NoteType:
    """A note type as Anki sees it: ID, name, fields, templates and CSS."""

    model_id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # (name, question format, answer format)
    css: str
    is_cloze: bool

    @property
    def fingerprint(self) -> str:
        """A hash of the templates and CSS: when it changes, the note type must be re-sent."""
        digest = hashlib.sha256(self.css.encode())
        for name, question, answer in self.templates:
            digest.update(f"\0{name}\0{question}\0{answer}".encode())
        return digest.hexdigest()[:16]


def template_text(name: str) -> str:
    """Read one file of `templates/` (installed as package data, or from a checkout)."""
    # A path, not importlib.resources: the package is never imported from a zip, and an up-to-date
    # build (which hashes the templates) should not pay for importing it.
    here = Path(__file__).resolve().parent
    for folder in (here / "templates", here.parent / "templates"):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8")
    raise FileNotFoundError(f"template {name!r} is missing from this installation of aws_anki")


@cache
def basic_type() -> NoteType:
    """The basic note type (front/back, optional reverse card)."""
    return NoteType(
        model_id=BASIC_MODEL_ID,
        name=BASIC_NAME,
        fields=BASIC_FIELDS,
        templates=(
            ("Card 1", template_text("basic_front.html"), template_text("basic_back.html")),
            ("Reverse", template_text("reverse_front.html"), template_text("reverse_back.html")),
        ),
        css=template_text("style.css"),
        is_cloze=False,
    )


@cache
def cloze_type() -> NoteType:
    """The cloze note type."""
    return NoteType(
        model_id=CLOZE_MODEL_ID,
        name=CLOZE_NAME,
        fields=CLOZE_FIELDS,
        templates=(("Cloze", template_text("cloze_front.html"), template_text("cloze_back.html")),),
        css=template_text("style.css"),
        is_cloze=True,
    )

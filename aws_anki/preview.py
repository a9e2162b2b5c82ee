"""Preview: one self-contained HTML page showing every card of a build as Anki would show it.

The cards are rendered here, in Python, from the deck's own templates and CSS (`models.basic_type()`,
`models.cloze_type()`) with the small part of Anki's template language those templates use:
`{{Field}}`, `{{#Field}}…{{/Field}}`, `{{^Field}}…{{/Field}}`, `{{FrontSide}}` and `{{cloze:Field}}`.
Card generation follows Anki's rslib (`template.rs`; deletions are read and shown by `cloze`): a card exists
when its front uses a non-empty field (so the basic type's Reverse card only when `Reverse` is
filled), a cloze note has one card per distinct cloze number, the active deletion shows `[...]` (or
`[hint]`) on the front and its text in `<span class="cloze">` on the back. A test compares the
fronts with what the real `anki` package renders from the `.apkg`.

The page has no network dependencies (inline CSS and JS only, a Content-Security-Policy that
forbids loading anything, images as `data:` URIs) and stays fast for thousands of cards: all HTML
is rendered here, the script only toggles `hidden`.
"""
from __future__ import annotations

import base64
import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Mapping, Protocol, Sequence, Union

from .cloze import cloze_numbers, reveal_cloze
from .errors import AwsAnkiError
from .models import NoteType, basic_type, cloze_type, template_text
from .notes import CardNote
from .outputs import output_lock, refuse_unsafe_outputs, replace_together, staging


DEFAULT_TITLE = "aws_anki card preview"
UNRESOLVED_SERVICE = "(unresolved)"
NIGHT_CLASSES = ("nightMode", "night_mode")  # Anki desktop, AnkiMobile

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".avif": "image/avif",
}

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
# Anki's `field_is_empty`: only whitespace and <br>/<div> tags.
_EMPTY_FIELD = re.compile(r"^(?:\s|</?(?:br|div) ?/?>)*$", re.I | re.S)
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")', re.I)


class TemplateError(AwsAnkiError):
    """A card template uses something this renderer (or Anki) does not understand."""


@dataclass(frozen=True)
class PreviewCard:
    """One card of a note, rendered: Anki's ordinal, the template's name, front and back HTML."""

    note: CardNote
    ord: int  # Anki's card ordinal: the template's index (basic) or cloze number - 1
    template: str  # "Card 1", "Reverse", "Cloze 3"
    question: str
    answer: str


# Template language ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    filters: tuple[str, ...]  # applied right to left, as in Anki: {{text:cloze:Text}}


@dataclass(frozen=True)
class _Section:
    name: str
    inverted: bool
    children: tuple["_Node", ...]


_Node = Union[str, _Field, _Section]


@cache
def _parse_template(template: str) -> tuple[_Node, ...]:
    """Parse a card template into text, field references and (nested) conditional sections."""
    stack: list[tuple[str, bool, list[_Node]]] = [("", False, [])]
    position = 0
    for match in _TAG.finditer(template):
        if match.start() > position:
            stack[-1][2].append(template[position : match.start()])
        position = match.end()
        tag = match.group(1).strip()
        if tag[:1] in ("#", "^"):
            stack.append((tag[1:].strip(), tag[0] == "^", []))
        elif tag[:1] == "/":
            name, inverted, children = stack.pop() if len(stack) > 1 else ("", False, [])
            if name != tag[1:].strip():
                raise TemplateError(f"template closes {{{{{tag}}}}} but the open section is {name!r}")
            stack[-1][2].append(_Section(name, inverted, tuple(children)))
        else:
            *filters, name = (part.strip() for part in tag.split(":"))
            stack[-1][2].append(_Field(name, tuple(filters)))
    if len(stack) > 1:
        raise TemplateError(f"template section {stack[-1][0]!r} is never closed")
    if position < len(template):
        stack[0][2].append(template[position:])
    return tuple(stack[0][2])


def field_is_empty(text: str) -> bool:
    """Anki's test for an empty field: nothing but whitespace and `<br>`/`<div>` tags."""
    return bool(_EMPTY_FIELD.match(text))


def render_template(
    template: str,
    fields: Mapping[str, str],
    *,
    cloze_ord: int = 0,
    question: bool = True,
    front_side: str = "",
) -> tuple[str, bool]:
    """Render an Anki card template: the HTML, and whether a non-empty field was used (Anki makes a
    card from a front template only when it was). `cloze_ord` is the 1-based active deletion."""
    out: list[str] = []
    used = _render_nodes(_parse_template(template), fields, cloze_ord, question, front_side, out)
    return "".join(out), used


def _render_nodes(
    nodes: Sequence[_Node],
    fields: Mapping[str, str],
    cloze_ord: int,
    question: bool,
    front_side: str,
    out: list[str],
) -> bool:
    used = False
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Section):
            if node.name not in fields:
                raise TemplateError(f"template section {{{{#{node.name}}}}} names an unknown field")
            if field_is_empty(fields[node.name]) == node.inverted:
                used |= _render_nodes(node.children, fields, cloze_ord, question, front_side, out)
        elif node.name == "FrontSide" and not node.filters:
            out.append(front_side)
        else:
            if node.name not in fields:
                raise TemplateError(f"template field {{{{{node.name}}}}} is not a field of the note type")
            value = fields[node.name]
            used |= not field_is_empty(value)
            for name in reversed(node.filters):
                value = _apply_filter(name, value, cloze_ord, question)
            out.append(value)
    return used


def _apply_filter(name: str, value: str, cloze_ord: int, question: bool) -> str:
    if name == "cloze":
        return reveal_cloze(value, cloze_ord, question=question)
    if name == "text":
        return re.sub(r"<[^>]*>", "", value)
    raise TemplateError(f"template filter {name!r} is not supported by the preview")


# Cards ----------------------------------------------------------------------------------------


def _note_type_of(note: CardNote) -> NoteType:
    """The note type a note is written with."""
    return cloze_type() if note.note_type == "cloze" else basic_type()


def preview_cards(note: CardNote, *, media: Mapping[str, str] | None = None) -> list[PreviewCard]:
    """The cards Anki makes from a note, rendered with the deck's templates. `media` maps package
    file names to the URLs to show instead (data: URIs in the preview page)."""
    note_type = _note_type_of(note)
    fields = dict(zip(note_type.fields, note.fields))
    if media:
        fields = {name: _embed_media(value, media) for name, value in fields.items()}
    cards: list[PreviewCard] = []
    if note_type.is_cloze:
        name, front, back = note_type.templates[0]
        used = "".join(fields[f.name] for f in _fields_with_filter(_parse_template(front), "cloze"))
        for number in cloze_numbers(used) or [1]:
            question, _ = render_template(front, fields, cloze_ord=number, question=True)
            answer, _ = render_template(back, fields, cloze_ord=number, question=False, front_side=question)
            cards.append(PreviewCard(note, number - 1, f"{name} {number}", question, answer))
        return cards
    for ordinal, (name, front, back) in enumerate(note_type.templates):
        question, nonempty = render_template(front, fields, question=True)
        if not nonempty:
            continue
        answer, _ = render_template(back, fields, question=False, front_side=question)
        cards.append(PreviewCard(note, ordinal, name, question, answer))
    return cards


def _fields_with_filter(nodes: Sequence[_Node], filter_name: str) -> list[_Field]:
    found: list[_Field] = []
    for node in nodes:
        if isinstance(node, _Section):
            found.extend(_fields_with_filter(node.children, filter_name))
        elif isinstance(node, _Field) and filter_name in node.filters:
            found.append(node)
    return found


def _embed_media(value: str, media: Mapping[str, str]) -> str:
    if "<img" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        url = media.get(html.unescape(match.group(2)))
        return f"{match.group(1)}{html.escape(url)}{match.group(3)}" if url else match.group(0)

    return _IMG_SRC.sub(replace, value)


def media_data_uris(media_files: Mapping[str, Path]) -> dict[str, str]:
    """Package media name -> `data:` URI of the file (unreadable files are left out)."""
    uris: dict[str, str] = {}
    for name, path in media_files.items():
        mime = MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        uris[name] = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return uris


# The page -------------------------------------------------------------------------------------


class Previewable(Protocol):
    """What a preview is made of: the notes and the media files they use (a `BuildResult` is one)."""

    @property
    def notes(self) -> Sequence[CardNote]: ...

    @property
    def media_files(self) -> Mapping[str, Path]: ...


def render_preview(result: Previewable, *, title: str = DEFAULT_TITLE) -> str:
    """The preview page of a build: every card, front and back, as one self-contained HTML string."""
    return render_notes_preview(result.notes, result.media_files, title=title)


def write_preview(result: Previewable, path: str | Path, *, title: str = DEFAULT_TITLE) -> Path:
    """Write the preview page of a build to `path` (atomically, readable as any new file) and return the path.

    OutputError, before anything is written, when `path` is named like a note or is a note file
    or image of the build (`result.sources`, when it has them); PackageError naming the path when
    it cannot be written."""
    path = Path(path)
    inputs = (*getattr(result, "sources", ()), *result.media_files.values())
    refuse_unsafe_outputs((path,), inputs)
    page = render_preview(result, title=title)
    with output_lock(path, what="preview page"):
        with staging(path, ".html.part", "preview page") as staged, open(staged, "w", encoding="utf-8", newline="\n") as out:
            out.write(page)
        replace_together([(staged, path)], "preview page")
    return path


def render_notes_preview(
    notes: Sequence[CardNote],
    media_files: Mapping[str, Path] | None = None,
    *,
    title: str = DEFAULT_TITLE,
) -> str:
    """The preview page for notes (what `render_preview` does for a whole build)."""
    media = media_data_uris(media_files or {})
    cards = [card for note in notes for card in preview_cards(note, media=media)]
    services = Counter(_service(card.note) for card in cards)
    kinds = Counter(card.note.kind for card in cards)
    decks = {note.deck for note in notes}
    css = _css_text(basic_type().css)
    if cloze_type().css != basic_type().css:
        css += "\n" + _css_text(cloze_type().css)
    parts = [
        _HEAD.format(title=html.escape(title), deck_css=css, page_css=template_text("preview.css")),
        _header(title, cards, notes, services, kinds),
        '<main class="pv-list" id="pv-list">\n',
    ]
    parts.extend(_card_html(card, show_deck=len(decks) > 1) for card in cards)
    parts.append('<p class="pv-empty" id="pv-empty" hidden>No cards match.</p>\n</main>\n')
    script = template_text("preview.js").replace("__NIGHT_CLASSES__", json.dumps(list(NIGHT_CLASSES)), 1)
    parts.append(f"<script>\n{script}</script>\n</body>\n</html>\n")
    return "".join(parts)


def _service(note: CardNote) -> str:
    return note.service or UNRESOLVED_SERVICE


def _css_text(css: str) -> str:
    # Keep a stray "</style" in the CSS from closing the element (`\/` is `/` in CSS).
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.I)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _header(
    title: str,
    cards: Sequence[PreviewCard],
    notes: Sequence[CardNote],
    services: Counter[str],
    kinds: Counter[str],
) -> str:
    esc = html.escape
    total = len(cards)
    service_options = "".join(
        f'<option value="{esc(name)}">{esc(name)} ({count:,})</option>' for name, count in sorted(services.items())
    )
    kind_options = "".join(
        f'<option value="{esc(name)}">{esc(name)} ({count:,})</option>' for name, count in sorted(kinds.items())
    )
    chips = "".join(
        f'<button type="button" class="pv-btn pv-chip" data-service="{esc(name)}" aria-pressed="false">'
        f'{esc(name)} <span class="pv-n">{count:,}</span></button>'
        for name, count in sorted(services.items(), key=lambda item: (-item[1], item[0]))
    )
    summary = f"{_plural(total, 'card')} from {_plural(len(notes), 'note')} · {_plural(len(services), 'service')}"
    return f"""<header class="pv-head">
<div class="pv-top">
<h1 class="pv-title">{esc(title)}</h1>
<p class="pv-summary">{esc(summary)}. Rendered with the deck's own templates and CSS.</p>
</div>
<div class="pv-controls" role="search">
<input type="search" id="pv-search" class="pv-input" placeholder="Search cards" aria-label="Search cards" autocomplete="off">
<select id="pv-service" class="pv-input" aria-label="Filter by service"><option value="">All services ({total:,})</option>{service_options}</select>
<select id="pv-kind" class="pv-input" aria-label="Filter by note kind"><option value="">All kinds ({total:,})</option>{kind_options}</select>
<div class="pv-buttons">
<button type="button" id="pv-answers" class="pv-btn" aria-pressed="false">Show answers</button>
<button type="button" id="pv-night" class="pv-btn" aria-pressed="false">Night mode</button>
</div>
</div>
<p class="pv-status" id="pv-status" aria-live="polite">Showing {total:,} of {total:,} cards</p>
<details class="pv-counts"><summary>Cards per service</summary><div class="pv-chips">{chips}</div></details>
</header>
"""


def _card_html(card: PreviewCard, *, show_deck: bool) -> str:
    esc = html.escape
    note = card.note
    service = _service(note)
    deck = f'<span class="pv-deck">{esc(note.deck)}</span>' if show_deck else ""
    classes = f"card card{card.ord + 1}"
    return (
        f'<article class="pv-item" data-service="{esc(service)}" data-kind="{esc(note.kind)}" '
        f'data-type="{esc(note.note_type)}" data-guid="{esc(note.guid)}" data-ord="{card.ord}">\n'
        f'<div class="pv-meta"><span class="pv-svc">{esc(service)}</span>'
        f'<span class="pv-pill">{esc(note.kind)}</span><span class="pv-pill">{esc(card.template)}</span>{deck}'
        f'<span class="pv-src">{esc(str(note.source))}</span>'
        f'<button type="button" class="pv-btn pv-flip" aria-pressed="false">Show answer</button></div>\n'
        f'<div class="{classes} pv-face pv-front">{card.question}</div>\n'
        f'<div class="{classes} pv-face pv-back" hidden>{card.answer}</div>\n'
        "</article>\n"
    )


_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<title>{title}</title>
<style>
/* The deck's CSS, unchanged (templates/style.css) */
{deck_css}
</style>
<style>
/* The preview page around the cards */
{page_css}
</style>
</head>
<body class="pv">
"""

"""Notes stage: turn Facts into Anki notes (fields as safe HTML, note type, tags, deck, GUID). No file I/O.

Identity: a note's GUID hashes a stable key (service, the section path below the file title, note
type and the fact's subject), never the whole text, so editing a definition updates the note in
place instead of duplicating it. Location (file, line) is kept out of both the key and the content
hash: moving a fact is neither a new note nor an update.
"""
from __future__ import annotations

import hashlib
import html
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Callable, Sequence

from .cardtext import visible_text
from .cloze import cloze_numbers, finish_cloze, split_deletions
from .context import (
    CONTEXT_SEPARATOR, LABEL_TERMS, context_line, distinguishing_each, normalise, qualified_fronts,
)
from .errors import BuildWarning
from .guids import guid_for, note_identity, numbered
from .models import BASIC_FIELDS, CLOZE_FIELDS
from .options import DeckOptions
from .render import escape_anki_markup, rewrite_images, sanitize
from .services import Catalog, Service, load_catalog, resolve_path
from .source import Source

if TYPE_CHECKING:
    from .extract import Extraction, Fact

UNRESOLVED_TAG = "Unresolved"
FILE_TAG_PREFIX = "file::"
_TAG_UNSAFE = re.compile(r"[\s\"]+")

# Given a media reference, its file, line: the name the file has in the package, or None if missing.
MediaResolver = Callable[[str, str, int], "str | None"]


@dataclass(frozen=True, slots=True)  # slots: a big vault holds hundreds of thousands of these
class CardNote:
    """One Anki note as it will be written: everything a test or script may want to inspect."""

    guid: str
    note_type: str  # "basic" or "cloze"
    kind: str  # definition | cloze | list | row | cell | qa
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    deck: str
    service: str  # canonical service name, "" when unresolved
    category: str
    context: str
    source: Source  # where the fact is written
    merged_sources: tuple[Source, ...]  # other places the same fact was written
    identity: str  # the stable key the GUID is derived from
    content_hash: str  # fields, tags and deck; not the source location
    media: tuple[str, ...]  # package media file names the fields use
    cards: int

    @property
    def field_names(self) -> tuple[str, ...]:
        """The note type's field names, in order."""
        return CLOZE_FIELDS if self.note_type == "cloze" else BASIC_FIELDS

    def field(self, name: str) -> str:
        """The value of one field by name."""
        return self.fields[self.field_names.index(name)]

    def as_dict(self) -> dict[str, object]:
        """Plain data for `inspect --json` (sources as `path:line`)."""
        return {
            "guid": self.guid,
            "type": self.note_type,
            "kind": self.kind,
            "deck": self.deck,
            "service": self.service,
            "context": self.context,
            "source": str(self.source),
            "merged_sources": list(map(str, self.merged_sources)),
            "tags": list(self.tags),
            "fields": dict(zip(self.field_names, self.fields)),
            "cards": self.cards,
        }

    def __reduce__(self) -> tuple[type[CardNote], tuple[object, ...]]:
        # Pickled (on the way back from a worker process) as its values in order: a slotted
        # dataclass otherwise goes through copyreg's state dict, which is slower both ways.
        return CardNote, _card_note_values(self)


_card_note_values = attrgetter(*CardNote.__dataclass_fields__)


@dataclass(frozen=True)
class NotesResult:
    """The notes of a build, with the warnings made while building them."""

    notes: tuple[CardNote, ...]
    warnings: tuple[BuildWarning, ...]
    unresolved: tuple[Source, ...]  # facts whose service could not be resolved


@dataclass(frozen=True)
class FileNotes:
    """One file's notes before duplicates across files merge, and what the report needs of its facts.

    It is what a worker process sends back and what the cache keeps per file; `media` lists every
    image lookup the notes made, (reference, line, package name or None), so that the building
    process can replay them: that collects the image files and warnings, and tells a cached entry
    whose images changed on disk from a current one."""

    source: str
    notes: tuple[CardNote, ...]
    warnings: tuple[BuildWarning, ...]  # the file's own: its text's shape (see parallel), an unknown service
    unresolved: tuple[Source, ...]
    facts: int
    skipped: tuple[tuple[str, int], ...]  # (reason, lines) for lines that made no card
    media: tuple[tuple[str, int, str | None], ...]


def file_notes(
    extraction: Extraction,
    *,
    options: DeckOptions = DeckOptions(),
    media: MediaResolver | None = None,
    catalog: Catalog | None = None,
) -> FileNotes:
    """One file's facts as notes (no merging across files: see `merge_notes`)."""
    catalog = catalog or load_catalog()
    warnings: list[BuildWarning] = []
    lookups: list[tuple[str, int, str | None]] = []

    def recorded(target: str, source: str, line: int) -> str | None:
        name = media(target, source, line) if media is not None else None
        lookups.append((target, line, name))
        return name

    shared = _Shared(extraction, _file_service(extraction, catalog, warnings), options, catalog)
    resolver = recorded if media is not None else None
    facts = qualified_fronts(extraction.facts, shared.context)
    notes = tuple(_note(fact, shared, resolver) for fact in facts)
    return FileNotes(
        source=extraction.source,
        notes=notes,
        warnings=tuple(warnings),
        unresolved=tuple(n.source for n in notes if not n.service),
        facts=len(extraction.facts),
        skipped=tuple(Counter(s.reason for s in extraction.skipped).items()),
        media=tuple(lookups),
    )


def file_tag(source: str, *, with_folders: bool = False) -> str:
    """The `file::` tag of a notes-relative path: its file name without the extension, or with the
    folders it is in below the notes root (`file::compute/lambda/README`)."""
    folders, _, name = source.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    shown = f"{folders}/{stem}" if with_folders and folders else stem
    return unicodedata.normalize("NFC", f"{FILE_TAG_PREFIX}{_tag_safe(shown)}")


def _distinct_file_tags(files: Sequence[FileNotes]) -> Sequence[FileNotes]:
    """Files whose `file::` tag would be another's too (17 `README`s; Anki compares tags without
    case) tagged with their folders below the notes root instead."""
    by_tag: dict[str, list[str]] = {}
    for f in files:
        by_tag.setdefault(file_tag(f.source).casefold(), []).append(f.source)
    repeated = {source for sources in by_tag.values() if len(sources) > 1 for source in sources}
    if not repeated:
        return files
    return [_retagged(f, file_tag(f.source), file_tag(f.source, with_folders=True)) if f.source in repeated else f
            for f in files]


def _retagged(file: FileNotes, old: str, new: str) -> FileNotes:
    """A file's notes with tag `old` replaced by `new` (file tags are not content: hashes stay)."""
    notes = tuple(replace(n, tags=tuple(new if t == old else t for t in n.tags)) if old in n.tags else n for n in file.notes)
    return replace(file, notes=notes)


def merge_notes(files: Sequence[FileNotes]) -> NotesResult:
    """All files' notes as one deck: duplicates merged, colliding GUIDs made distinct, file tags distinct."""
    files = _distinct_file_tags(files)
    return NotesResult(
        tuple(_unique_fronts(_merge_duplicates([note for f in files for note in f.notes]))),
        tuple(w for f in files for w in f.warnings),
        tuple(u for f in files for u in f.unresolved),
    )


def _file_service(extraction: Extraction, catalog: Catalog, warnings: list[BuildWarning]) -> Service | None:
    value = extraction.metadata.get("service")
    if not value:
        return None
    found = catalog.lookup(str(value))
    if found is None:
        warnings.append(
            BuildWarning(extraction.source, 1, "unknown-service", f"front matter names unknown service {value!r}; "
                         "use a name from `aws-anki services`")
        )
    return found


class _Shared:
    """What the notes of one file share, worked out once per heading path, service set or service
    instead of once per note: a section's notes get one context, tag and deck string object each
    (pickle keeps them shared on the way back from a worker)."""

    def __init__(self, extraction: Extraction, file_service: Service | None, options: DeckOptions, catalog: Catalog):
        self.extraction, self.file_service, self.options, self.catalog = extraction, file_service, options, catalog
        self._places: dict[tuple[str, ...], tuple[tuple[Service, ...], str, str, str]] = {}
        self._tags: dict[tuple[Service, ...], tuple[tuple[str, ...], str]] = {}
        # By id: hashing a Service is a Python call. Each entry keeps its key object alive.
        self._tags_by_id: dict[int, tuple[tuple[Service, ...], tuple[tuple[str, ...], str]]] = {}
        self._decks: dict[int, tuple[Service | None, str]] = {}
        self._headings: dict[str, str] = {}  # heading -> normalise(heading)
        self._sources: dict[str, str] = {}  # fact source -> the same HTML-escaped

    def place(self, headings: tuple[str, ...]) -> tuple[tuple[Service, ...], str, str, str]:
        """(services the headings name, context line, the same HTML-escaped, normalised section path)."""
        found = self._places.get(headings)
        if found is None:
            services, index = resolve_path(headings, catalog=self.catalog)
            if self.file_service is not None:
                services, index = (self.file_service,), 0
            context = sys.intern(context_line(headings, services, index))
            sections = "/".join(self.normalised(h) for h in headings[1:])
            found = self._places[headings] = (services, context, html.escape(context), sections)
        return found

    def context(self, headings: tuple[str, ...]) -> str:
        """The context line of a heading path (see `place`)."""
        return self.place(headings)[1]

    def normalised(self, heading: str) -> str:
        """`normalise(heading)`: the paths of a file share most of their headings."""
        found = self._headings.get(heading)
        if found is None:
            found = self._headings[heading] = normalise(heading)
        return found

    def source(self, source: str, line: int) -> str:
        """`html.escape(f"{source}:{line}")`, escaping the path once per file (`:` and digits need none)."""
        found = self._sources.get(source)
        if found is None:
            found = self._sources[source] = html.escape(source)
        return f"{found}:{line}"

    def tags(self, services: tuple[Service, ...]) -> tuple[tuple[str, ...], str]:
        """The tags of a note of these services (see `note_tags`), and its content tags as one string."""
        known = self._tags_by_id.get(id(services))
        if known is not None:
            return known[1]
        found = self._tags.get(services)
        if found is None:
            tags = tuple(sys.intern(t) for t in note_tags(services, self.extraction, self.options))
            found = self._tags[services] = (tags, " ".join(_content_tags(tags)))
        self._tags_by_id[id(services)] = (services, found)
        return found

    def deck(self, service: Service | None) -> str:
        """The deck of a note of this service (see `deck_name`)."""
        found = self._decks.get(id(service))
        if found is None:
            found = self._decks[id(service)] = (service, sys.intern(deck_name(self.options, service, self.extraction)))
        return found[1]


def _shown_context(fact: Fact, context: str, services: Sequence[Service], catalog: Catalog) -> str:
    """The context line a fact's card shows, when its section's line would give the answer away."""
    service = services[0] if services else None
    # "Which service finds PII? -> Amazon Macie" under Macie, "[IAM] is free" under AWS IAM (a cloze only when the context
    # shows the blank, not "[EMR Studio]" under EMR): the category only, unless the question names that service
    hidden, asked = (fact.back, fact.front) if fact.kind == "qa" else split_deletions(fact.front) if fact.is_cloze else ("", "")
    answer = visible_text(hidden) if hidden else ""
    if answer and service and (fact.kind == "qa" or f" {normalise(answer)} " in f" {normalise(context)} "):
        if set(services) & (set(catalog.in_text(answer)) - set(catalog.in_text(visible_text(asked)))):
            return service.category
    if fact.kind == "definition" and context:
        # the last heading is the term itself ("AWS Billing and Cost Management"): the context stops above it
        *above, last = context.split(CONTEXT_SEPARATOR)
        if normalise(last) == normalise(visible_text(fact.front)):
            return CONTEXT_SEPARATOR.join(above) or (service.category if service else "") or context
    return context


def _note(fact: Fact, shared: _Shared, media: MediaResolver | None) -> CardNote:
    options, catalog = shared.options, shared.catalog
    services, context, escaped_context, sections = shared.place(fact.headings)
    if not services:
        # No heading names a service: a fact whose own text names exactly one still belongs to it.
        mentioned = catalog.in_text(visible_text(f"{fact.front} {fact.back}"))
        if len(mentioned) == 1:
            services = mentioned
    service = services[0] if services else None
    shown = _shown_context(fact, context, services, catalog)
    if shown != context:
        context = sys.intern(shown)
        escaped_context = html.escape(context)
    source = Source(fact.source, fact.line)
    media_names: list[str] = []

    def finish(field_html: str, cloze: bool = False) -> str:
        clean = sanitize(field_html) if field_html else ""
        if media is not None and "<img" in clean:
            clean = _resolve_images(clean, fact, media, media_names)
        return finish_cloze(clean) if cloze else clean

    tags, content_tags = shared.tags(services)
    if options.secondary_tags:
        mentioned = catalog.in_text(visible_text(fact.front + " " + fact.back))
        tags = tuple(dict.fromkeys((*tags, *(f"mentions::{_tag_safe(s.tag)}" for s in mentioned if s not in services))))
        content_tags = " ".join(_content_tags(tags))
    deck = shared.deck(service)
    if fact.is_cloze:
        note_type = "cloze"
        fields: tuple[str, ...] = (finish(fact.front, cloze=True), escaped_context, finish(fact.extra), shared.source(fact.source, fact.line))
        cards = len(cloze_numbers(fields[0])) or 1
    else:
        note_type = "basic"
        reverse = _wants_reverse(fact, options)
        fields = (
            finish(fact.front), finish(fact.back), escaped_context, finish(fact.extra), shared.source(fact.source, fact.line),
            "1" if reverse else "",
        )
        cards = 2 if reverse else 1
    fields = tuple(map(escape_anki_markup, fields))
    identity = note_identity(service.key if service else "-", sections, note_type, normalise(fact.subject))
    return CardNote(
        guid=guid_for(identity),
        note_type=note_type,
        kind=fact.kind,
        fields=fields,
        tags=tags,
        deck=deck,
        service=service.name if service else "",
        category=service.category if service else "",
        context=context,
        source=source,
        merged_sources=(),
        identity=identity,
        content_hash=_hash("\x1f".join((*_HASHED_FIELDS[note_type](fields), content_tags, "" if options.deck_by == "file" else deck))),
        media=tuple(media_names),
        cards=cards,
    )


def note_tags(services: Sequence[Service], extraction: Extraction, options: DeckOptions) -> tuple[str, ...]:
    """Hierarchical service tags, flat service tags, the file's tag and front-matter tags."""
    tags: list[str] = []
    prefix = _tag_safe(options.tag_prefix)
    for service in services:
        tags.append(f"{prefix}::{_tag_safe(service.category)}::{_tag_safe(service.tag)}")
        tags.append(_tag_safe(service.tag))
    if not services:
        tags.append(f"{prefix}::{UNRESOLVED_TAG}")
    if options.file_tags:
        tags.append(file_tag(extraction.source))
    for extra in extraction.metadata.get("tags", ()) or ():
        safe = _tag_safe(str(extra).lstrip("#"))
        if safe:
            tags.append(safe)
    return tuple(dict.fromkeys(unicodedata.normalize("NFC", t) for t in tags if t))


def deck_name(options: DeckOptions, service: Service | None, extraction: Extraction) -> str:
    """The deck a note goes to under the chosen layout (`::` separates levels)."""
    base = str(extraction.metadata.get("deck") or options.deck_name)
    if options.deck_by == "category":
        return f"{base}::{service.category if service else 'Other'}"
    if options.deck_by == "service":
        return f"{base}::{service.category}::{service.name}" if service else f"{base}::Other"
    if options.deck_by == "file":
        parts = extraction.source.rsplit(".", 1)[0].split("/")
        return "::".join([base, *parts])
    return base


def _content_tags(tags: Sequence[str]) -> list[str]:
    """Tags that say what a fact is; `file::` tags only say where it is written."""
    return [t for t in tags if not t.startswith(FILE_TAG_PREFIX)]


def _tag_safe(text: str) -> str:
    return _TAG_UNSAFE.sub("_", text.strip()).strip("_")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _wants_reverse(fact: Fact, options: DeckOptions) -> bool:
    if fact.kind != "definition" or options.reverse == "none":
        return False
    if options.reverse == "all":
        return True
    # A reverse card helps for a short, distinctive definition of a name, not of a label ("Use cases", "Pros").
    words = len(visible_text(fact.back).split())
    return 3 <= words <= 15 and len(fact.subject) >= 3 and normalise(fact.subject) not in LABEL_TERMS


def _resolve_images(field_html: str, fact: Fact, media: MediaResolver, used: list[str]) -> str:
    def resolve(target: str) -> str | None:
        name = media(target, fact.source, fact.line)
        if name is not None:
            used.append(name)
        return name

    return rewrite_images(field_html, resolve)


def _fields_but(*left_out: str) -> dict[str, itemgetter[tuple[str, ...]]]:
    """Per note type, one C call that takes a note's fields but `left_out`, in order."""
    return {
        note_type: itemgetter(*(i for i, name in enumerate(names) if name not in left_out))
        for note_type, names in (("basic", BASIC_FIELDS), ("cloze", CLOZE_FIELDS))
    }


_HASHED_FIELDS = _fields_but("Source")  # what a note's content hash covers
_TEXT_FIELDS = _fields_but("Source", "Context")  # what says what a fact is


def _unique_fronts(notes: list[CardNote]) -> list[CardNote]:
    """Basic notes of different files whose fronts read the same get the nearest part of their
    context that tells them apart (see `context.qualified_fronts`, which does this within a file)."""
    groups: dict[str, list[int]] = {}
    for index, note in enumerate(notes):
        if note.note_type == "basic":
            groups.setdefault(normalise(visible_text(note.fields[0])), []).append(index)
    for key, indexes in groups.items():
        if len(indexes) < 2:
            continue
        paths = [notes[i].context.split(CONTEXT_SEPARATOR) for i in indexes]
        lasts = [normalise(path[-1]) for path in paths]
        last_counts = Counter(lasts)
        for i, last, qualifier in zip(indexes, lasts, distinguishing_each(paths, key)):
            # Skip a qualifier that another path of the group ends with (it would tell nothing apart).
            wanted = normalise(qualifier) if qualifier else ""
            if not qualifier or last_counts[wanted] - (last == wanted) > 0:
                continue
            note = notes[i]
            front = f'{note.fields[0]} <span class="qualifier">({escape_anki_markup(html.escape(qualifier))})</span>'
            # The content hash changes with the front, deterministically: no other field moved.
            notes[i] = replace(note, fields=(front, *note.fields[1:]), content_hash=_hash(f"{note.content_hash}\x1f{front}"))
    return notes


def _with_sources(first: CardNote, duplicates: Sequence[Source]) -> CardNote:
    """The note `first` with the sources of its duplicates added, in its Source field too."""
    sources = (*first.merged_sources, *duplicates)
    source_field = escape_anki_markup(html.escape(f"{first.source} (also {', '.join(map(str, sources))})"))
    fields = tuple(source_field if n == "Source" else f for n, f in zip(first.field_names, first.fields))
    return replace(first, merged_sources=sources, fields=fields)


def _merge_duplicates(notes: Sequence[CardNote]) -> list[CardNote]:
    """One note per fact: the same fact written twice merges (its sources listed); distinct facts
    whose keys collide get a deterministic suffix, so no two facts share a GUID."""
    by_text: dict[tuple[str, tuple[str, ...]], CardNote] = {}
    also: dict[tuple[str, tuple[str, ...]], list[Source]] = {}  # the sources of each one's duplicates
    for note in notes:
        key = (note.note_type, _TEXT_FIELDS[note.note_type](note.fields))
        if key not in by_text:
            by_text[key] = note
        else:  # the Source field is written once per note, below: a line repeated 10,000 times is common
            also.setdefault(key, []).append(note.source)
    out: list[CardNote] = []
    taken: set[str] = set()
    last_suffix: dict[str, int] = {}  # per key, the suffix last given: every one below it is taken
    for key, note in by_text.items():
        if key in also:
            note = _with_sources(note, also[key])
        out.append(_distinct_guid(note, taken, last_suffix))
    return out


def _distinct_guid(note: CardNote, taken: set[str], last_suffix: dict[str, int]) -> CardNote:
    """`note` with the first GUID of its key not `taken` (its own, else of `#2`, `#3`...), now taken.

    The search starts after the suffix last given to the same key (taken GUIDs stay taken), so
    that facts sharing one key thousands of times do not try every suffix again each."""
    suffix = last_suffix.get(note.identity, 1)
    identity = note.identity if suffix == 1 else numbered(note.identity, suffix)
    guid = note.guid if suffix == 1 else guid_for(identity)  # note.guid is guid_for(note.identity)
    while guid in taken:
        suffix += 1
        identity = numbered(note.identity, suffix)
        guid = guid_for(identity)
    last_suffix[note.identity] = suffix
    if identity != note.identity:
        note = replace(note, guid=guid, identity=identity)
    taken.add(note.guid)
    return note



"""The whole pipeline as one call: `build_deck(paths)` reads, parses, extracts and makes notes;
`build_into(output, paths)` also writes the deck, and does nothing when it is already up to date.

The stages are imported where they are used: an up-to-date rebuild only reads and hashes the
files, and should not pay for importing mistune, nh3 or Pygments.
"""
from __future__ import annotations

import gc
import os
import time
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from .errors import BuildWarning, InputError
from .read import ReadResult, Scan, ScannedFile, SourceFile, decode_sources, scan_sources

if TYPE_CHECKING:
    from .extract import Extraction
    from .media import MediaCollector
    from .notes import CardNote, FileNotes, NoteOptions
    from .state import Changes
    from .stats import Quality
    from .uptodate import Lookup, Record

BUNDLED_NOTES = Path(__file__).resolve().parent / "source_notes"


@dataclass(frozen=True)
class BuildReport:
    """What a build made and what it skipped: counts per kind and service, warnings with file:line."""

    files: int
    notes: int
    cards: int
    notes_by_kind: Mapping[str, int]
    notes_by_type: Mapping[str, int]
    cards_by_type: Mapping[str, int]
    notes_by_service: Mapping[str, int]
    unresolved: tuple[str, ...]
    skipped: Mapping[str, int]
    merged: int
    warnings: tuple[BuildWarning, ...]
    seconds: Mapping[str, float] = field(default_factory=dict)
    # Defects, facts per pattern, coverage: measured only when asked (`build_deck(quality=True)`).
    quality: Quality | None = None
    files_cached: int = 0  # files whose facts came from the cache (not parsed again)
    workers: int = 0  # worker processes that parsed files (0: this process alone)

    @property
    def bold_spans(self) -> int | None:
        """Bold spans in the notes (None unless quality was measured)."""
        return self.quality.bold_spans if self.quality else None

    @property
    def bold_covered(self) -> int | None:
        """Bold spans some note shows (None unless quality was measured)."""
        return self.quality.bold_covered if self.quality else None

    @property
    def definition_lines(self) -> int | None:
        """`Term: definition` lines in the notes (None unless quality was measured)."""
        return self.quality.definition_lines if self.quality else None

    @property
    def definition_covered(self) -> int | None:
        """Definition lines some note covers (None unless quality was measured)."""
        return self.quality.definition_covered if self.quality else None

    def as_dict(self) -> dict[str, object]:
        """The report as plain data (for `--json`)."""
        return {
            "files": self.files,
            "notes": self.notes,
            "cards": self.cards,
            "notes_by_kind": dict(self.notes_by_kind),
            "notes_by_type": dict(self.notes_by_type),
            "cards_by_type": dict(self.cards_by_type),
            "notes_by_service": dict(self.notes_by_service),
            "unresolved": list(self.unresolved),
            "skipped": dict(self.skipped),
            "merged": self.merged,
            "coverage": {
                "bold_spans": self.bold_spans,
                "bold_covered": self.bold_covered,
                "definition_lines": self.definition_lines,
                "definition_covered": self.definition_covered,
            } if self.quality else None,
            "warnings": [str(w) for w in self.warnings],
            "seconds": dict(self.seconds),
            "files_cached": self.files_cached,
            "workers": self.workers,
            "quality": self.quality.as_dict() if self.quality else None,
        }


@dataclass(frozen=True)
class WriteResult:
    """What writing the deck did: where, how big, and what changed since the previous build."""

    path: Path
    size: int
    changes: Changes
    media: int
    warnings: tuple[BuildWarning, ...] = ()
    up_to_date: bool = False  # nothing changed since the last build: the deck was left as it was


@dataclass(frozen=True)
class DeckBuild:
    """What `build_into` did: the report, the deck written (or found up to date), and the notes."""

    report: BuildReport
    written: WriteResult
    result: BuildResult | None  # the notes of the deck written: None when it was up to date


@dataclass(frozen=True)
class BuildResult:
    """The notes of a build and its report; `.write(path)` packages them."""

    notes: tuple[CardNote, ...]
    report: BuildReport
    extractions: tuple[Extraction, ...]  # the facts per file, only when built with quality=True
    file_mtimes: Mapping[str, int]  # each note file's modification time, by notes-relative path
    media_files: Mapping[str, Path]
    lookups: tuple[Lookup, ...] = ()  # every image lookup: (file, reference, line, package name or None)

    def write(self, path: str | Path, *, use_state: bool = True, now: int | None = None) -> WriteResult:
        """Write the `.apkg` (atomically) and its build state next to it."""
        from .models import basic_type, cloze_type
        from .package import write_package
        from .state import load_state, plan_build, save_state, state_path

        path = Path(path)
        lock = state_path(path)
        previous, state_warnings = load_state(lock) if use_state else (None, ())
        timestamp = now if now is not None else _now()
        plan = plan_build(
            self.notes,
            previous,
            now=timestamp,
            note_types=(basic_type(), cloze_type()),
            file_mtimes=self.file_mtimes,
        )
        del previous  # the new state replaces it: at 100x its records are 150 MB not needed any more
        size = write_package(
            plan.notes,
            path,
            note_mods=plan.note_mods,
            model_mods=plan.model_mods,
            created=timestamp,
            media_files=self.media_files,
        )
        if use_state:
            save_state(lock, plan.state)
        return WriteResult(path, size, plan.changes, len(self.media_files), state_warnings)


def build_deck(
    paths: Sequence[str | Path] | str | Path | None = None,
    *,
    deck_name: str = "AWS",
    deck_by: str = "none",
    reverse: str = "none",
    file_tags: bool = True,
    secondary_tags: bool = False,
    tag_prefix: str = "AWS",
    jobs: int | None = None,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    attachments: str | Path | Sequence[str | Path] | None = None,
    quality: bool = False,
) -> BuildResult:
    """Build notes from Markdown files or folders (the bundled notes when `paths` is None).

    Files are parsed in `jobs` worker processes (None: one per CPU) when there are enough of them,
    and each file's facts are cached by its content in `cache_dir` (default: `AWS_ANKI_CACHE_DIR`,
    else the user cache folder; see `aws_anki.cache`) unless `use_cache` is False. `progress`, if
    given, is called as `progress("parse", done, total)` while files are parsed (and by `build_into`
    as `progress("write", 0, 0)` before the deck is written). `attachments` names
    the folder(s) images are looked up in after the note's folder and the notes root: relative to
    the notes root (`"attachments"`), to the note (`"./assets"`) or absolute (searched before the
    defaults: attachments, assets, images, img, _resources). `quality=True` also measures defects
    and coverage into `report.quality` (what `aws-anki inspect --stats` shows).
    """
    started = time.perf_counter()
    with _without_cycle_collection():
        return _build(
            _read(paths), started, deck_name=deck_name, deck_by=deck_by, reverse=reverse, file_tags=file_tags,
            secondary_tags=secondary_tags, tag_prefix=tag_prefix, jobs=jobs, use_cache=use_cache, cache_dir=cache_dir,
            progress=progress, attachments=attachments, quality=quality,
        )


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while this process builds: the notes of a big vault are
    hundreds of thousands of objects without cycles, which it would scan again and again (a
    seventh of a one-file rebuild at 10x). Workers parse with it on: mistune's state has cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # Re-enabled as is, the collector would scan every object the build made at its next
            # allocation (they count as new): 0.3 s at 100x. Frozen, then unfrozen, they join the
            # oldest generation without a collection, to be scanned when it is next due; not when
            # the program froze objects of its own (a pre-fork server), which must stay frozen.
            thaw = gc.get_freeze_count() == 0
            if thaw:
                gc.freeze()
            gc.enable()
            if thaw:
                gc.unfreeze()


def build_into(
    output: str | Path,
    paths: Sequence[str | Path] | str | Path | None = None,
    *,
    use_state: bool = True,
    now: int | None = None,
    **options: Any,
) -> DeckBuild:
    """Build the deck at `output` from `paths` (what `aws-anki build` does), unless it is up to date.

    `options` are those of `build_deck`. With the cache and the build state on (the default), a
    build whose note files, images, options and aws_anki code are those of the deck at `output`
    (and its state file, both untouched since) leaves them alone and reports what the last build
    made, with `written.up_to_date` True and `result` None (see `aws_anki.uptodate`).
    """
    from .state import state_path
    from .uptodate import forget, inputs_digest, load_record, setup_digest

    started = time.perf_counter()
    output = Path(output)
    scan = _scan(paths)  # the files' bytes: all the check needs
    checked = use_state and options.get("use_cache", True) and not options.get("quality")
    if checked:
        from .cache import default_cache_dir

        cache_dir = Path(options.get("cache_dir") or default_cache_dir())
        options_key = _options_key(options)
        setup = setup_digest(scan, options_key)
        digest = inputs_digest(scan, setup)
        record = load_record(cache_dir, output)
        resolve = _collector(scan.files, options.get("attachments"))
        if record is not None and record.current(digest, output, state_path(output), resolve):
            return _up_to_date(record, output, started)
        try:
            forget(cache_dir, output)  # a build that fails half-way must not leave a record that matches
        except OSError:
            pass
    read = decode_sources(scan)
    del scan  # the bytes are not needed any more, and on a big vault they are a lot of memory
    with _without_cycle_collection():
        result, _ = _build_files(read, started, meanwhile=_load_writer, **options)
        del read  # the files' text is not needed any more, and on a big vault it is a lot of memory
        if options.get("progress") is not None:
            options["progress"]("write", 0, 0)
        written = result.write(output, use_state=use_state, now=now)
        if checked:
            _remember(cache_dir, output, digest, result.report, result.lookups, written)
    return DeckBuild(result.report, written, result)


def _load_writer() -> None:
    """Import what writing a deck needs (genanki alone takes about 50 ms), so that a build that
    parses in worker processes does it while they work instead of after."""
    try:
        import genanki  # noqa: F401

        from . import package, state  # noqa: F401
    except Exception:  # only a head start: the writer imports them again and reports what fails
        pass


def _remember(
    cache_dir: Path,
    output: Path,
    digest: str,
    report: BuildReport,
    lookups: tuple[Lookup, ...],
    written: WriteResult,
) -> None:
    """Record the build of `digest` just written into `output`."""
    from .state import state_path
    from .uptodate import Record, file_stamp, save_record

    changes = written.changes
    save_record(cache_dir, output, Record(
        digest=digest,
        lookups=lookups,
        deck=file_stamp(output),
        state=file_stamp(state_path(output)),
        report=_report_record(report),
        guids=(*changes.added, *changes.updated, *changes.unchanged),
        media=written.media,
    ))


def _scan(paths: Sequence[str | Path] | str | Path | None) -> Scan:
    """The note files under `paths` (the bundled notes when None), read but not decoded."""
    if paths is None:
        paths = [bundled_notes()]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    scan = scan_sources(paths)
    if not scan.files and not scan.warnings:
        raise InputError(f"no Markdown files (.md) found in {', '.join(str(p) for p in paths)}")
    return scan


def _read(paths: Sequence[str | Path] | str | Path | None) -> ReadResult:
    """The note files under `paths` (the bundled notes when None), read and decoded."""
    return decode_sources(_scan(paths))


def _options_key(options: Mapping[str, Any]) -> str:
    """The options that decide a deck's content, defaults filled in (not jobs, cache or progress)."""
    settings = {**(build_deck.__kwdefaults__ or {}), **options}
    ignored = {"jobs", "use_cache", "cache_dir", "progress", "quality"}
    settings["attachments"] = _given_folders(settings.get("attachments"))
    return repr(sorted((k, v) for k, v in settings.items() if k not in ignored))


def _given_folders(attachments: str | Path | Sequence[str | Path] | None) -> list[str]:
    """The `attachments` option as a list of folder names (strings: Path("./x") would lose "./")."""
    return [str(attachments)] if isinstance(attachments, (str, Path)) else [str(a) for a in attachments or ()]


def _collector(
    files: Sequence[SourceFile | ScannedFile], attachments: str | Path | Sequence[str | Path] | None
) -> MediaCollector:
    """The image resolver for these files: the given attachment folders, then the defaults."""
    from .media import DEFAULT_ATTACHMENT_FOLDERS, MediaCollector

    return MediaCollector.for_files(files, (*_given_folders(attachments), *DEFAULT_ATTACHMENT_FOLDERS))


def _report_record(report: BuildReport) -> dict[str, Any]:
    data = report.as_dict()
    data["warnings"] = [[w.path, w.line, w.code, w.message] for w in report.warnings]
    return data


def _up_to_date(record: Record, output: Path, started: float) -> DeckBuild:
    """The result of a build that found the deck up to date: the last build's report, nothing written."""
    from .state import Changes

    data = record.report
    report = BuildReport(
        files=int(data["files"]),
        notes=int(data["notes"]),
        cards=int(data["cards"]),
        notes_by_kind=dict(data["notes_by_kind"]),
        notes_by_type=dict(data["notes_by_type"]),
        cards_by_type=dict(data["cards_by_type"]),
        notes_by_service=dict(data["notes_by_service"]),
        unresolved=tuple(data["unresolved"]),
        skipped=dict(data["skipped"]),
        merged=int(data["merged"]),
        warnings=tuple(BuildWarning(str(p), line, str(c), str(m)) for p, line, c, m in data["warnings"]),
        seconds={"up-to-date check": round(time.perf_counter() - started, 4)},
        files_cached=int(data["files"]),  # none was parsed: all are as the last build made them
    )
    changes = Changes(added=(), updated=(), unchanged=record.guids, removed=(), carried_over=())
    return DeckBuild(report, WriteResult(output, record.deck[0], changes, record.media, (), up_to_date=True), None)


def _settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """`build_deck`'s keyword arguments `given`, checked, with the defaults filled in."""
    from .options import DECK_LAYOUTS, REVERSE_MODES

    defaults = build_deck.__kwdefaults__ or {}
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected build option(s): {', '.join(sorted(unknown))}")
    settings = {**defaults, **given}
    if settings["deck_by"] not in DECK_LAYOUTS:
        raise InputError(f"deck_by must be one of {', '.join(DECK_LAYOUTS)}, not {settings['deck_by']!r}")
    if settings["reverse"] not in REVERSE_MODES:
        raise InputError(f"reverse must be one of {', '.join(REVERSE_MODES)}, not {settings['reverse']!r}")
    return settings


def _note_options(settings: Mapping[str, Any]) -> NoteOptions:
    """The note options among the build `settings` (see `_settings`)."""
    from .notes import NoteOptions

    return NoteOptions(**{name: settings[name] for name in NoteOptions.__dataclass_fields__})


def _parse_progress(settings: Mapping[str, Any]) -> Callable[[int, int], None] | None:
    """The build's progress callback as the parse stage calls it (files done, in all), or None."""
    progress = settings["progress"]
    return (lambda done, total: progress("parse", done, total)) if progress is not None else None


def _build(read: ReadResult, started: float, **given: Any) -> BuildResult:
    """`build_deck` on files already read; `given` are its keyword arguments (unknown ones refused)."""
    return _build_files(read, started, **given)[0]


def _build_files(
    read: ReadResult, started: float, *, meanwhile: Callable[[], object] | None = None, **given: Any
) -> tuple[BuildResult, tuple[FileNotes, ...]]:
    """`_build`, also returning each file's notes before merging; `meanwhile` is work to do while
    worker processes parse (see `parallel.notes_all`)."""
    clock = time.perf_counter
    read_done = clock()  # the stages' imports below count towards the next stage, not the read
    from .cache import NotesCache
    from .notes import merge_notes
    from .parallel import notes_all
    from .uptodate import lookups_of

    settings = _settings(given)
    jobs, use_cache, cache_dir = settings["jobs"], settings["use_cache"], settings["cache_dir"]
    attachments, quality = settings["attachments"], settings["quality"]
    cache = NotesCache(cache_dir) if use_cache else None
    if cache is not None:
        cache.prune_old_formats()
    media = _collector(read.files, attachments)
    per_file, extractions, parsed = notes_all(
        read.files, options=_note_options(settings), media=media, jobs=jobs, cache=cache,
        keep_extractions=quality, progress=_parse_progress(settings), meanwhile=meanwhile,
    )
    files_done = clock()
    made = merge_notes(per_file)
    notes_done = clock()
    warnings = (*read.warnings, *made.warnings, *media.warnings)
    report = _report(read.files, per_file, extractions, made.notes, made.unresolved, warnings, quality)
    seconds = {
        "read": read_done - started,
        "parse+extract+notes": files_done - read_done,
        "merge": notes_done - files_done,
        "report": clock() - notes_done,
    }
    return BuildResult(
        notes=made.notes,
        report=replace(
            report,
            files_cached=parsed.cached,
            workers=parsed.workers,
            seconds={stage: round(value, 4) for stage, value in seconds.items()},
        ),
        extractions=extractions,
        file_mtimes={s.rel_path: int(s.mtime) for s in read.files},  # not the files: their text is big
        media_files=dict(media.files),
        lookups=lookups_of(per_file),
    ), per_file


def bundled_notes() -> Path:
    """The folder of notes shipped with aws_anki (installed package data, or the checkout's)."""
    if BUNDLED_NOTES.is_dir():
        return BUNDLED_NOTES
    checkout = Path(__file__).resolve().parent.parent / "source_notes"
    if checkout.is_dir():
        return checkout
    raise InputError("the bundled source_notes/ folder is missing from this installation; pass PATHS explicitly")


def _report(
    sources: Sequence[SourceFile],
    per_file: Sequence[FileNotes],
    extractions: Sequence[Extraction],
    notes: Sequence[CardNote],
    unresolved: Sequence[str],
    warnings: Sequence[BuildWarning],
    with_quality: bool,
) -> BuildReport:
    quality = None
    if with_quality:
        from .stats import quality as measure_quality

        quality = measure_quality(notes, extractions)
    return _assemble_report(len(sources), per_file, tally(notes), unresolved, warnings, quality)


class Tally(NamedTuple):
    """What a report counts of notes: notes per kind, type and service, and cards per note type."""

    kinds: Counter[str]
    types: Counter[str]
    cards: Counter[str]
    services: Counter[str]


def tally(notes: Sequence[CardNote]) -> Tally:
    """The counts a report gives of `notes`."""
    cards: Counter[str] = Counter()
    for note in notes:
        cards[note.note_type] += note.cards
    return Tally(
        Counter(n.kind for n in notes),
        Counter(n.note_type for n in notes),
        cards,
        Counter(n.service or "(unresolved)" for n in notes),
    )


def _assemble_report(
    files: int,
    per_file: Sequence[FileNotes],
    counts: Tally,
    unresolved: Sequence[str],
    warnings: Sequence[BuildWarning],
    quality: Quality | None,
) -> BuildReport:
    """The report of a build of `files` files with these notes (`counts`) and files' notes."""
    facts = sum(f.facts for f in per_file)
    skipped: Counter[str] = Counter()
    for f in per_file:
        skipped.update(dict(f.skipped))
    notes = sum(counts.types.values())
    return BuildReport(
        files=files,
        notes=notes,
        cards=sum(counts.cards.values()),
        notes_by_kind=dict(sorted((+counts.kinds).items())),
        notes_by_type=dict(sorted((+counts.types).items())),
        cards_by_type=dict(sorted((+counts.cards).items())),
        notes_by_service=dict((+counts.services).most_common()),
        unresolved=tuple(unresolved),
        skipped=dict(skipped.most_common()),
        merged=facts - notes,
        warnings=tuple(warnings),
        quality=quality,
    )


def _now() -> int:
    # SOURCE_DATE_EPOCH makes first builds reproducible (the reproducible-builds convention).
    return int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())


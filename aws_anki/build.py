"""The whole pipeline as one call: `build_deck(paths)` reads, parses, extracts and makes notes;
`build_into(output, paths)` also writes the deck, and does nothing when it is already up to date.

Both take the same two option types (`aws_anki.options`): `DeckOptions`, what decides the notes,
and `RunOptions`, how the build runs. The parse, notes and package stages are imported where they
are used: an up-to-date rebuild only reads and hashes the files, and should not pay for importing
mistune, nh3, genanki or Pygments.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import models
from .cache import NotesCache, default_cache_dir
from .errors import BuildWarning, InputError
from .media import DEFAULT_ATTACHMENT_FOLDERS, MediaCollector
from .options import DeckOptions, RunOptions
from .read import ReadResult, SourceFile, decode_sources
from .report import BuildReport, make_report
from .outputs import output_lock, refuse_unsafe_outputs, replace_together
from .scan import Scan, ScannedFile, scan_sources
from .state import Changes, build_time, load_state, plan_build, stage_state, state_path
from .uptodate import Lookup, Record, file_stamp, forget, inputs_digest, load_record, lookups_of, save_record, setup_digest

if TYPE_CHECKING:
    from .extract import Extraction
    from .notes import CardNote

__all__ = ["BuildReport", "BuildResult", "DeckBuild", "WriteResult", "build_deck", "build_into", "bundled_notes"]

BUNDLED_NOTES = Path(__file__).resolve().parent / "source_notes"
Paths = Sequence[str | Path] | str | Path | None


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
class BuildResult:
    """The notes of a build and its report; `.write(path)` packages them."""

    notes: tuple[CardNote, ...]
    report: BuildReport
    extractions: tuple[Extraction, ...]  # the facts per file, only when built with quality=True
    file_mtimes: Mapping[str, int]  # each note file's modification time, by notes-relative path
    media_files: Mapping[str, Path]
    lookups: tuple[Lookup, ...] = ()  # every image lookup: (file, reference, line, package name or None)
    excluded: tuple[str, ...] = ()  # notes-relative paths `exclude` or `.aws-anki-ignore` left out
    sources: tuple[Path, ...] = ()  # the note files read: no output may replace one

    def write(self, path: str | Path, *, use_state: bool = True, now: int | None = None) -> WriteResult:
        """Write the `.apkg` and its build state next to it, both or neither (see `aws_anki.outputs`).

        OutputError, before anything is written, when either would replace a note file or an image
        of this build; PackageError naming the path when they cannot be written."""
        path = Path(path)
        refuse_unsafe_outputs(_outputs(path, use_state))
        with output_lock(path, what="deck"):
            return _write(self, path, use_state=use_state, now=now)


@dataclass(frozen=True)
class DeckBuild:
    """What `build_into` did: the report, the deck written (or found up to date), and the notes."""

    report: BuildReport
    written: WriteResult
    result: BuildResult | None  # the notes of the deck written: None when it was up to date


def _outputs(path: Path, use_state: bool) -> tuple[Path, ...]:
    """The files writing a deck at `path` replaces."""
    return (path, state_path(path)) if use_state else (path,)


def _write(result: BuildResult, path: Path, *, use_state: bool, now: int | None) -> WriteResult:
    """`BuildResult.write` with the lock of `path` held: stage the deck and the state, then put
    both in place together."""
    from .package import stage_package  # ~65 ms with genanki: only a build that writes needs it

    refuse_unsafe_outputs(_outputs(path, use_state), (*result.sources, *result.media_files.values()))
    lock = state_path(path)
    previous, state_warnings = load_state(lock) if use_state else (None, ())
    timestamp = now if now is not None else _now()
    plan = plan_build(
        result.notes, previous, now=timestamp, note_types=(models.basic_type(), models.cloze_type()), file_mtimes=result.file_mtimes
    )
    del previous  # the new state replaces it: at 100x its records are 150 MB not needed any more
    staged = [(stage_package(
        plan.notes, path, note_mods=plan.note_mods, model_mods=plan.model_mods, created=timestamp,
        media_files=result.media_files,
    ), path)]
    if use_state:
        try:
            staged.append((stage_state(lock, plan.state, owner=path), lock))
        except BaseException:
            staged[0][0].unlink(missing_ok=True)
            raise
    replace_together(staged, "deck and its build state" if use_state else "deck", owner=path)
    return WriteResult(path, path.stat().st_size, plan.changes, len(result.media_files), state_warnings)


def build_deck(
    paths: Paths = None, deck: DeckOptions = DeckOptions(), run: RunOptions = RunOptions(), *, exclude: Sequence[str] = ()
) -> BuildResult:
    """Build notes from Markdown files or folders (the bundled notes when `paths` is None).

    Files are parsed in `run.jobs` worker processes when there are enough of them, and each file's
    notes are cached by its content unless `run.use_cache` is False (see `RunOptions`). `exclude`
    patterns (gitignore syntax, matched below each notes root) leave files out, as a root's
    `.aws-anki-ignore` does.
    """
    started = time.perf_counter()
    with _without_cycle_collection():
        return _build(decode_sources(_scan(paths, exclude)), deck, run, started)


def build_into(
    output: str | Path,
    paths: Paths = None,
    deck: DeckOptions = DeckOptions(),
    run: RunOptions = RunOptions(),
    *,
    use_state: bool = True,
    now: int | None = None,
    exclude: Sequence[str] = (),
) -> DeckBuild:
    """Build the deck at `output` from `paths` (what `aws-anki build` does), unless it is up to date.

    With the cache and the build state on (the default), a build whose note files, images, options
    and aws_anki code are those of the deck at `output` (and its state file, both untouched since)
    leaves them alone and reports what the last build made, with `written.up_to_date` True and
    `result` None (see `aws_anki.uptodate`).
    """
    started = time.perf_counter()
    output = Path(output)
    refuse_unsafe_outputs(_outputs(output, use_state))
    with output_lock(output, what="deck"):
        return _build_into(output, paths, deck, run, use_state=use_state, now=now, exclude=exclude, started=started)


def _build_into(
    output: Path, paths: Paths, deck: DeckOptions, run: RunOptions, *, use_state: bool, now: int | None,
    exclude: Sequence[str], started: float,
) -> DeckBuild:
    """`build_into` with the lock of `output` held."""
    scan = _scan(paths, exclude)  # the files' bytes: all the check needs
    refuse_unsafe_outputs(_outputs(output, use_state), (file.path for file in scan.files))
    # The up-to-date record lives in the cache folder, and is kept only with the cache and the state on.
    record_dir = Path(run.cache_dir or default_cache_dir()) if use_state and run.use_cache and not run.quality else None
    digest = ""
    if record_dir is not None:
        digest = inputs_digest(scan, setup_digest(scan, deck.key()))
        record = load_record(record_dir, output)
        resolve = _collector(scan.files, deck)
        if record is not None and record.current(digest, output, state_path(output), resolve):
            return _up_to_date(record, output, started)
        with suppress(OSError):
            forget(record_dir, output)  # a build that fails half-way must not leave a record that matches
    read = decode_sources(scan)
    del scan  # the bytes are not needed any more, and on a big vault they are a lot of memory
    with _without_cycle_collection():
        result = _build(read, deck, run, started, meanwhile=_load_writer)
        del read  # the files' text is not needed any more, and on a big vault it is a lot of memory
        if run.progress is not None:
            run.progress("write", 0, 0)
        written = _write(result, output, use_state=use_state, now=now)
        if record_dir is not None:
            _remember(record_dir, output, digest, result, written)
    return DeckBuild(result.report, written, result)


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


def _load_writer() -> None:
    """Import what writing a deck needs (~65 ms with genanki), so that a build that parses in worker
    processes does it while they work instead of after."""
    try:
        from . import package  # noqa: F401  (the import is the work)
    except Exception:  # only a head start: the writer imports it again and reports what fails
        pass


def _remember(cache_dir: Path, output: Path, digest: str, result: BuildResult, written: WriteResult) -> None:
    """Record the build of `digest` just written into `output`."""
    changes = written.changes
    save_record(cache_dir, output, Record(
        digest=digest,
        lookups=result.lookups,
        deck=file_stamp(output),
        state=file_stamp(state_path(output)),
        report=result.report,
        guids=(*changes.added, *changes.updated, *changes.unchanged),
        media=written.media,
    ))


def _up_to_date(record: Record, output: Path, started: float) -> DeckBuild:
    """The result of a build that found the deck up to date: the last build's report, nothing written."""
    report = replace(
        record.report,
        seconds={"up-to-date check": round(time.perf_counter() - started, 4)},
        files_cached=record.report.files,  # none was parsed: all are as the last build made them
    )
    changes = Changes(added=(), updated=(), unchanged=record.guids, removed=(), carried_over=())
    return DeckBuild(report, WriteResult(output, record.deck[0], changes, record.media, (), up_to_date=True), None)


def _scan(paths: Paths, exclude: Sequence[str] = ()) -> Scan:
    """The note files under `paths` (the bundled notes when None) but those excluded, read but not decoded."""
    if paths is None:
        paths = [bundled_notes()]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    scan = scan_sources(paths, exclude)
    if not scan.files and not scan.warnings:
        left_out = f" ({len(scan.excluded)} excluded by --exclude or .aws-anki-ignore)" if scan.excluded else ""
        raise InputError(f"no Markdown files (.md) found in {', '.join(str(p) for p in paths)}{left_out}")
    return scan


def _collector(files: Sequence[SourceFile | ScannedFile], deck: DeckOptions) -> MediaCollector:
    """The image resolver for these files: the given attachment folders, then the defaults."""
    return MediaCollector.for_files(files, (*deck.attachments, *DEFAULT_ATTACHMENT_FOLDERS))


def _build(
    read: ReadResult, deck: DeckOptions, run: RunOptions, started: float, meanwhile: Callable[[], object] | None = None
) -> BuildResult:
    """`build_deck` on files already read; `meanwhile` is work to do while worker processes parse
    (see `parallel.notes_all`)."""
    clock = time.perf_counter
    read_done = clock()  # the stages' imports below count towards the next stage, not the read
    # The per-file stages cost ~0.1 s to import (measured): here, so that an up-to-date build never loads them.
    from .notes import merge_notes
    from .parallel import notes_all
    from .quality import quality as measure_quality

    cache = NotesCache(run.cache_dir) if run.use_cache else None
    if cache is not None:
        cache.prune_old_formats()
    media = _collector(read.files, deck)
    progress = run.progress
    per_file, extractions, parsed = notes_all(
        read.files, options=deck, media=media, jobs=run.jobs, cache=cache, keep_extractions=run.quality,
        progress=(lambda done, total: progress("parse", done, total)) if progress is not None else None,
        meanwhile=meanwhile,
    )
    files_done = clock()
    made = merge_notes(per_file)
    notes_done = clock()
    quality = None
    if run.quality:
        quality = measure_quality(made.notes, extractions)
    warnings = (*read.warnings, *made.warnings, *media.warnings)
    report = make_report(len(read.files), per_file, made.notes, made.unresolved, warnings, quality)
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
        excluded=read.excluded,
        sources=tuple(s.path for s in read.files),
    )


def bundled_notes() -> Path:
    """The folder of notes shipped with aws_anki (installed package data, or the checkout's)."""
    if BUNDLED_NOTES.is_dir():
        return BUNDLED_NOTES
    checkout = Path(__file__).resolve().parent.parent / "source_notes"
    if checkout.is_dir():
        return checkout
    raise InputError("the bundled source_notes/ folder is missing from this installation; pass PATHS explicitly")


def _now() -> int:
    """The one clock of builds, sync and push (`state.build_time`: SOURCE_DATE_EPOCH, else now)."""
    return build_time()

"""Make every file's notes at once: cached results first, then worker processes for the rest.

A file's way to notes (parse, extract, render the notes' fields) only needs that file, so it is
done per file, in worker processes when there is enough text: mistune is pure Python and holds the
GIL, so the way past one core is processes. A worker gets a batch of `SourceFile`s, returns their
`FileNotes` and writes their cache entries itself (so encoding is parallel too). Results come back
in the order of the input, whatever order the workers finish in, so a parallel build makes exactly
the notes, in exactly the order, that a serial one does. What needs every file (merging duplicate
facts, distinct GUIDs) happens afterwards, in `notes.merge_notes`.

Images are looked up where the notes are made, with a collector of the worker's own; the build
then replays those lookups (`FileNotes.media`) in its own collector, in file order, which gathers
the files to package and the warnings, and shows whether a cached entry's images changed on disk.

Small inputs stay in this process: starting workers and shipping files to them costs more than it
saves below about `PARALLEL_MIN_BYTES` of text (measured with `benchmarks/run.py --switch`).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any, Callable, Sequence

from .cache import NotesCache
from .extract import Extraction, extract_facts
from .media import DEFAULT_ATTACHMENT_FOLDERS, MediaCollector
from .notes import FileNotes, file_notes
from .options import DeckOptions
from .parse import parse_document, text_warnings
from .read import SourceFile

__all__ = ["PARALLEL_MIN_BYTES", "FileStats", "extract_one", "notes_all", "usable_cpus", "worker_count"]

# Below this much text (not counting cache hits) a build does not start worker processes.
PARALLEL_MIN_BYTES = 96 * 1024  # measured: parallel is 0.78x serial at 128 KB, even at 64 KB
# A batch sent to a worker holds at least this much text (fewer round trips) ...
_BATCH_MIN_BYTES = 32 * 1024
# ... and at most this much (a worker holds a batch's notes until it sends them all back).
_BATCH_MAX_BYTES = 1024 * 1024
# ... and there are about this many batches per worker (even load when file sizes differ).
_BATCHES_PER_WORKER = 8

# Progress callback: (files done, files in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FileStats:
    """How the per-file results of a build were obtained."""

    cached: int  # files whose notes came from the cache
    parsed: int  # files parsed, extracted and made into notes in this build
    workers: int  # worker processes used (0: all in this process)


@dataclass(frozen=True)
class _Job:
    """What a worker needs besides the files: how to make notes and where images are."""

    options: DeckOptions
    folders: tuple[str, ...]
    variant: str
    cache_dir: str | None
    fingerprint: str | None
    key: bytes | None  # the cache's signing key: read once, here, not by every worker
    keep_extractions: bool

    @classmethod
    def of(cls, options: DeckOptions, media: MediaCollector | None, cache: NotesCache | None, keep_extractions: bool) -> _Job:
        """The job of a `notes_all` call."""
        return cls(
            options=options,
            folders=media.folders if media is not None else DEFAULT_ATTACHMENT_FOLDERS,
            variant=options.key(),
            cache_dir=str(cache.directory) if cache is not None else None,
            fingerprint=cache.fingerprint if cache is not None else None,
            key=cache.key if cache is not None else None,
            keep_extractions=keep_extractions,
        )


def extract_one(source: SourceFile) -> Extraction:
    """Parse and extract one file."""
    return extract_facts(parse_document(source))


def worker_count(jobs: int | None = None) -> int:
    """How many workers `jobs` means: None or 0 is one per CPU this process may use."""
    if jobs is not None and jobs > 0:
        return jobs
    return usable_cpus()


def usable_cpus() -> int:
    """How many CPUs this process may use (its affinity where the system says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def notes_all(
    sources: Sequence[SourceFile],
    *,
    options: DeckOptions = DeckOptions(),
    media: MediaCollector | None = None,
    jobs: int | None = None,
    cache: NotesCache | None = None,
    keep_extractions: bool = False,
    progress: Progress | None = None,
    min_parallel_bytes: int | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[tuple[FileNotes, ...], tuple[Extraction, ...], FileStats]:
    """Every source's notes, in order, and (with `keep_extractions`) their extractions.

    Notes come from `cache` when valid (never when extractions are wanted: the cache holds notes
    only), else are made, in parallel when `jobs` allows more than one worker and there is at least
    `min_parallel_bytes` (default `PARALLEL_MIN_BYTES`) of text. Images are looked up in `media`'s
    attachment folders (the defaults without it), and the lookups replayed in `media`, in file
    order; a cached entry whose images no longer resolve the same is made again.

    `meanwhile` is work of this process's own to do while worker processes parse: it runs in a
    thread, once they have all started (never before a fork), and is done before this returns; it
    is not run at all when there are no workers.
    """
    job = _Job.of(options, media, cache, keep_extractions)
    results: list[tuple[FileNotes, Extraction | None] | None] = [None] * len(sources)
    if cache is not None and not keep_extractions:
        results = [(found, None) if found is not None else None for found in (cache.get(s, job.variant) for s in sources)]
    todo = [index for index, result in enumerate(results) if result is None]
    cached = len(sources) - len(todo)
    done = cached
    if progress is not None:
        progress(done, len(sources))

    def finished(index: int, made: tuple[FileNotes, Extraction | None]) -> None:
        nonlocal done
        results[index] = made
        done += 1
        if progress is not None:
            progress(done, len(sources))

    workers = min(worker_count(jobs), len(todo))
    pending_bytes = sum(len(sources[i].text) for i in todo)
    threshold = PARALLEL_MIN_BYTES if min_parallel_bytes is None else min_parallel_bytes
    pool = _pool(workers) if workers > 1 and pending_bytes >= threshold else None
    if pool is not None:
        _in_workers(pool, sources, todo, workers, job, finished, meanwhile)
    else:
        workers = 0
        for index, made in zip(todo, _notes_batch([sources[i] for i in todo], job)):
            finished(index, made)
    outcomes = [result for result in results if result is not None]
    refreshed = _replay_all(sources, outcomes, job, media, cache) if media is not None else 0
    kept = tuple(e for _, e in outcomes if e is not None) if keep_extractions else ()
    stats = FileStats(cached=cached - refreshed, parsed=len(todo) + refreshed, workers=workers)
    return tuple(notes for notes, _ in outcomes), kept, stats


def _in_workers(
    pool: ProcessPoolExecutor,
    sources: Sequence[SourceFile],
    todo: Sequence[int],
    workers: int,
    job: _Job,
    finished: Callable[[int, tuple[FileNotes, Extraction | None]], None],
    meanwhile: Callable[[], object] | None,
) -> None:
    """Make the notes of `sources[i]` for i in `todo` in `pool`, calling `finished` as each is done,
    and run `meanwhile` in a thread once every batch is submitted."""
    with pool:
        futures = {pool.submit(_notes_batch, [sources[i] for i in batch], job): batch
                   for batch in _batches(todo, sources, workers)}
        helper = _thread(meanwhile) if meanwhile is not None else None
        try:
            for future in as_completed(futures):
                for index, made in zip(futures[future], future.result()):
                    finished(index, made)
        finally:
            if helper is not None:
                helper.join()


def _replay_all(
    sources: Sequence[SourceFile],
    made: list[tuple[FileNotes, Extraction | None]],
    job: _Job,
    media: MediaCollector,
    cache: NotesCache | None,
) -> int:
    """Replay every file's image lookups in `media`, in file order; a file whose images changed on
    disk since its entry was cached is made again (in `made`, and in the cache). Returns how many."""
    refreshed = 0
    for index, (source, (result, _)) in enumerate(zip(sources, made)):
        if not _replay(result, media):
            made[index] = _notes_of(source, job, MediaCollector.for_files([source], job.folders))
            refreshed += 1
            _replay(made[index][0], media)
            if cache is not None:
                cache.put(source, made[index][0], job.variant)
    return refreshed


def _replay(result: FileNotes, media: MediaCollector) -> bool:
    """Look up a file's images again in `media`; False if one resolves differently now (and then
    the warnings this replay gave are taken back: the file is made again and replayed anew)."""
    mark = len(media.warnings)
    if all(media(target, result.source, line) == name for target, line, name in result.media):
        return True
    del media.warnings[mark:]
    return False


def _notes_of(source: SourceFile, job: _Job, media: MediaCollector) -> tuple[FileNotes, Extraction | None]:
    extraction = extract_one(source)
    made = file_notes(extraction, options=job.options, media=media)
    shape = text_warnings(source)  # checked here, once per content, so that a cached file costs nothing
    if shape:
        made = replace(made, warnings=(*shape, *made.warnings))
    return made, extraction if job.keep_extractions else None


def _notes_batch(batch: Sequence[SourceFile], job: _Job) -> list[tuple[FileNotes, Extraction | None]]:
    """Worker (or this process): make a batch of files' notes and cache each result."""
    _register_pickling()  # a spawned (not forked) worker has not run _pool
    cache = NotesCache(job.cache_dir, fingerprint=job.fingerprint, key=job.key) if job.cache_dir is not None else None
    media = MediaCollector.for_files(batch, job.folders)  # its files and warnings are dropped: the build replays the lookups
    out = []
    for source in batch:
        made = _notes_of(source, job, media)
        if cache is not None:
            cache.put(source, made[0], job.variant)
        out.append(made)
    return out


def _pool(workers: int) -> ProcessPoolExecutor | None:
    """A process pool, or None where processes cannot be started (the build then stays serial)."""
    _register_pickling()
    try:
        return ProcessPoolExecutor(max_workers=workers)
    except (OSError, NotImplementedError, ImportError):  # e.g. no /dev/shm semaphores in a sandbox
        return None


def _thread(work: Callable[[], object]) -> threading.Thread:
    """Start `work` in a daemon thread; returns the thread."""
    thread = threading.Thread(target=work, name="aws-anki-meanwhile", daemon=True)
    thread.start()
    return thread


def _register_pickling() -> None:
    """Front matter is a read-only mapping, which pickle refuses: it travels as a dict and arrives
    read-only again. Registered for multiprocessing's pickler only, not for pickle in general."""
    ForkingPickler.register(MappingProxyType, _reduce_mapping_proxy)


def _reduce_mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Callable[..., Any], tuple[dict[Any, Any]]]:
    return _mapping_proxy, (dict(proxy),)


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _batches(todo: Sequence[int], sources: Sequence[SourceFile], workers: int) -> list[list[int]]:
    """Batches of files, biggest files first (so no worker is left with a big file at the end), each
    of about total/(workers*N) of text, but at least `_BATCH_MIN_BYTES` and at most `_BATCH_MAX_BYTES`."""
    total = sum(len(sources[i].text) for i in todo)
    target = min(_BATCH_MAX_BYTES, max(_BATCH_MIN_BYTES, total // (workers * _BATCHES_PER_WORKER)))
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in sorted(todo, key=lambda i: -len(sources[i].text)):
        current.append(index)
        size += len(sources[index].text)
        if size >= target:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches

"""Parse and extract many files at once: cached results first, then worker processes for the rest.

mistune is pure Python and holds the GIL, so the way past one core is processes. A worker gets a
batch of `SourceFile`s, returns their `Extraction`s and writes their cache entries itself (so
encoding is parallel too). Results come back in the order of the input, whatever order the
workers finish in, so a parallel build makes exactly the notes, in exactly the order, that a
serial one does.

Small inputs stay in this process: starting workers and shipping files to them costs more than it
saves below about `PARALLEL_MIN_BYTES` of text to parse (measured with `benchmarks/run.py`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Sequence

from .cache import ExtractionCache
from .extract import Extraction, extract_facts
from .parse import parse_document
from .read import SourceFile

__all__ = ["PARALLEL_MIN_BYTES", "ExtractStats", "extract_all", "extract_one", "worker_count"]

# Below this much text (not counting cache hits) a build does not start worker processes.
PARALLEL_MIN_BYTES = 256 * 1024
# A batch sent to a worker holds at least this much text (fewer round trips) ...
_BATCH_MIN_BYTES = 32 * 1024
# ... and there are about this many batches per worker (even load when file sizes differ).
_BATCHES_PER_WORKER = 8

# Progress callback: (files done, files in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExtractStats:
    """How the extractions of a build were obtained."""

    cached: int  # files whose extraction came from the cache
    parsed: int  # files parsed and extracted in this build
    workers: int  # worker processes used (0: all in this process)


def extract_one(source: SourceFile) -> Extraction:
    """Parse and extract one file (what the serial build does per file)."""
    return extract_facts(parse_document(source))


def worker_count(jobs: int | None = None) -> int:
    """How many workers `jobs` means: None or 0 is one per CPU this process may use."""
    if jobs is not None and jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def extract_all(
    sources: Sequence[SourceFile],
    *,
    jobs: int | None = None,
    cache: ExtractionCache | None = None,
    progress: Progress | None = None,
    min_parallel_bytes: int | None = None,
) -> tuple[tuple[Extraction, ...], ExtractStats]:
    """The extraction of every source, in order: from `cache` when valid, else parsed (in parallel
    when `jobs` allows more than one worker and there is at least `min_parallel_bytes`, default
    `PARALLEL_MIN_BYTES`, of text to parse)."""
    if min_parallel_bytes is None:
        min_parallel_bytes = PARALLEL_MIN_BYTES
    results: list[Extraction | None] = [None] * len(sources)
    todo: list[int] = []
    for index, source in enumerate(sources):
        found = cache.get(source) if cache is not None else None
        if found is None:
            todo.append(index)
        else:
            results[index] = found
    done = len(sources) - len(todo)
    if progress is not None:
        progress(done, len(sources))

    workers = min(worker_count(jobs), len(todo))
    pending_bytes = sum(len(sources[i].text) for i in todo)
    pool = _pool(workers) if workers > 1 and pending_bytes >= min_parallel_bytes else None
    if pool is not None:
        from concurrent.futures import as_completed

        batches = _batches(todo, sources, workers)
        cache_dir = str(cache.directory) if cache is not None else None
        fingerprint = cache.fingerprint if cache is not None else None
        with pool:
            futures = {pool.submit(_extract_batch, [sources[i] for i in batch], cache_dir, fingerprint): batch for batch in batches}
            for future in as_completed(futures):
                batch = futures[future]
                for index, extraction in zip(batch, future.result()):
                    results[index] = extraction
                done += len(batch)
                if progress is not None:
                    progress(done, len(sources))
    else:
        workers = 0
        for index in todo:
            extraction = extract_one(sources[index])
            if cache is not None:
                cache.put(sources[index], extraction)
            results[index] = extraction
            done += 1
            if progress is not None:
                progress(done, len(sources))
    extractions = tuple(r for r in results if r is not None)
    assert len(extractions) == len(sources)
    return extractions, ExtractStats(cached=len(sources) - len(todo), parsed=len(todo), workers=workers)


def _pool(workers: int) -> Any:
    """A process pool, or None where processes cannot be started (the build then stays serial)."""
    from concurrent.futures import ProcessPoolExecutor  # lazy: small builds never start workers

    _register_pickling()
    try:
        return ProcessPoolExecutor(max_workers=workers)
    except (OSError, NotImplementedError, ImportError):  # e.g. no /dev/shm semaphores in a sandbox
        return None


def _register_pickling() -> None:
    """Front matter is a read-only mapping, which pickle refuses: it travels as a dict and arrives
    read-only again. Registered for multiprocessing's pickler only, not for pickle in general."""
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(MappingProxyType, _reduce_mapping_proxy)


def _reduce_mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Callable[..., Any], tuple[dict[Any, Any]]]:
    return _mapping_proxy, (dict(proxy),)


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _batches(todo: Sequence[int], sources: Sequence[SourceFile], workers: int) -> list[list[int]]:
    """Batches of files, biggest files first (so no worker is left with a big file at the end), each
    of at least `_BATCH_MIN_BYTES` and about total/(workers*N) of text."""
    total = sum(len(sources[i].text) for i in todo)
    target = max(_BATCH_MIN_BYTES, total // (workers * _BATCHES_PER_WORKER))
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


def _extract_batch(batch: Sequence[SourceFile], cache_dir: str | None, fingerprint: str | None) -> list[Extraction]:
    """Worker: extract a batch of files and cache each result."""
    _register_pickling()  # a spawned (not forked) worker has not run _pool
    cache = ExtractionCache(cache_dir, fingerprint=fingerprint) if cache_dir is not None else None
    out = []
    for source in batch:
        extraction = extract_one(source)
        if cache is not None:
            cache.put(source, extraction)
        out.append(extraction)
    return out

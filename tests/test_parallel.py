"""Making notes in worker processes gives exactly what one process gives: the same extractions
and notes, in the same order, with the same GUIDs. Correctness only: no timings here."""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

import aws_anki
from aws_anki import parallel
from aws_anki.build import bundled_notes
from aws_anki.cache import NotesCache
from aws_anki.parallel import _batches, notes_all, worker_count
from aws_anki.read import read_sources
from aws_anki.options import DeckOptions, RunOptions


@pytest.fixture
def many(vault: Path) -> Path:
    """The fixture vault plus the bundled notes: enough files for several batches per worker."""
    bundled = bundled_notes()
    for path in bundled.rglob("*"):
        target = vault / "bundled" / path.relative_to(bundled)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return vault


def test_parallel_extractions_equal_serial(many: Path) -> None:
    sources = read_sources([many]).files
    serial_notes, serial, serial_stats = notes_all(sources, jobs=1, keep_extractions=True)
    parallel_notes, parallel_result, parallel_stats = notes_all(sources, jobs=2, min_parallel_bytes=0, keep_extractions=True)
    assert serial_stats.workers == 0 and parallel_stats.workers == 2
    assert parallel_result == serial and parallel_notes == serial_notes
    assert [e.source for e in parallel_result] == [s.rel_path for s in sources]
    assert [f.source for f in parallel_notes] == [s.rel_path for s in sources]
    with_front_matter = next(e for e in parallel_result if e.source == "compute/lambda.md")
    assert isinstance(with_front_matter.metadata, MappingProxyType)  # read-only, as in one process
    assert with_front_matter.metadata["tags"] == ("serverless",)


def test_parallel_build_makes_the_same_notes(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = aws_anki.build_deck([many], run=RunOptions(jobs=1, use_cache=False, quality=True))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    in_workers = aws_anki.build_deck([many], run=RunOptions(jobs=2, use_cache=False, quality=True))
    assert in_workers.report.workers == 2 and serial.report.workers == 0
    assert [n.guid for n in in_workers.notes] == [n.guid for n in serial.notes]
    assert in_workers.notes == serial.notes
    assert in_workers.extractions == serial.extractions
    assert in_workers.report.warnings == serial.report.warnings
    assert in_workers.media_files == serial.media_files and serial.media_files
    assert in_workers.report.quality == serial.report.quality


def test_workers_fill_the_cache(many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    cache_dir = tmp_path / "cache"
    first = aws_anki.build_deck([many], run=RunOptions(jobs=2, cache_dir=cache_dir))
    again = aws_anki.build_deck([many], run=RunOptions(jobs=2, cache_dir=cache_dir))
    assert first.report.workers == 2
    assert again.report.files_cached == again.report.files and again.report.workers == 0
    assert again.notes == first.notes


def test_partly_cached_input_keeps_its_order(many: Path, tmp_path: Path) -> None:
    sources = read_sources([many]).files
    cache = NotesCache(tmp_path / "cache")
    serial, _, _ = notes_all(sources, jobs=1)
    for source, made in list(zip(sources, serial))[::3]:  # every third file cached
        cache.put(source, made, DeckOptions().key())
    mixed, _, stats = notes_all(sources, jobs=2, cache=cache, min_parallel_bytes=0)
    assert mixed == serial
    assert stats.cached == len(sources[::3]) and stats.parsed == len(sources) - stats.cached


def test_small_input_stays_in_this_process(vault: Path) -> None:
    result = aws_anki.build_deck([vault], run=RunOptions(jobs=2, use_cache=False))
    assert result.report.workers == 0


def test_progress_counts_every_file(many: Path) -> None:
    sources = read_sources([many]).files
    seen: list[tuple[int, int]] = []
    notes_all(sources, jobs=2, min_parallel_bytes=0, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(sources)) and seen[-1] == (len(sources), len(sources))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_meanwhile_runs_in_a_thread_while_workers_parse(many: Path) -> None:
    import threading
    import time

    sources = read_sources([many]).files
    ran: list[tuple[str, bool]] = []

    def work() -> None:
        time.sleep(0.2)  # still running when the workers are done: notes_all must wait for it
        ran.append((threading.current_thread().name, threading.current_thread() is threading.main_thread()))

    _, _, stats = notes_all(sources, jobs=2, min_parallel_bytes=0, meanwhile=work)
    assert stats.workers == 2
    assert ran == [("aws-anki-meanwhile", False)]


def test_meanwhile_is_not_run_without_workers(vault: Path) -> None:
    ran: list[bool] = []
    _, _, stats = notes_all(read_sources([vault]).files, jobs=1, meanwhile=lambda: ran.append(True))
    assert stats.workers == 0 and ran == []


def test_a_build_into_a_deck_loads_the_writer_while_workers_parse(many: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import aws_anki.build as build

    calls: list[str] = []
    real = build._load_writer
    monkeypatch.setattr(build, "_load_writer", lambda: (calls.append("loaded"), real()))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    built = build.build_into(tmp_path / "deck.apkg", [many], run=RunOptions(jobs=2, cache_dir=tmp_path / "cache"))
    assert built.report.workers == 2 and calls == ["loaded"]
    assert (tmp_path / "deck.apkg").stat().st_size > 0


def test_batches_cover_every_file_once(many: Path) -> None:
    sources = read_sources([many]).files
    todo = list(range(len(sources)))
    batches = _batches(todo, sources, 2)
    assert sorted(i for batch in batches for i in batch) == todo
    assert len(batches) > 2
    assert worker_count(3) == 3 and worker_count(None) >= 1

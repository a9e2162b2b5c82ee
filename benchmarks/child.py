"""One measured run of benchmarks/run.py, in a fresh process: prints what it saw as one JSON line.

    python benchmarks/child.py KIND VAULT OUT CACHE_DIR JOBS

Kept apart from run.py, and importing little, so that the process measured starts like one that
only builds (run.py's own imports, argparse, statistics, subprocess..., would count otherwise).
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, Sequence


def child(kind: str, vault: str, out: str, cache_dir: str, jobs: int | None) -> dict[str, Any]:
    """Run in the measured subprocess; returns what it saw from inside."""
    started = time.perf_counter()
    if kind == "floor":
        import mistune
        from mistune.plugins import import_plugin

        imported = time.perf_counter()
        md = mistune.Markdown(renderer=None, plugins=[import_plugin(n) for n in ("table", "mark", "strikethrough")])
        size = 0
        for path in sorted(Path(vault).rglob("*.md")):
            text = path.read_bytes().decode("utf-8")
            size += len(text)
            md.parse(text)
        return {"import": imported - started, "parse": time.perf_counter() - imported, "chars": size}
    if kind == "bound":
        return _bound(vault, jobs, started)
    import aws_anki
    import aws_anki.build  # the package imports its pipeline lazily: time the import here
    from aws_anki.options import RunOptions

    imported = time.perf_counter()
    # What `aws-anki build` runs: build, write, and nothing at all when the deck is up to date.
    built = aws_anki.build.build_into(out, [vault], run=RunOptions(jobs=jobs, cache_dir=Path(cache_dir)))
    done = time.perf_counter()
    report, written = built.report, built.written
    seconds = dict(report.seconds)
    seconds.update(import_=imported - started, build=done - imported)
    info: dict[str, Any] = {
        "seconds": seconds,
        "notes": report.notes,
        "files": report.files,
        "cached": report.files_cached,
        "workers": report.workers,
        "size": written.size,
        "up_to_date": written.up_to_date,
        "changes": {k: v if isinstance(v, int) else len(v) for k, v in written.changes.as_dict().items()},  # type: ignore[arg-type]
        "code": aws_anki.build.__file__,
    }
    if kind == "genanki" and built.result is not None:
        info["genanki_size"] = _genanki_default_size(built.result, Path(out).with_suffix(".genanki.apkg"))
    return info


def _bound(vault: str, jobs: int | None, started: float) -> dict[str, Any]:
    """The per-file work alone (parse, extract, make notes), at its most parallel: the files split
    by size over one process per worker, forked once everything is imported. Nothing goes between
    processes but a count, and nothing is cached, merged or written, so no build with this per-file
    code can be faster on this many cores."""
    import os

    from aws_anki.media import MediaCollector
    from aws_anki.notes import file_notes
    from aws_anki.parallel import extract_one, worker_count
    from aws_anki.read import read_sources

    imported = time.perf_counter()
    shares = split_evenly(read_sources([vault]).files, worker_count(jobs))

    def make(share: list[Any]) -> int:
        media = MediaCollector.for_files(share)
        return sum(len(file_notes(extract_one(source), media=media).notes) for source in share)

    children = []
    for share in shares[1:]:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.write(writer, str(make(share)).encode())
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        os.close(writer)
        children.append((pid, reader))
    made = make(shares[0])
    for pid, reader in children:
        with os.fdopen(reader, "rb") as counted:
            got = counted.read()
        if os.waitpid(pid, 0)[1] != 0 or not got:
            raise SystemExit("a bound process failed")
        made += int(got)
    # Notes as made per file, before duplicate facts merge.
    return {"import": imported - started, "parse": time.perf_counter() - imported, "workers": len(shares), "notes": made}


def split_evenly(files: Sequence[Any], parts: int) -> list[list[Any]]:
    """The files in at most `parts` shares of about equal text: biggest first, each to the lightest."""
    shares: list[list[Any]] = [[] for _ in range(max(1, min(parts, len(files))))]
    sizes = [0] * len(shares)
    for source in sorted(files, key=lambda f: -len(f.text)):
        lightest = sizes.index(min(sizes))
        shares[lightest].append(source)
        sizes[lightest] += len(source.text)
    return shares


def _genanki_default_size(result: Any, path: Path) -> int:
    """Size of the same notes written by genanki's own writer (default settings)."""
    import warnings

    import genanki

    from aws_anki.models import basic_type, cloze_type
    from aws_anki.package import _genanki_model, deck_id

    models = {t.name: _genanki_model(genanki, t) for t in (basic_type(), cloze_type())}
    decks: dict[str, Any] = {}
    for note in result.notes:
        deck = decks.setdefault(note.deck, genanki.Deck(deck_id(note.deck), note.deck))
        model = models[basic_type().name if note.note_type == "basic" else cloze_type().name]
        deck.add_note(genanki.Note(model=model, fields=list(note.fields), tags=list(note.tags), guid=note.guid))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = genanki.Package(list(decks.values()))
        package.media_files = [str(p) for p in result.media_files.values()]
        package.write_to_file(str(path))
    size = path.stat().st_size
    path.unlink()
    return size


def main(argv: list[str]) -> None:
    kind, vault, out, cache_dir, jobs = argv
    info = child(kind, vault, out, cache_dir, int(jobs) or None)
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    info["cpu"] = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    info["rss_main_mb"] = own.ru_maxrss / 1024
    info["rss_worker_mb"] = workers.ru_maxrss / 1024
    print(json.dumps(info))
    # Every measured process, the floor too, ends as `aws-anki` does (`aws_anki.cli._end_of_process`:
    # not imported, it would bring click in).
    import gc

    gc.freeze()


if __name__ == "__main__":
    main(sys.argv[1:])

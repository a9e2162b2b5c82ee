"""Incremental rebuild: when a few note files changed since the last build into a deck, make only
their notes again and bring the deck, its build state and its kept collection up to date by the
difference, without decoding, merging or planning the notes of the files that did not change.

A build into a deck (`build.build_into`) leaves a memo beside its record (see `uptodate`):

- each file's path and content hash, and its notes' report parts (warnings, unresolved facts,
  skipped lines, image lookups: its `FileNotes` without the notes);
- which file(s) hold each merge-key checksum and each GUID of the notes before merging;
- per file, how many of the deck's notes it gives (after merging: those whose first source it is)
  and their (deck, note type) pairs in order of first use.

The next build into that deck, with the same code, options and found-file warnings, and with the
deck, its state and its kept collection as that build left them, compares the files. The changed
ones (added, removed or edited) are affected, and so is every file holding a merge key or GUID an
affected file's notes hold, before or after the change (their notes may merge, or one of two
facts with one key is renamed `#2`), until no more are. For the affected files it reads the old
notes from their cache entries (before they are overwritten) and makes the new ones; it merges
and plans those alone (against their own records in the state), and splices the result into the
rest of the deck, which stays as it was. What a full build does with the affected notes follows
from them alone unless:

1. one of them has a GUID the state gives to a note of another file (carried over), or an
   identity such a note has, or a GUID made distinct (`#2`) that another file holds;
2. an image of a file not affected resolves differently now;
3. the decks or note types (in order of first use) change: a full build writes a new collection.

Each is checked, and any of them (or a memo or cache entry missing, or more than a quarter of the
files affected) means a full build instead: never a guess. The deck, its state file, the changes
and the report come out as a full build makes them (tests/test_incremental.py builds both after
each kind of edit and compares them), but for the order of services with equal counts in the
report. The kept collection's notes stay in the deck's order, file by file, which is how the
affected files' notes are put back in place.
"""
from __future__ import annotations

import hashlib
import logging
import marshal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from itertools import chain, islice
from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import _MARSHAL_VERSION, decode_notes, encode_notes, write_atomic
from .read import ReadResult, SourceFile

if TYPE_CHECKING:
    from .build import DeckBuild, Tally
    from .media import MediaCollector
    from .notes import CardNote, FileNotes, NotesResult
    from .package import KeptCollection
    from .parallel import FileStats
    from .state import NoteRecord, Plan
    from .uptodate import Record

MEMO_VERSION = 1
MAX_CHANGED = 0.25  # beyond this share of the files changed, a full build costs about the same
_MEMO_SUFFIX = ".memo"

Pair = tuple[str, str]  # (deck, note type)
FileKey = tuple[str, str, str]  # (notes-relative path, path, content hash)
# Where keys (merge-key checksums, GUIDs) are found: one file (its notes-relative path) or several.
Where = dict[Any, "str | tuple[str, ...]"]


@dataclass(frozen=True)
class Memo:
    """What a build into a deck leaves for the next one to tell which files' notes it must redo."""

    digest: str  # the inputs digest of that build (its record's): a memo is used only with its record
    setup: str  # digest of the code, note types, options and warnings finding files (`uptodate.setup_digest`)
    files: tuple[FileKey, ...]  # in build order
    summaries: tuple[bytes, ...]  # each file's FileNotes without its notes (`cache.encode_notes`)
    keys: Where  # merge-key checksum of each note (before merging) -> the file(s) it is in
    guids: Where  # GUID of each note before merging -> the file(s) it is in
    pairs: tuple[tuple[Pair, ...], ...]  # per file, its notes' pairs in order of first use
    sizes: tuple[int, ...]  # per file, its notes (after merging)


def memo_of(digest: str, setup: str, files: Sequence[FileKey], per_file: Sequence[FileNotes], notes: Sequence[CardNote]) -> Memo:
    """The memo of a full build: its files (`file_key` of each), their notes before merging
    (`per_file`) and after (`notes`)."""
    keys: Where = {}
    guids: Where = {}
    _index(keys, guids, per_file, _add)
    rels = [rel for rel, _, _ in files]
    parts = _per_file(rels, notes)
    return Memo(
        digest=digest,
        setup=setup,
        files=tuple(files),
        summaries=tuple(encode_notes(replace(f, notes=())) for f in per_file),
        keys=keys,
        guids=guids,
        pairs=tuple(parts[rel][0] for rel in rels),
        sizes=tuple(parts[rel][1] for rel in rels),
    )


def file_key(source: SourceFile) -> FileKey:
    """What the memo keeps of a file: (notes-relative path, path, content hash)."""
    return (source.rel_path, str(source.path), source.content_hash)


def memo_path(record: Path) -> Path:
    """Where the memo of the build whose record is at `record` lives."""
    return record.with_suffix(_MEMO_SUFFIX)


def save_memo(path: Path, memo: Memo) -> None:
    """Store the memo atomically (a cache folder that cannot be written only costs speed)."""
    body = marshal.dumps(
        (MEMO_VERSION, memo.digest, memo.setup, memo.files, memo.summaries, memo.keys, memo.guids, memo.pairs,
         memo.sizes),
        _MARSHAL_VERSION,
    )
    try:
        write_atomic(path, hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body)
    except OSError:
        pass


def load_memo(path: Path, digest: str) -> Memo | None:
    """The memo at `path` if it reads back whole and was left by the build of `digest`, else None."""
    try:
        raw = path.read_bytes()
        checksum, body = raw[:64], raw[65:]
        if raw[64:65] != b"\n" or hashlib.sha256(body).hexdigest().encode("ascii") != checksum:
            return None
        value = marshal.loads(body)
        version, memo_digest, setup, files, summaries, keys, guids, pairs, sizes = value
        if version != MEMO_VERSION or memo_digest != digest:
            return None
        _expect(type(setup) is str and type(files) is tuple and type(summaries) is tuple and len(summaries) == len(files))
        _expect(all(type(f) is tuple and len(f) == 3 for f in files) and type(keys) is dict and type(guids) is dict)
        "".join(chain.from_iterable(files))  # TypeError unless strings
        b"".join(summaries)
        "".join(guids)
        _expect(set(map(type, keys)) <= {int} and set(map(type, chain(keys.values(), guids.values()))) <= {str, tuple})
        "".join(chain.from_iterable((held,) if type(held) is str else held for held in chain(keys.values(), guids.values())))
        _expect(type(pairs) is tuple and len(pairs) == len(files) and all(type(p) is tuple for p in pairs))
        _expect(all(type(p) is tuple and len(p) == 2 for p in chain.from_iterable(pairs)))
        "".join(chain.from_iterable(chain.from_iterable(pairs)))
        _expect(type(sizes) is tuple and len(sizes) == len(files) and set(map(type, sizes)) <= {int})
    except (OSError, ValueError, TypeError, EOFError):
        return None
    return Memo(memo_digest, setup, files, summaries, keys, guids, pairs, sizes)


def rebuild(
    read: ReadResult,
    record: Record,
    base: KeptCollection,
    memo: Memo,
    *,
    output: Path,
    cache_dir: Path,
    digest: str,
    options_key: str,
    settings: Mapping[str, Any],
    now: int | None,
    started: float,
    later: Callable[[], Any],
) -> DeckBuild | None:
    """Rebuild the deck at `output` from `read` by redoing only the changed files, when the memo
    and the checks above allow it; None when a full build is needed (nothing was written then).

    `record` and `base` are the last build's record and kept collection, `memo` its memo, `digest`
    this build's inputs digest, `settings` the build options (checked, defaults filled in) and
    `later` makes the notes of the whole deck should a caller ask for them."""
    from .build import DeckBuild, WriteResult, _assemble_report, _remember, tally
    from .package import update_package
    from .state import BuildState, save_state, state_path
    from .uptodate import lookups_of, record_path

    read_done = time.perf_counter()
    try:
        delta = _prepare(read, base, memo, output=output, cache_dir=cache_dir, options_key=options_key,
                         settings=settings, now=now)
    except Exception:  # a mistake here must cost speed, never the build: nothing is written yet
        _log.warning("the incremental rebuild failed; building in full", exc_info=True)
        return None
    if delta is None:
        return None
    files_done, merged_done = delta.files_done, time.perf_counter()
    if settings["progress"] is not None:
        settings["progress"]("write", 0, 0)
    plan, media, per_file = delta.plan, delta.media, delta.per_file
    package = update_package(
        output, base=base, present=delta.present, stale=delta.stale, note_mods=plan.note_mods,
        model_mods=plan.model_mods, created=delta.timestamp, media_files=media.files,
    )
    if package is None:
        return _full("another build holds the kept collection, or has updated it since")
    save_state(state_path(output), BuildState(delta.records, plan.state.models))

    counts = _tally_of(record.report)
    for sign, notes in ((-1, delta.old_made.notes), (1, delta.new_made.notes)):
        for total, part in zip(counts, tally(notes)):
            total.update({key: sign * value for key, value in part.items()})
    warnings = (*read.warnings, *chain.from_iterable(f.warnings for f in per_file), *media.warnings)
    unresolved = tuple(chain.from_iterable(f.unresolved for f in per_file))
    report = replace(
        _assemble_report(len(read.files), per_file, counts, unresolved, warnings, None),
        files_cached=len(read.files) - delta.parsed.parsed,
        workers=delta.parsed.workers,
        incremental=True,
        seconds={
            "read": round(read_done - started, 4),
            "parse+extract+notes": round(files_done - read_done, 4),
            "merge+plan (changed files)": round(merged_done - files_done, 4),
            "write": round(time.perf_counter() - merged_done, 4),
        },
    )
    made_changed = {*plan.changes.added, *plan.changes.updated}
    changes = replace(plan.changes, unchanged=tuple(guid for guid in delta.order if guid not in made_changed))
    written = WriteResult(output, package.size, changes, len(media.files))
    _remember(cache_dir, output, digest, report, lookups_of(per_file), written, package.kept)
    save_memo(memo_path(record_path(cache_dir, output)), _next_memo(memo, digest, read.files, delta))
    return DeckBuild(report, written, None, later)


@dataclass(frozen=True)
class _Delta:
    """What an incremental rebuild changes: worked out by `_prepare` before anything is written."""

    per_file: list[FileNotes]  # every file's notes summary, in order (the affected files' with their notes)
    old_files: list[FileNotes]  # the affected files' notes before the change ...
    new_files: list[FileNotes]  # ... and after it
    old_made: NotesResult  # old_files merged, and new_files
    new_made: NotesResult
    media: MediaCollector  # every lookup replayed in it
    parsed: FileStats  # of making the changed files' notes
    plan: Plan  # of the affected files' notes
    records: dict[str, NoteRecord]  # the new build state's records, every note's
    order: list[str]  # every note's GUID in the deck's order
    present: dict[str, str]  # every note's row digest, in that order
    stale: list[CardNote]  # the notes whose rows must be written
    pairs: dict[str, tuple[Pair, ...]]  # per file, as in the memo
    sizes: dict[str, int]
    summaries: dict[str, bytes]
    timestamp: int
    files_done: float  # when the changed files' notes were made (perf_counter)


def _prepare(
    read: ReadResult,
    base: KeptCollection,
    memo: Memo,
    *,
    output: Path,
    cache_dir: Path,
    options_key: str,
    settings: Mapping[str, Any],
    now: int | None,
) -> _Delta | None:
    """Work out what the rebuild changes (see the module docstring), or None for a full build."""
    from .build import _collector, _note_options, _now, _parse_progress
    from .cache import NotesCache
    from .models import basic_type, cloze_type
    from .notes import merge_checksums, merge_notes
    from .package import _digests, _stale, layout_of
    from .parallel import notes_all
    from .state import BuildState, load_state, plan_build, state_path

    files = read.files
    rels = [f.rel_path for f in files]
    old = {rel: (path, content) for rel, path, content in memo.files}
    now_files = {f.rel_path: (str(f.path), f.content_hash) for f in files}
    if len(now_files) != len(files) or len(old) != len(memo.files):
        return _full("two note files share a notes-relative path")
    changed = [f for f in files if old.get(f.rel_path) != now_files[f.rel_path]]
    touched = {f.rel_path for f in changed} | (old.keys() - now_files.keys())
    limit = max(4, int(len(files) * MAX_CHANGED))  # affected files, beyond which a full build is as fast
    if not touched or len(touched) > limit:
        return _full("no file changed, or too many")

    options = _note_options(settings)
    cache = NotesCache(cache_dir)
    variant = repr(options)  # as `parallel.notes_all` keys the cache
    before: dict[str, FileNotes] = {}  # the notes of the files the change affects: before it ...
    for rel, path, content in memo.files:
        if rel in touched:
            entry = cache.get(SourceFile(Path(path), rel, "", content_hash=content), variant)
            if entry is None:
                return _full("the cache no longer holds a changed file's old notes")
            before[rel] = entry
    made, _, parsed = notes_all(
        changed, options=options, media=_collector(changed, settings["attachments"]), jobs=settings["jobs"],
        cache=cache, progress=_parse_progress(settings),
    )
    after = {f.source: f for f in made}  # ... and after it
    files_done = time.perf_counter()

    # The files whose notes may merge or share a GUID with the affected ones' are affected too.
    affected = set(touched)
    by_rel = {f.rel_path: f for f in files}
    pending = [*before.values(), *made]
    while pending:
        notes = pending.pop().notes
        for rel in _holders(memo.keys, merge_checksums(notes)) | _holders(memo.guids, map(_GUID, notes)):
            if rel in affected:
                continue
            affected.add(rel)
            entry = cache.get(by_rel[rel], variant) if rel in by_rel and len(affected) <= limit else None
            if entry is None:
                return _full("too many files affected, or an affected file's notes are not in the cache")
            before[rel] = after[rel] = entry
            pending.append(entry)
    old_files = [before[rel] for rel, _, _ in memo.files if rel in before]
    new_files = [after[rel] for rel in rels if rel in after]

    # Every file's notes summary, in order, and every image lookup replayed as a full build does.
    summaries = {rel: blob for (rel, _, _), blob in zip(memo.files, memo.summaries)}
    per_file = [after.get(rel) or decode_notes(summaries[rel]) for rel in rels]
    media = _collector(files, settings["attachments"])
    for f in per_file:
        if any(media(target, f.source, line) != name for target, line, name in f.media):
            return _full("an image of an unchanged file resolves differently")

    old_notes = list(chain.from_iterable(f.notes for f in old_files))
    new_notes = list(chain.from_iterable(f.notes for f in new_files))
    old_made, new_made = merge_notes(old_files), merge_notes(new_files)
    if _holders(memo.guids, map(_GUID, new_made.notes)) - affected:  # a GUID made distinct (`#2`) is another file's
        return _full("a changed note's GUID is shared with an unchanged file")
    previous, state_warnings = load_state(state_path(output))
    if previous is None or state_warnings or previous.notes.keys() != base.notes.keys():
        return _full("the build state is missing, unreadable or not the kept collection's")
    owned = {guid: r for guid, r in previous.notes.items() if r[3].rpartition(":")[0] in affected}
    if len(owned) != len(old_made.notes):
        return _full("the build state does not list the changed files' notes")
    if any(guid in previous.notes and guid not in owned for guid in map(_GUID, chain(old_notes, new_notes, new_made.notes))):
        return _full("a changed note's GUID belongs to an unchanged file's note")
    identities = {r[0]: guid for guid, r in previous.notes.items()}
    holders = (identities.get(note.identity) for note in chain(new_notes, new_made.notes))
    if any(holder is not None and holder not in owned for holder in holders):
        return _full("a changed note's identity belongs to an unchanged file's note")
    # The decks and note types in order of first use, as a full build finds them.
    file_pairs = {rel: pairs for (rel, _, _), pairs in zip(memo.files, memo.pairs)}
    made_parts = _per_file(after, new_made.notes)
    file_pairs.update((rel, pairs) for rel, (pairs, _) in made_parts.items())
    uses: dict[str, list[str]] = {}
    for deck, note_type in dict.fromkeys(chain.from_iterable(file_pairs[rel] for rel in rels)):
        uses.setdefault(deck, []).append(note_type)
    if layout_of(uses, options_key) != base.layout:
        return _full("the decks or note types changed")

    # C's notes planned against C's records alone: the rest keep theirs (see the module docstring).
    timestamp = now if now is not None else _now()
    plan = plan_build(
        new_made.notes, BuildState(owned, previous.models), now=timestamp, note_types=(basic_type(), cloze_type()),
        file_mtimes={},
    )
    records = {guid: r for guid, r in previous.notes.items() if guid not in owned}
    kept_count = len(records)
    records.update(plan.state.notes)
    if len(records) != kept_count + len(plan.notes):
        return _full("GUIDs collide")
    del previous, identities
    digests = _digests(plan.notes, plan.note_mods, timestamp, base.notes, plan.same_records)
    # The deck's notes in a full build's order (file by file), which the kept collection's are in.
    file_sizes = {rel: size for (rel, _, _), size in zip(memo.files, memo.sizes)}
    made_guids: dict[str, list[str]] = {}
    for note in plan.notes:
        made_guids.setdefault(note.source.rpartition(":")[0], []).append(note.guid)
    order = _splice(iter(base.notes), memo.files, file_sizes, affected, owned, made_guids)
    if order is None:
        return _full("the kept collection's notes are not in the order of the files")
    file_sizes.update((rel, size) for rel, (_, size) in made_parts.items())
    kept_rows = base.notes
    present = {guid: digests[guid] if guid in digests else kept_rows[guid][1] for guid in order}
    stale = _stale(plan.notes, digests, kept_rows)
    return _Delta(
        per_file=per_file, old_files=old_files, new_files=new_files, old_made=old_made, new_made=new_made,
        media=media, parsed=parsed, plan=plan, records=records, order=order, present=present, stale=stale,
        pairs=file_pairs, sizes=file_sizes, summaries=summaries, timestamp=timestamp, files_done=files_done,
    )


def _next_memo(memo: Memo, digest: str, files: Sequence[SourceFile], delta: _Delta) -> Memo:
    """The memo of an incremental rebuild: `memo` with the affected files' parts replaced."""
    _index(memo.keys, memo.guids, delta.old_files, _drop)
    _index(memo.keys, memo.guids, delta.new_files, _add)
    blobs = {f.source: encode_notes(replace(f, notes=())) for f in delta.new_files}
    rels = [f.rel_path for f in files]
    return Memo(
        digest=digest,
        setup=memo.setup,
        files=tuple(map(file_key, files)),
        summaries=tuple(blobs.get(rel) or delta.summaries[rel] for rel in rels),
        keys=memo.keys,
        guids=memo.guids,
        pairs=tuple(delta.pairs[rel] for rel in rels),
        sizes=tuple(delta.sizes[rel] for rel in rels),
    )


_GUID = attrgetter("guid")
_log = logging.getLogger(__name__)


def _per_file(rels: Iterable[str], notes: Sequence[CardNote]) -> dict[str, tuple[tuple[Pair, ...], int]]:
    """Per file (of `rels`), the (deck, note type) pairs of the merged `notes` whose first source it
    is, in order of first use, and how many notes they are."""
    # One Counter over (file, deck, note type): it keeps the order of first use, and counts.
    of_file = map(itemgetter(0), map(methodcaller("rpartition", ":"), map(attrgetter("source"), notes)))
    used = Counter(zip(of_file, map(attrgetter("deck"), notes), map(attrgetter("note_type"), notes)))
    pairs: dict[str, list[Pair]] = {rel: [] for rel in rels}
    sizes: Counter[str] = Counter()
    for (rel, deck, note_type), count in used.items():
        pairs.setdefault(rel, []).append((deck, note_type))
        sizes[rel] += count
    return {rel: (tuple(found), sizes[rel]) for rel, found in pairs.items()}


def _splice(
    kept: Iterator[str],
    old_files: Sequence[FileKey],
    old_sizes: Mapping[str, int],
    affected: Set[str],
    owned: Mapping[str, NoteRecord],
    made: Mapping[str, list[str]],
) -> list[str] | None:
    """The GUIDs of the deck in order: `kept` (the last build's, in its order) with each affected
    file's notes (`owned`) replaced by those it gives now (`made`, by file); None unless `kept`
    holds each file's notes in file order, as `old_sizes` counts them."""
    old_rels = [rel for rel, _, _ in old_files]
    order: list[str] = []
    left_out = 0
    for rel in sorted({*old_rels, *made, *affected}):
        if rel in old_sizes:
            if rel in affected:
                left_out += old_sizes[rel]
                if not all(guid in owned for guid in islice(kept, old_sizes[rel])):
                    return None
            else:
                order.extend(islice(kept, old_sizes[rel]))
        order.extend(made.get(rel, ()))
    if next(kept, None) is not None or left_out != len(owned):
        return None
    return order


def _index(keys: Where, guids: Where, files: Iterable[FileNotes], how: Callable[[Where, Iterable[Any], str], None]) -> None:
    """Record (`how=_add`) or forget (`_drop`) which files hold their notes' merge keys and GUIDs."""
    from .notes import merge_checksums

    for f in files:
        how(keys, merge_checksums(f.notes), f.source)
        how(guids, map(_GUID, f.notes), f.source)


def _holders(where: Where, keys: Iterable[Any]) -> set[str]:
    """The files that hold any of `keys`."""
    out: set[str] = set()
    for held in filter(None, map(where.get, keys)):
        if type(held) is str:
            out.add(held)
        else:
            out.update(held)
    return out


def _add(where: Where, keys: Iterable[Any], rel: str) -> None:
    """Record that the file `rel` holds `keys` (C calls but for keys other files hold too)."""
    mine: Where = dict.fromkeys(keys, rel)
    for key in mine.keys() & where.keys():
        held = where[key]
        mine[key] = (held, rel) if type(held) is str else (*held, rel)
    where.update(mine)


def _drop(where: Where, keys: Iterable[Any], rel: str) -> None:
    """Record that the file `rel` no longer holds `keys`."""
    for key in dict.fromkeys(keys):
        held = where.get(key)
        if held == rel:
            del where[key]
        elif type(held) is tuple:
            rest = tuple(other for other in held if other != rel)
            where[key] = rest[0] if len(rest) == 1 else rest


def _tally_of(report: Mapping[str, Any]) -> Tally:
    """The counts of a recorded report (`BuildReport.as_dict`), as `build.tally` makes them."""
    from .build import Tally

    return Tally(*(Counter(dict(report[name])) for name in ("notes_by_kind", "notes_by_type", "cards_by_type", "notes_by_service")))


def _full(reason: str) -> None:
    """No incremental rebuild, for `reason` (logged at debug level): the caller builds in full."""
    _log.debug("a full build: %s", reason)
    return None


def _expect(condition: bool) -> None:
    if not condition:
        raise ValueError("not a memo")

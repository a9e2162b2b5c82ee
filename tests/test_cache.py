"""The per-file notes cache: exact round trips, and entries that are corrupt, truncated or stale are
ignored and rewritten, never trusted. Correctness only: no timings here (see benchmarks/run.py)."""
from __future__ import annotations

import datetime as dt
import marshal
import shutil
from dataclasses import fields, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import aws_anki
from aws_anki.cache import CACHE_DIR_ENV, ENTRY_SUFFIX, NotesCache, _NOTE_FIELDS, default_cache_dir
from aws_anki import cache as cache_module
from aws_anki.cli import cli
from aws_anki.errors import BuildWarning
from aws_anki.notes import CardNote, FileNotes, file_notes
from aws_anki.parallel import extract_one
from aws_anki.read import SourceFile, read_sources
from aws_anki.options import DeckOptions, RunOptions

FRONT_MATTER = """---
title: Lambda deep dive
created: 2024-05-01
reviewed: 2024-05-02 10:20:30
tags: [serverless, compute]
extra: {1: one, nested: [1, 2.5, true, null], when: 2023-01-02}
---
# AWS Lambda

- **Maximum timeout**: 15 minutes
- Lambda bills duration in **1 ms increments**.
"""


def _sources(folder: Path) -> tuple[SourceFile, ...]:
    return read_sources([folder]).files


def _made(source: SourceFile, options: DeckOptions = DeckOptions()) -> FileNotes:
    """What a build caches for a file: its notes, before merging across files."""
    return file_notes(extract_one(source), options=options)


@pytest.fixture
def dated(tmp_path: Path) -> SourceFile:
    """A note whose front matter YAML gives dates, a datetime, int keys and nested lists."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "lambda.md").write_text(FRONT_MATTER, encoding="utf-8")
    (source,) = _sources(folder)
    assert isinstance(source.metadata["created"], dt.date)
    return source


def test_round_trip_is_exact(vault: Path, tmp_path: Path) -> None:
    cache = NotesCache(tmp_path / "cache")
    for source in _sources(vault):
        extraction = _made(source)
        assert cache.get(source) is None
        assert cache.put(source, extraction)
        assert cache.get(source) == extraction
    assert (cache.hits, cache.misses) == (2, 2)


def test_notes_from_front_matter_survive(dated: SourceFile, tmp_path: Path) -> None:
    cache = NotesCache(tmp_path / "cache")
    made = _made(dated)
    assert cache.put(dated, made)
    again = cache.get(dated)
    assert again == made and again is not None
    assert all(type(n.tags) is tuple and type(n.fields) is tuple for n in again.notes)
    assert {"serverless", "compute"} <= set(again.notes[0].tags)  # front-matter tags
    assert again.skipped == made.skipped and again.facts == len(again.notes) == 2


def test_unencodable_entry_is_not_cached(dated: SourceFile, tmp_path: Path) -> None:
    cache = NotesCache(tmp_path / "cache")
    odd = replace(_made(dated), skipped=(("reason", object()),))
    assert not cache.put(dated, odd)  # type: ignore[arg-type]
    assert cache.get(dated) is None
    assert not cache.path_for(dated).exists()


def test_entry_is_for_one_set_of_note_options(dated: SourceFile, tmp_path: Path) -> None:
    cache = NotesCache(tmp_path / "cache")
    plain, reverse = DeckOptions(), DeckOptions(reverse="all")
    assert cache.put(dated, _made(dated, plain), plain.key())
    assert cache.get(dated, reverse.key()) is None
    assert cache.get(dated, plain.key()) == _made(dated, plain)


def test_changed_image_is_never_served_from_the_cache(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / "attachments").mkdir(parents=True)
    (notes / "attachments" / "vpc.png").write_bytes(b"\x89PNG first")
    (notes / "vpc.md").write_text("# Amazon VPC\n\n- **Route table**: rules for traffic ![[missing.png]]\n"
                                  "- **Subnet**: a range of IP addresses ![[vpc.png]]\n")
    cache_dir = tmp_path / "cache"
    first = aws_anki.build_deck([notes], run=RunOptions(cache_dir=cache_dir, jobs=1))
    (notes / "attachments" / "vpc.png").write_bytes(b"\x89PNG second, other bytes")
    second = aws_anki.build_deck([notes], run=RunOptions(cache_dir=cache_dir, jobs=1))
    assert second.report.files_cached == 0  # the entry was read, but not trusted
    fresh = aws_anki.build_deck([notes], run=RunOptions(use_cache=False, jobs=1))
    assert second.notes == fresh.notes
    assert second.report.warnings == fresh.report.warnings  # the missing image is warned of once
    assert [w.code for w in second.report.warnings] == ["missing-image"]
    assert first.notes[1].media != second.notes[1].media
    assert set(second.media_files) == set(second.notes[1].media)
    third = aws_anki.build_deck([notes], run=RunOptions(cache_dir=cache_dir, jobs=1))
    assert third.report.files_cached == 1  # the refreshed entry is good again
    assert third.notes == second.notes and third.media_files == second.media_files


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"\x00garbage\xff" * 10, id="garbage"),
        pytest.param(lambda raw: raw.replace(b"15 minutes", b"16 minutes"), id="edited-body"),
        pytest.param(lambda raw: raw.split(b"\n", 1)[1], id="no-header"),
        pytest.param(lambda raw: raw.split(b"\n", 1)[0] + b"\n" + marshal.dumps((1, 2)), id="wrong-shape"),
    ],
)
def test_damaged_entry_is_ignored_and_rewritten(vault: Path, tmp_path: Path, damage: object) -> None:
    sources = _sources(vault)
    cache = NotesCache(tmp_path / "cache")
    aws_anki.build_deck([vault], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1))  # fills the cache
    variant = DeckOptions().key()
    source = next(s for s in sources if s.rel_path.endswith("lambda.md"))
    extraction = cache.get(source, variant)
    assert extraction is not None
    entry = cache.path_for(source)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    assert cache.get(source, variant) is None
    # A build over the damaged cache makes the same notes and repairs the entry.
    result = aws_anki.build_deck([vault], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1))
    assert result.report.files_cached == 1  # ec2.md came from the cache, lambda.md did not
    assert result.notes == aws_anki.build_deck([vault], run=RunOptions(use_cache=False, jobs=1)).notes
    assert cache.get(source, variant) == extraction


def test_stale_fingerprint_is_ignored_and_rewritten(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    extraction = _made(source)
    old = NotesCache(tmp_path, fingerprint="old code")
    new = NotesCache(tmp_path, fingerprint="new code")
    assert old.put(source, extraction)
    assert old.path_for(source) == new.path_for(source)  # same slot: a stale entry is replaced, not kept
    assert new.get(source) is None
    assert new.put(source, extraction)
    assert new.get(source) == extraction
    assert old.get(source) is None


def test_entry_is_for_one_path_and_content(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    cache = NotesCache(tmp_path)
    cache.put(source, _made(source))
    moved = SourceFile(source.path, "elsewhere/" + source.rel_path, source.text, source.metadata, source.content_hash)
    edited = SourceFile(source.path, source.rel_path, source.text + "\n- new\n", source.metadata, "0" * 64)
    assert cache.get(moved) is None and cache.get(edited) is None
    # An edit replaces the file's entry: the cache does not grow with edits.
    cache.put(edited, _made(edited))
    assert cache.get(edited) is not None and cache.get(source) is None
    assert len(list(tmp_path.rglob(f"*{ENTRY_SUFFIX}"))) == 1
    cache.put(source, _made(source))
    # An entry copied into another file's slot is refused too (its header names the other file).
    cache.path_for(moved).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(moved).write_bytes(cache.path_for(source).read_bytes())
    assert cache.get(moved) is None


def test_writes_are_atomic_and_never_fail_a_build(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    cache = NotesCache(tmp_path / "cache")
    assert cache.put(source, _made(source))
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ENTRY_SUFFIX]
    assert [p.name for p in leftovers] == [cache_module.TAG_FILE]  # the entry folder's tag, and no temporary file
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    assert not NotesCache(blocked).put(source, _made(source))
    result = aws_anki.build_deck([vault], run=RunOptions(cache_dir=blocked))
    assert result.report.notes > 0 and result.report.files_cached == 0


def test_build_uses_cache_and_makes_the_same_notes(vault: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = aws_anki.build_deck([vault], run=RunOptions(cache_dir=cache_dir))
    second = aws_anki.build_deck([vault], run=RunOptions(cache_dir=cache_dir))
    assert (first.report.files_cached, second.report.files_cached) == (0, 2)
    assert second.notes == first.notes
    assert second.report.as_dict() | {"seconds": {}, "files_cached": 0} == first.report.as_dict() | {"seconds": {}}
    # An edited file is parsed again; the other one still comes from the cache.
    lambda_md = vault / "compute" / "lambda.md"
    lambda_md.write_text(lambda_md.read_text() + "\n- **Default timeout**: 3 seconds\n")
    third = aws_anki.build_deck([vault], run=RunOptions(cache_dir=cache_dir))
    assert third.report.files_cached == 1
    assert any(n.fields[0] == "Default timeout" for n in third.notes)


def test_no_cache_reads_and_writes_nothing(vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    result = aws_anki.build_deck([vault], run=RunOptions(use_cache=False))
    assert result.report.files_cached == 0
    assert not (tmp_path / "env-cache").exists()


def test_environment_variable_sets_the_default_folder(vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    aws_anki.build_deck([vault])
    assert len(list((tmp_path / "env-cache").rglob(f"*{ENTRY_SUFFIX}"))) == 2
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert "aws-anki" in str(default_cache_dir())


def test_cli_cache_options(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.apkg"
    cache_dir = tmp_path / "cli-cache"
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(vault), "-o", str(out), "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 0, result.output
    assert len(list(cache_dir.glob(f"notes-v*/*/*{ENTRY_SUFFIX}"))) == 2  # one entry per note file
    assert len(list(cache_dir.glob("builds-v*/*.json"))) == 1  # and the deck's up-to-date record
    result = runner.invoke(cli, ["build", str(vault), "-o", str(out), "--no-cache", "--cache-dir", str(tmp_path / "unused"), "-q"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "unused").exists()
    assert "Parsing notes" not in result.output  # no progress bar outside a terminal


def test_fingerprint_changes_with_a_module_in_a_sub_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing any module, however deep in the package, invalidates every cache entry."""
    package = tmp_path / "aws_anki"
    shutil.copytree(Path(cache_module.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_module, "_PACKAGE", package)
    before = cache_module.code_fingerprint.__wrapped__()
    nested = sorted(package.glob("*/*.py"))
    assert nested, "the package has sub-packages"
    for module in nested:
        module.write_text(module.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        after = cache_module.code_fingerprint.__wrapped__()
        assert len(after) == 64 and after != before, module
        before = after


@pytest.mark.parametrize(
    "tamper", ["tag-not-a-string", "fields-not-a-tuple", "deck-not-a-string", "cards-not-an-int", "note-too-short",
               "warning-line-not-an-int", "media-name-not-a-string"],
)
def test_entry_with_wrong_types_is_a_miss_even_with_a_good_signature(dated: SourceFile, tmp_path: Path, tamper: str) -> None:
    cache = NotesCache(tmp_path / "cache")
    made = _made(dated)
    assert cache.put(dated, replace(made, warnings=(BuildWarning("x.md", 1, "code", "message"),), media=(("a.png", 3, None),)))
    assert cache.get(dated) is not None  # the entry is good before it is tampered with
    entry = cache.path_for(dated)
    signed = cache_module.verified(cache.key, entry.read_bytes())
    assert signed is not None
    header_line, body = signed.split(b"\n", 1)
    data = [list(part) if isinstance(part, tuple) else part for part in marshal.loads(body)]
    note = list(data[1][0])  # FileNotes.notes -> the first CardNote's values
    field = dict(zip(_NOTE_FIELDS, range(len(_NOTE_FIELDS))))
    if tamper == "tag-not-a-string":
        note[field["tags"]] = (*note[field["tags"]], 7)
    elif tamper == "fields-not-a-tuple":
        note[field["fields"]] = list(note[field["fields"]])
    elif tamper == "deck-not-a-string":
        note[field["deck"]] = ("AWS",)
    elif tamper == "cards-not-an-int":
        note[field["cards"]] = 1.0
    elif tamper == "note-too-short":
        note = note[:-1]
    elif tamper == "warning-line-not-an-int":
        data[2] = (("x.md", "1", "code", "message"),)
    else:
        data[6] = (("a.png", 3, b"a.png"),)
    data[1] = (tuple(note), *data[1][1:])
    body = marshal.dumps(tuple(data))
    entry.write_bytes(cache_module.sign(cache.key, header_line + b"\n" + body))  # signed as if by this user's aws-anki
    assert cache.get(dated) is None


def test_entry_layout_follows_card_note() -> None:
    assert tuple(f.name for f in fields(CardNote)) == _NOTE_FIELDS


def test_entries_of_older_formats_are_deleted_by_a_build(vault: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    old = cache_dir / "notes-v2" / "ab" / "ab12.json"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    cache_module.tag_folder(cache_dir / "notes-v2")  # as aws-anki tags the folders it makes
    (cache_dir / "notes-v1").mkdir()  # untagged: the user's, whatever its name
    (cache_dir / "notes-vNext").mkdir()  # not a version number: not ours to judge
    (cache_dir / "builds-v1").mkdir()
    aws_anki.build_deck([vault], run=RunOptions(cache_dir=cache_dir, jobs=1))
    kept = ["builds-v1", "notes-v1", "notes-vNext", cache_module._ENTRY_FOLDER]
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(kept)
    assert cache_module.is_tagged(cache_dir / cache_module._ENTRY_FOLDER)

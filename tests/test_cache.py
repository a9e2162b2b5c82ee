"""The parse+extract cache: exact round trips, and entries that are corrupt, truncated or stale are
ignored and rewritten, never trusted. Correctness only: no timings here (see benchmarks/run.py)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner

import aws_anki
from aws_anki.cache import CACHE_DIR_ENV, ExtractionCache, _stage_modules, code_fingerprint, default_cache_dir
from aws_anki.cli import cli
from aws_anki.extract import Extraction
from aws_anki.parallel import extract_one
from aws_anki.read import SourceFile, read_sources

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
    cache = ExtractionCache(tmp_path / "cache")
    for source in _sources(vault):
        extraction = extract_one(source)
        assert cache.get(source) is None
        assert cache.put(source, extraction)
        assert cache.get(source) == extraction
    assert (cache.hits, cache.misses) == (2, 2)


def test_front_matter_types_survive(dated: SourceFile, tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "cache")
    extraction = extract_one(dated)
    assert cache.put(dated, extraction)
    again = cache.get(dated)
    assert again == extraction
    assert again is not None
    metadata = again.metadata
    assert isinstance(metadata, MappingProxyType)
    assert type(metadata["created"]) is dt.date and metadata["created"] == dt.date(2024, 5, 1)
    assert type(metadata["reviewed"]) is dt.datetime and metadata["reviewed"] == dt.datetime(2024, 5, 2, 10, 20, 30)
    assert metadata["tags"] == ("serverless", "compute") and isinstance(metadata["tags"], tuple)
    assert metadata["extra"] == {1: "one", "nested": [1, 2.5, True, None], "when": dt.date(2023, 1, 2)}
    assert all(type(f.headings) is tuple for f in again.facts)


def test_unencodable_metadata_is_not_cached(dated: SourceFile, tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "cache")
    extraction = extract_one(dated)
    odd = Extraction(extraction.source, MappingProxyType({"x": object()}), extraction.facts, extraction.skipped)
    assert not cache.put(dated, odd)
    assert cache.get(dated) is None
    assert not cache.path_for(dated).exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"\x00garbage\xff" * 10, id="garbage"),
        pytest.param(lambda raw: raw.replace(b"15 minutes", b"16 minutes"), id="edited-body"),
        pytest.param(lambda raw: raw.split(b"\n", 1)[1], id="no-header"),
        pytest.param(lambda raw: raw.split(b"\n", 1)[0] + b"\n" + b'{"X":[1]}', id="wrong-shape"),
    ],
)
def test_damaged_entry_is_ignored_and_rewritten(vault: Path, tmp_path: Path, damage: object) -> None:
    sources = _sources(vault)
    cache = ExtractionCache(tmp_path / "cache")
    for each in sources:
        cache.put(each, extract_one(each))
    source = next(s for s in sources if s.rel_path.endswith("lambda.md"))
    extraction = extract_one(source)
    entry = cache.path_for(source)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    assert cache.get(source) is None
    # A build over the damaged cache makes the same notes and repairs the entry.
    result = aws_anki.build_deck([vault], cache_dir=tmp_path / "cache", jobs=1)
    assert result.report.files_cached == 1  # ec2.md came from the cache, lambda.md did not
    assert result.notes == aws_anki.build_deck([vault], use_cache=False, jobs=1).notes
    assert cache.get(source) == extraction


def test_stale_fingerprint_is_ignored_and_rewritten(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    extraction = extract_one(source)
    old = ExtractionCache(tmp_path, fingerprint="old code")
    new = ExtractionCache(tmp_path, fingerprint="new code")
    assert old.put(source, extraction)
    assert old.path_for(source) == new.path_for(source)  # same slot: a stale entry is replaced, not kept
    assert new.get(source) is None
    assert new.put(source, extraction)
    assert new.get(source) == extraction
    assert old.get(source) is None


def test_entry_is_for_one_path_and_content(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    cache = ExtractionCache(tmp_path)
    cache.put(source, extract_one(source))
    moved = SourceFile(source.path, "elsewhere/" + source.rel_path, source.text, source.metadata, source.content_hash)
    edited = SourceFile(source.path, source.rel_path, source.text + "\n- new\n", source.metadata, "0" * 64)
    assert cache.get(moved) is None and cache.get(edited) is None
    # An edit replaces the file's entry: the cache does not grow with edits.
    cache.put(edited, extract_one(edited))
    assert cache.get(edited) is not None and cache.get(source) is None
    assert len(list(tmp_path.rglob("*.json"))) == 1
    cache.put(source, extract_one(source))
    # An entry copied into another file's slot is refused too (its header names the other file).
    cache.path_for(moved).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(moved).write_bytes(cache.path_for(source).read_bytes())
    assert cache.get(moved) is None


def test_writes_are_atomic_and_never_fail_a_build(vault: Path, tmp_path: Path) -> None:
    source = _sources(vault)[0]
    cache = ExtractionCache(tmp_path / "cache")
    assert cache.put(source, extract_one(source))
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".json"]
    assert leftovers == []
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    assert not ExtractionCache(blocked).put(source, extract_one(source))
    result = aws_anki.build_deck([vault], cache_dir=blocked)
    assert result.report.notes > 0 and result.report.files_cached == 0


def test_build_uses_cache_and_makes_the_same_notes(vault: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = aws_anki.build_deck([vault], cache_dir=cache_dir)
    second = aws_anki.build_deck([vault], cache_dir=cache_dir)
    assert (first.report.files_cached, second.report.files_cached) == (0, 2)
    assert second.notes == first.notes
    assert second.extractions == first.extractions
    assert second.report.as_dict() | {"seconds": {}, "files_cached": 0} == first.report.as_dict() | {"seconds": {}}
    # An edited file is parsed again; the other one still comes from the cache.
    lambda_md = vault / "compute" / "lambda.md"
    lambda_md.write_text(lambda_md.read_text() + "\n- **Default timeout**: 3 seconds\n")
    third = aws_anki.build_deck([vault], cache_dir=cache_dir)
    assert third.report.files_cached == 1
    assert any(n.fields[0] == "Default timeout" for n in third.notes)


def test_no_cache_reads_and_writes_nothing(vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    result = aws_anki.build_deck([vault], use_cache=False)
    assert result.report.files_cached == 0
    assert not (tmp_path / "env-cache").exists()


def test_environment_variable_sets_the_default_folder(vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    aws_anki.build_deck([vault])
    assert len(list((tmp_path / "env-cache").rglob("*.json"))) == 2
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert "aws-anki" in str(default_cache_dir())


def test_cli_cache_options(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.apkg"
    cache_dir = tmp_path / "cli-cache"
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(vault), "-o", str(out), "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 0, result.output
    assert len(list(cache_dir.rglob("*.json"))) == 2
    result = runner.invoke(cli, ["build", str(vault), "-o", str(out), "--no-cache", "--cache-dir", str(tmp_path / "unused"), "-q"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "unused").exists()
    assert "Parsing notes" not in result.output  # no progress bar outside a terminal


def test_fingerprint_covers_the_stages() -> None:
    assert {"read", "parse", "extract", "render"} <= set(_stage_modules())
    assert len(code_fingerprint()) == 64

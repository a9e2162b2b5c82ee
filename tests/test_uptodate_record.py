"""The up-to-date record (one header per output path) and a check on the files' bytes, not their
decoded text. Correctness only: no timings here (see benchmarks/run.py)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import aws_anki
from aws_anki import build_into
from aws_anki.build import DeckBuild
from aws_anki.options import RunOptions
from aws_anki.cache import sign, signing_key, verified
from aws_anki.read import decode_sources, read_sources
from aws_anki.scan import scan_sources
from aws_anki.uptodate import record_path

NOW = 1_800_000_000


def _build(vault: Path, out: Path, cache: Path, now: int = NOW) -> DeckBuild:
    return build_into(out, [vault], run=RunOptions(cache_dir=cache, jobs=1), now=now)


def _header(cache: Path, out: Path) -> dict[str, object]:
    """The record of `out`, its signature checked."""
    signed = verified(signing_key(), record_path(cache, out).read_bytes())
    assert signed is not None
    return json.loads(signed)  # type: ignore[no-any-return]


def _store_signed(cache: Path, out: Path, data: bytes) -> None:
    """Replace the record of `out` with `data`, signed as aws-anki signs: only its checks stand in the way."""
    record_path(cache, out).write_bytes(sign(signing_key(), data))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_up_to_date_reports_every_note_of_the_deck(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    first = _build(vault, out, cache)
    header = _header(cache, out)
    assert len(header["guids"]) == first.report.notes
    again = _build(vault, out, cache)
    assert again.written.up_to_date and again.result is None
    assert sorted(again.written.changes.unchanged) == sorted(header["guids"])
    assert again.report.files_cached == again.report.files == first.report.files


def test_an_old_record_is_no_record(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    _build(vault, out, cache)
    header = _header(cache, out)
    _store_signed(cache, out, json.dumps({**header, "version": 2}).encode())
    assert not _build(vault, out, cache).written.up_to_date
    assert _build(vault, out, cache).written.up_to_date


@pytest.mark.parametrize("change", ["crlf", "byte-order-mark", "binary-file", "empty-file", "front-matter-only"])
def test_the_check_hashes_bytes_not_text(vault: Path, tmp_path: Path, change: str) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    first = _build(vault, out, cache)
    ec2 = vault / "compute" / "ec2.md"
    if change == "crlf":  # the same text once decoded
        ec2.write_bytes(ec2.read_bytes().replace(b"\n", b"\r\n"))
    elif change == "byte-order-mark":
        ec2.write_bytes(b"\xef\xbb\xbf" + ec2.read_bytes())
    elif change == "binary-file":  # skipped with a warning
        (vault / "compute" / "blob.md").write_bytes(bytes(range(32)) * 8)
    elif change == "empty-file":
        (vault / "compute" / "todo.md").write_bytes(b"  \n")
    elif change == "front-matter-only":
        (vault / "compute" / "meta.md").write_text("---\ntags: [x]\n---\n", encoding="utf-8")
    again = _build(vault, out, cache, now=NOW + 100)
    assert not again.written.up_to_date
    skipped = {"binary-file": "binary", "empty-file": "empty", "front-matter-only": "empty"}.get(change)
    if skipped:
        assert skipped in {w.code for w in again.report.warnings} - {w.code for w in first.report.warnings}
    assert again.report.notes == first.report.notes
    third = _build(vault, out, cache, now=NOW + 200)
    assert third.written.up_to_date and third.report.warnings == again.report.warnings


def test_scan_then_decode_is_read(vault: Path, tmp_path: Path) -> None:
    (vault / "compute" / "blob.md").write_bytes(bytes(range(32)) * 8)
    (vault / "compute" / "crlf.md").write_bytes(b"# Amazon SQS\r\n\r\n- **Queue**: holds messages\r\n")
    (vault / "compute" / "gone.md").symlink_to(vault / "compute" / "nowhere.md")
    scan = scan_sources([vault])
    assert decode_sources(scan) == read_sources([vault])
    by_name = {Path(f.rel_path).name: f for f in scan.files}
    assert set(by_name) == {"ec2.md", "lambda.md", "blob.md", "crlf.md", "gone.md"}
    for file in scan.files:
        if file.raw is None:
            assert file.error and not file.content_hash
        else:
            assert file.content_hash == hashlib.sha256(file.raw).hexdigest() == hashlib.sha256(file.path.read_bytes()).hexdigest()
    assert by_name["gone.md"].raw is None and "broken symbolic link" in by_name["gone.md"].error
    read = decode_sources(scan)
    assert {Path(s.rel_path).name for s in read.files} == {"ec2.md", "lambda.md", "crlf.md"}
    assert {s.rel_path: s.content_hash for s in read.files} == {f.rel_path: f.content_hash for f in scan.files if f.rel_path in {s.rel_path for s in read.files}}


# The pipeline's modules and libraries, which an up-to-date build must not import.
PIPELINE = ("aws_anki.notes", "aws_anki.context", "aws_anki.quality", "aws_anki.cardchecks", "aws_anki.inspection", "aws_anki.parse",
            "aws_anki.extract", "aws_anki.parallel", "aws_anki.package", "aws_anki.render", "aws_anki.services", "mistune", "genanki", "nh3", "pygments", "yaml", "ftfy", "sqlite3")


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code` (which must print nothing)."""
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=Path(aws_anki.__file__).parent.parent)
    return set(done.stdout.split())


def test_an_up_to_date_build_imports_no_pipeline(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    _build(vault, out, cache)
    loaded = _loaded_after(
        "import pathlib\nimport aws_anki\n"
        f"run = aws_anki.RunOptions(cache_dir=pathlib.Path({str(cache)!r}), jobs=1)\n"
        f"built = aws_anki.build_into({str(out)!r}, [{str(vault)!r}], run=run, now={NOW})\n"
        "assert built.written.up_to_date, built"
    )
    assert "aws_anki.uptodate" in loaded
    assert loaded.isdisjoint(PIPELINE), sorted(loaded & set(PIPELINE))


def test_the_command_line_imports_no_pipeline_at_start() -> None:
    loaded = _loaded_after("import aws_anki.cli")
    assert loaded.isdisjoint(PIPELINE), sorted(loaded & set(PIPELINE))


@pytest.mark.parametrize("damage", ["deeply-nested", "not-utf-8", "fields-missing", "guids-not-strings", "lookups-wrong-shape",
                                    "report-wrong-shape", "unsigned"])
def test_a_damaged_header_is_no_record(vault: Path, tmp_path: Path, damage: str) -> None:
    out, cache = tmp_path / "out.apkg", tmp_path / "cache"
    _build(vault, out, cache)
    header = _header(cache, out)
    if damage == "deeply-nested":
        _store_signed(cache, out, b"[" * 100_000)
    elif damage == "not-utf-8":
        _store_signed(cache, out, b"\xff\xfe\x00")
    elif damage == "unsigned":  # a whole, current record that this user's aws-anki did not write
        record_path(cache, out).write_text(json.dumps(header), encoding="utf-8")
    else:
        if damage == "fields-missing":
            del header["media"]
        elif damage == "guids-not-strings":
            header["guids"] = list(range(len(header["guids"])))  # type: ignore[arg-type]
        elif damage == "lookups-wrong-shape":
            header["lookups"] = [[1, 2]]
        elif damage == "report-wrong-shape":
            header["report"]["notes_by_kind"] = [1, 2]  # type: ignore[index]
        _store_signed(cache, out, json.dumps(header).encode())
    assert not _build(vault, out, cache).written.up_to_date
    assert _build(vault, out, cache).written.up_to_date

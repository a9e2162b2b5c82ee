"""Tests for the read stage: finding, decoding, repairing and front matter (fixtures built in tmp_path)."""
from __future__ import annotations

import hashlib
import os
import sys
import unicodedata
from pathlib import Path
from typing import Callable

import pytest

from aws_anki.errors import BuildWarning, InputError
from aws_anki.read import ReadResult, SourceFile, read_source, read_sources
from aws_anki.scan import find_markdown

REAL_NOTES = Path(__file__).resolve().parents[2] / "shared" / "real_notes"  # as conftest.py finds it
SPANISH = "# Región\n\n- **¿Qué es?** Una zona geográfica — «niño», “canción”, pingüino, ¡sí!\n"


def write(path: Path, data: str | bytes) -> Path:
    """Write text (as UTF-8) or bytes to path, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def read_one(path: Path) -> tuple[SourceFile | None, tuple[BuildWarning, ...]]:
    """Read one file with its folder as the notes root."""
    return read_source(path, path.parent)


def codes(warnings: tuple[BuildWarning, ...]) -> list[str]:
    """The warning codes, in order."""
    return [w.code for w in warnings]


# ------------------------------------------------------------------ decoding


def test_utf8_file_is_read_as_is(tmp_path: Path) -> None:
    raw = SPANISH.encode("utf-8")
    source, warnings = read_one(write(tmp_path / "a.md", raw))
    assert source is not None and warnings == ()
    assert source.text == SPANISH
    assert source.rel_path == "a.md"
    assert source.path == tmp_path / "a.md"
    assert source.content_hash == hashlib.sha256(raw).hexdigest()
    assert source.mtime == os.stat(tmp_path / "a.md").st_mtime
    assert dict(source.metadata) == {}


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    source, warnings = read_one(write(tmp_path / "a.md", b"\xef\xbb\xbf" + SPANISH.encode()))
    assert source is not None and warnings == ()
    assert source.text == SPANISH


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_bom(tmp_path: Path, codec: str) -> None:
    raw = "\ufeff".encode(codec) + SPANISH.encode(codec)
    source, warnings = read_one(write(tmp_path / "a.md", raw))
    assert source is not None and warnings == ()
    assert source.text == SPANISH


def test_utf16_without_bom_is_decoded_with_warning(tmp_path: Path) -> None:
    source, warnings = read_one(write(tmp_path / "a.md", SPANISH.encode("utf-16-le")))
    assert source is not None and source.text == SPANISH
    assert codes(warnings) == ["encoding"]
    assert "UTF-16 LE" in warnings[0].message and "UTF-8" in warnings[0].message


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_western_8bit_file_is_detected_with_warning(tmp_path: Path, codec: str) -> None:
    text = "# Notas\n\n- **Región**: una zona geográfica.\n- El niño comió paella en Málaga.\n"
    source, warnings = read_one(write(tmp_path / "notas.md", text.encode(codec)))
    assert source is not None and source.text == text
    [warning] = warnings
    assert warning.code == "encoding" and warning.path == "notas.md"
    assert warning.line == 3  # the first byte that is not UTF-8
    assert "Windows-1252" in warning.message and "re-save the file as UTF-8" in warning.message


def test_non_western_8bit_file_goes_to_charset_normalizer(tmp_path: Path) -> None:
    text = (
        "# Usługi\n\nZażółć gęślą jaźń. Usługa Lambda jest bezserwerowa i łatwa w użyciu.\n"
        "Każda funkcja może działać do piętnastu minut, a płacisz tylko za czas działania.\n"
    )
    source, warnings = read_one(write(tmp_path / "pl.md", text.encode("cp1250")))
    assert source is not None and codes(warnings) == ["encoding"]
    assert "Zażółć gęślą jaźń" in source.text


def test_mostly_utf8_file_with_a_stray_byte(tmp_path: Path) -> None:
    raw = "línea uno — “ok”\nlínea dos\n".encode() + b"caf\xe9 tres\n"
    source, warnings = read_one(write(tmp_path / "a.md", raw))
    assert source is not None
    assert source.text == "línea uno — “ok”\nlínea dos\ncafé tres\n"
    assert codes(warnings) == ["encoding"] and warnings[0].line == 3


def test_mojibake_is_repaired_and_reported(tmp_path: Path) -> None:
    text = "# Lambda\n\n- Scaling â€“ per region\n- clean line\n- it doesnâ€™t cost; cafÃ© and rÃ©sumÃ©\n"
    source, warnings = read_one(write(tmp_path / "m.md", text))
    assert source is not None
    assert source.text == "# Lambda\n\n- Scaling – per region\n- clean line\n- it doesn’t cost; café and résumé\n"
    [warning] = warnings
    assert warning.code == "mojibake" and warning.line == 3
    assert "2 lines" in warning.message and "UTF-8" in warning.message


def test_correct_text_is_untouched_and_ftfy_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ftfy", None)  # importing ftfy now raises ImportError
    text = SPANISH + "\n```python\nx = '&lt;b&gt;' if a <= b else \"ﬁ\"  # Ａ\n```\n- `arn:aws:s3:::x` ‘ok’\n"
    source, warnings = read_one(write(tmp_path / "es.md", text))
    assert source is not None and warnings == ()
    assert source.text == text


def test_text_that_passes_the_gate_but_is_correct_is_untouched(tmp_path: Path) -> None:
    text = "Straße“ and voilà… and SÃO PAULO\n"
    source, warnings = read_one(write(tmp_path / "a.md", text))
    assert source is not None and warnings == ()
    assert source.text == text


def test_newlines_and_nfc_are_normalised(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "canción")
    source, _ = read_one(write(tmp_path / "a.md", f"one\r\ntwo\rthree {decomposed}\n"))
    assert source is not None
    assert source.text == "one\ntwo\nthree canción\n"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("\u1100\u1161 jamo", "\uac00 jamo"),  # Hangul jamo compose
        ("\u212b ohm \u2126", "\u00c5 ohm \u03a9"),  # singletons
        ("a\u0323\u0302 — x", "\u1ead — x"),  # marks after an ASCII letter
        ("emoji 😂 ❤\ufe0f – “ok”", "emoji – “ok”"),  # emoji are noise on a card (glyphs.icon_words)
    ],
)
def test_nfc_cases(tmp_path: Path, written: str, expected: str) -> None:
    source, _ = read_one(write(tmp_path / "a.md", written))
    assert source is not None and source.text == expected


# ------------------------------------------------------------------ skipped files


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        bytes(range(1, 32)) * 40,  # no NUL, but control characters only
        b"\xff\xfe" + bytes(64) + b"\x01\x02" * 32,  # a UTF-16 BOM in front of binary data
    ],
    ids=["nul-bytes", "control-bytes", "bom-then-binary"],
)
def test_binary_file_is_skipped(tmp_path: Path, raw: bytes) -> None:
    source, warnings = read_one(write(tmp_path / "image.md", raw))
    assert source is None
    [warning] = warnings
    assert warning.code == "binary" and warning.path == "image.md"
    assert "skipped" in warning.message


@pytest.mark.parametrize("raw", [b"", b"  \n\t\r\n", "\ufeff\n".encode("utf-16")], ids=["empty", "blank", "utf16-double-bom"])
def test_empty_file_is_skipped(tmp_path: Path, raw: bytes) -> None:
    source, warnings = read_one(write(tmp_path / "e.md", raw))
    assert source is None and codes(warnings) == ["empty"]


def test_front_matter_only_file_is_skipped(tmp_path: Path) -> None:
    source, warnings = read_one(write(tmp_path / "fm.md", "---\ntitle: x\ntags: [a]\n---\n\n  \n"))
    assert source is None and codes(warnings) == ["empty"]
    assert "front matter" in warnings[0].message


def test_dangling_symlink_is_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "ok.md", "# ok\n")
    (tmp_path / "gone.md").symlink_to(tmp_path / "nowhere.md")
    result = read_sources([tmp_path])
    assert [f.rel_path for f in result.files] == ["ok.md"]
    [warning] = result.warnings
    assert warning.code == "unreadable" and warning.path == "gone.md"
    assert "broken symbolic link" in warning.message


def test_folder_named_md_is_walked_but_cannot_be_read_as_a_file(tmp_path: Path) -> None:
    write(tmp_path / "x.md" / "inner.md", "# inner\n")
    result = read_sources([tmp_path])
    assert [f.rel_path for f in result.files] == ["x.md/inner.md"]
    assert result.warnings == ()
    source, warnings = read_source(tmp_path / "x.md", tmp_path)
    assert source is None and codes(warnings) == ["unreadable"]
    assert warnings[0].path == "x.md" and "folder" in warnings[0].message


def test_fifo_named_md_does_not_hang(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.md")
    source, warnings = read_source(tmp_path / "pipe.md", tmp_path)
    assert source is None and codes(warnings) == ["unreadable"]


def test_unreadable_file_is_skipped_and_the_rest_read(tmp_path: Path, make_unreadable: Callable[[Path], None]) -> None:
    write(tmp_path / "ok.md", "# ok\n")
    make_unreadable(write(tmp_path / "secret.md", "# secret\n"))
    result = read_sources([tmp_path])
    assert [f.rel_path for f in result.files] == ["ok.md"]
    assert codes(result.warnings) == ["unreadable"] and result.warnings[0].path == "secret.md"
    assert "permission denied" in result.warnings[0].message


def test_symlink_loop_is_named_once_and_terminates(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.md", "# a\n")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")  # a link to itself
    result = read_sources([tmp_path])
    assert [f.rel_path for f in result.files] == ["sub/a.md"]
    assert sorted((w.code, w.path) for w in result.warnings) == [("symlink-loop", "sub/loop"), ("unreadable", "self.md")]


def test_symlink_to_a_folder_above_the_notes_is_a_loop(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "a.md", "# a\n")
    write(tmp_path / "outside.md", "# not part of the notes\n")
    (notes / "up").symlink_to(tmp_path, target_is_directory=True)
    (notes / "disk").symlink_to(Path(tmp_path.anchor), target_is_directory=True)
    result = read_sources([notes])
    assert [f.rel_path for f in result.files] == ["a.md"]
    assert [(w.code, w.path) for w in result.warnings] == [("symlink-loop", "disk"), ("symlink-loop", "up")]


def test_symlinked_folder_inside_the_root_is_followed_and_real_paths_win(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "real" / "r.md", "# r\n")
    write(notes / "other" / "deep" / "d.md", "# d\n")
    (notes / "real" / "linked").symlink_to(notes / "other" / "deep", target_is_directory=True)
    (notes / "alias").symlink_to(notes / "real", target_is_directory=True)  # same folder twice
    (notes / "a-link.md").symlink_to(notes / "real" / "r.md")  # same file twice
    result = read_sources([notes])
    assert [f.rel_path for f in result.files] == ["other/deep/d.md", "real/r.md"]
    assert result.warnings == ()


def test_symlinks_that_lead_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    notes, elsewhere = tmp_path / "notes", tmp_path / "elsewhere"
    write(elsewhere / "shared.md", "# shared\n")
    write(notes / "r.md", "# r\n")
    (notes / "linked").symlink_to(elsewhere, target_is_directory=True)
    (notes / "shared.md").symlink_to(elsewhere / "shared.md")
    result = read_sources([notes])
    assert [f.rel_path for f in result.files] == ["r.md"]
    assert sorted((w.code, w.path) for w in result.warnings) == [("outside-root", "linked"), ("outside-root", "shared.md")]
    assert [f.rel_path for f in read_sources([notes / "linked"]).files] == ["shared.md"]  # named: its own root


# ------------------------------------------------------------------ front matter


def test_front_matter_is_parsed_and_blanked_keeping_line_numbers(tmp_path: Path) -> None:
    file_text = "---\nTitle: Lambda\nService: lambda\n---\n# Lambda\n\n- **Timeout**: 15 min\n"
    source, warnings = read_one(write(tmp_path / "l.md", file_text))
    assert source is not None and warnings == ()
    assert dict(source.metadata) == {"title": "Lambda", "service": "lambda"}
    assert source.text.split("\n") == ["", "", "", "", *file_text.split("\n")[4:]]
    for number, line in enumerate(file_text.split("\n")[4:], start=5):
        assert source.text.split("\n")[number - 1] == line


def test_front_matter_closed_by_dots_and_empty_block(tmp_path: Path) -> None:
    source, _ = read_one(write(tmp_path / "a.md", "---\nx: 1\n...\nbody\n"))
    assert source is not None and dict(source.metadata) == {"x": 1} and source.text == "\n\n\nbody\n"
    source, warnings = read_one(write(tmp_path / "b.md", "---\n---\nbody\n"))
    assert source is not None and warnings == () and source.text == "\n\nbody\n"


def test_leading_rule_without_closing_line_is_not_front_matter(tmp_path: Path) -> None:
    text = "---\n# Title\n\n- item\n"
    source, warnings = read_one(write(tmp_path / "a.md", text))
    assert source is not None and warnings == () and source.text == text


def test_invalid_yaml_is_reported_with_its_line_and_blanked(tmp_path: Path) -> None:
    text = "---\ntitle: ok\ntags: [unclosed\n---\n# Body\n"
    source, warnings = read_one(write(tmp_path / "bad.md", text))
    assert source is not None and dict(source.metadata) == {}
    assert source.text == "\n\n\n\n# Body\n"
    [warning] = warnings
    assert warning.code == "front-matter" and warning.path == "bad.md"
    assert warning.line is not None and 3 <= warning.line <= 4
    assert "not valid YAML" in warning.message and "Fix" in warning.message


@pytest.mark.parametrize("block", ["- a\n- b\n", "just a sentence\n"], ids=["list", "scalar"])
def test_front_matter_that_is_not_a_mapping(tmp_path: Path, block: str) -> None:
    source, warnings = read_one(write(tmp_path / "a.md", f"---\n{block}---\nbody\n"))
    assert source is not None and dict(source.metadata) == {}
    assert codes(warnings) == ["front-matter"] and "key: value" in warnings[0].message
    assert source.text.split("\n")[block.count("\n") + 2] == "body"


@pytest.mark.parametrize(
    ("yaml_tags", "expected"),
    [
        ("[aws, lambda]", ("aws", "lambda")),
        ("\n  - aws\n  - '#compute/lambda'\n  - 2024", ("aws", "compute/lambda", "2024")),
        ("aws, lambda", ("aws", "lambda")),
        ("aws lambda  serverless", ("aws", "lambda", "serverless")),
        ("'#aws #lambda'", ("aws", "lambda")),
        ("aws,lambda, aws", ("aws", "lambda")),
        ("", ()),
        ("lambda", ("lambda",)),
    ],
)
def test_tags_forms(tmp_path: Path, yaml_tags: str, expected: tuple[str, ...]) -> None:
    source, warnings = read_one(write(tmp_path / "t.md", f"---\nTags: {yaml_tags}\n---\nbody\n"))
    assert source is not None and warnings == ()
    assert source.metadata["tags"] == expected
    assert isinstance(source.metadata["tags"], tuple)


def test_tags_of_an_unusable_type_are_reported(tmp_path: Path) -> None:
    source, warnings = read_one(write(tmp_path / "t.md", "---\ntitle: x\ntags:\n  a: b\n---\nbody\n"))
    assert source is not None and source.metadata["tags"] == ()
    assert codes(warnings) == ["front-matter"] and warnings[0].line == 3


def test_mojibake_in_front_matter_is_repaired_before_parsing(tmp_path: Path) -> None:
    source, warnings = read_one(write(tmp_path / "a.md", "---\ntitle: CafÃ© notes\n---\nbody\n"))
    assert source is not None and source.metadata["title"] == "Café notes"
    assert codes(warnings) == ["mojibake"] and warnings[0].line == 2


# ------------------------------------------------------------------ finding files


def test_hidden_folders_and_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "note.md", "# n\n")
    write(tmp_path / "more.markdown", "# m\n")
    write(tmp_path / "readme.txt", "not markdown\n")
    for hidden in (".obsidian/workspace.md", ".git/x.md", ".trash/old.md", ".draft.md", "sub/.hidden/y.md"):
        write(tmp_path / hidden, "# hidden\n")
    assert sorted(f.rel_path for f in read_sources([tmp_path]).files) == ["more.markdown", "note.md"]


def test_order_is_deterministic(tmp_path: Path) -> None:
    for name in ("zeta.md", "b/a.md", "a.md", "b/c/z.md", "B.md", "b.md"):
        write(tmp_path / name, f"# {name}\n")
    first = read_sources([tmp_path])
    second = read_sources([tmp_path])
    rel_paths = [f.rel_path for f in first.files]
    assert rel_paths == sorted(rel_paths) == ["B.md", "a.md", "b.md", "b/a.md", "b/c/z.md", "zeta.md"]
    assert first == second


def test_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    note = write(tmp_path / "compute" / "lambda.md", "# Lambda\n")
    result = read_sources([tmp_path, note, tmp_path / "compute"])
    assert [(f.rel_path, f.path) for f in result.files] == [("compute/lambda.md", note)]


def test_file_argument_uses_its_folder_as_root(tmp_path: Path) -> None:
    note = write(tmp_path / "compute" / "lambda.md", "# Lambda\n")
    assert find_markdown([note]) == [(note, note.parent)]
    assert [f.rel_path for f in read_sources([str(note)]).files] == ["lambda.md"]


def test_missing_path_raises_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match="nope: no such file or folder"):
        read_sources([missing])


def test_no_paths_read_nothing() -> None:
    assert read_sources([]) == ReadResult(files=(), warnings=())


# ------------------------------------------------------------------ size


def test_one_megabyte_line_is_fine_and_fast(tmp_path: Path) -> None:
    line = "- **Lambda** " + "word – ünïcödé " * 70_000
    assert len(line.encode()) > 1_000_000
    path = write(tmp_path / "long.md", f"# Long\n{line}\nlast\n")
    source, warnings = read_one(path)  # how fast: benchmarks/, not a unit test
    assert source is not None and warnings == ()
    assert source.text.split("\n") == ["# Long", line, "last", ""]


@pytest.mark.skipif(not REAL_NOTES.is_dir(), reason="no real notes here")
def test_real_notes(capsys: pytest.CaptureFixture[str]) -> None:
    expected = sorted(p.name for p in REAL_NOTES.glob("*.md"))
    result = read_sources([REAL_NOTES])
    assert [f.rel_path for f in result.files] == expected
    for source in result.files:
        assert source.text.count("\n") == source.path.read_bytes().count(b"\n")
    with capsys.disabled():
        print(f"\nreal notes: {len(result.files)} files, warnings: {[str(w) for w in result.warnings] or 'none'}")

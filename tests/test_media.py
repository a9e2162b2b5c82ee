"""Media lookup: resolution order, configurable attachment folders, collision-free names, and
references that lead out of the notes root (refused with a warning, never opened)."""
from __future__ import annotations

import builtins
import io
import os
from pathlib import Path
from typing import Any

import pytest

import aws_anki
from aws_anki.media import MediaCollector
from aws_anki.options import DeckOptions, RunOptions

PNG = b"\x89PNG\r\n\x1a\n"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def collector(root: Path, note: str = "notes/s3.md", folders: tuple[str, ...] = ("attachments",)) -> MediaCollector:
    return MediaCollector({note: (root / note, root)}, folders)


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    write(root / "notes" / "s3.md", "# S3\n")
    write(root / "notes" / "here.png", PNG + b"note dir")
    write(root / "here.png", PNG + b"root")
    write(root / "attachments" / "here.png", PNG + b"attachments")
    write(root / "rootonly.png", PNG + b"root only")
    write(root / "attachments" / "rootonly.png", PNG + b"attachments too")
    write(root / "attachments" / "Pasted image 2024.png", PNG + b"pasted")
    write(root / "attachments" / "a%20b.png", PNG + b"a literal percent name")
    write(root / "deep" / "down" / "below" / "anywhere.png", PNG + b"by name")
    write(root / "notes" / "doc.pdf", b"%PDF-1.4")
    write(tmp_path / "outside" / "secret.png", PNG + b"secret")
    return root


def test_resolution_order_note_dir_then_root_then_attachments(vault: Path) -> None:
    media = collector(vault)
    here = media("here.png", "notes/s3.md", 3)
    assert here and media.files[here] == (vault / "notes" / "here.png").resolve()
    root_only = media("rootonly.png", "notes/s3.md", 4)
    assert root_only and media.files[root_only] == (vault / "rootonly.png").resolve()
    pasted = media("Pasted image 2024.png", "notes/s3.md", 5)
    assert pasted and media.files[pasted].name == "Pasted image 2024.png"
    anywhere = media("anywhere.png", "notes/s3.md", 6)  # Obsidian: a bare name anywhere in the vault
    assert anywhere and media.files[anywhere].parent.name == "below"
    assert media.warnings == []


def test_percent_encoded_and_literal_names(vault: Path) -> None:
    media = collector(vault)
    assert media("Pasted%20image%202024.png", "notes/s3.md", 1) == media("Pasted image 2024.png", "notes/s3.md", 1)
    literal = media("a%20b.png", "notes/s3.md", 1)  # no "a b.png": the file really is called "a%20b.png"
    assert literal and media.files[literal].name == "a%20b.png"


def test_names_are_content_hashed_and_safe(vault: Path) -> None:
    media = collector(vault)
    note_dir = media("here.png", "notes/s3.md", 1)
    assert note_dir
    write(vault / "notes" / "_hidden.png", PNG + b"x")
    underscored = media("_hidden.png", "notes/s3.md", 1)
    pasted = media("Pasted image 2024.png", "notes/s3.md", 1)
    assert note_dir != media("../here.png", "notes/s3.md", 1)  # same name, other content: other name
    assert underscored and not underscored.startswith("_")  # Anki never updates media named `_x`
    assert pasted and " " not in pasted and pasted.endswith(".png")
    write(vault / "notes" / "copy.png", PNG + b"note dir")  # same bytes as notes/here.png
    copy = media("copy.png", "notes/s3.md", 1)
    assert copy and copy.split("-")[-1] == note_dir.split("-")[-1]


def test_configured_folders_relative_to_root_note_or_absolute(vault: Path, tmp_path: Path) -> None:
    write(vault / "files" / "rootonly.png", PNG + b"files")
    media = collector(vault, folders=("files", "attachments"))
    name = media("rootonly.png", "notes/s3.md", 1)
    assert name and media.files[name] == (vault / "rootonly.png").resolve()  # the root still comes first
    write(vault / "files" / "chart.png", PNG + b"files chart")
    write(vault / "attachments" / "chart.png", PNG + b"attachments chart")
    name = media("chart.png", "notes/s3.md", 1)
    assert name and media.files[name].parent.name == "files"

    write(vault / "notes" / "assets" / "local.png", PNG + b"note assets")
    media = collector(vault, folders=("./assets",))
    name = media("local.png", "notes/s3.md", 1)
    assert name and media.files[name] == (vault / "notes" / "assets" / "local.png").resolve()

    shared = tmp_path / "shared-attachments"  # outside the notes, named by the person building
    write(shared / "logo.png", PNG + b"shared")
    media = collector(vault, folders=(str(shared),))
    name = media("logo.png", "notes/s3.md", 1)
    assert name and media.files[name] == (shared / "logo.png").resolve() and media.warnings == []


def test_build_deck_attachments_option(vault: Path) -> None:
    write(vault / "notes" / "s3.md", "# Amazon S3\n\n- **Chart**: how objects spread over storage classes\n![[chart.png]]\n")
    write(vault / "files" / "chart.png", PNG + b"files chart")
    write(vault / "attachments" / "chart.png", PNG + b"attachments chart")
    default = aws_anki.build_deck([vault], run=RunOptions(use_cache=False))
    configured = aws_anki.build_deck([vault], DeckOptions(attachments=("files",)), RunOptions(use_cache=False))
    assert [p.parent.name for p in default.media_files.values()] == ["attachments"]
    assert [p.parent.name for p in configured.media_files.values()] == ["files"]


def test_missing_and_not_an_image(vault: Path) -> None:
    media = collector(vault)
    assert media("nowhere.png", "notes/s3.md", 7) is None
    assert media("doc.pdf", "notes/s3.md", 8) is None
    assert media("../images/nowhere.png", "notes/s3.md", 9) is None  # inside the root from the note: missing
    assert [(w.path, w.line, w.code) for w in media.warnings] == [
        ("notes/s3.md", 7, "missing-image"),
        ("notes/s3.md", 8, "not-an-image"),
        ("notes/s3.md", 9, "missing-image"),
    ]
    assert "nowhere.png" in str(media.warnings[0]) and str(media.warnings[0]).startswith("notes/s3.md:7: ")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened for reading while the test runs."""
    seen: list[str] = []
    real_open = io.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(os.fsdecode(file) if isinstance(file, (str, bytes, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", spy)
    monkeypatch.setattr(builtins, "open", spy)
    return seen


@pytest.mark.parametrize(
    "reference",
    [
        "../../outside/secret.png",
        "../../../../../../../../etc/passwd",
        "/etc/hostname",
        "/etc/passwd",
        "../../outside/../outside/secret.png",
        "..%2F..%2Foutside%2Fsecret.png",
        "file:///etc/passwd",
        "~/.ssh/id_rsa",
    ],
)
def test_references_out_of_the_root_are_refused_and_never_opened(vault: Path, opened: list[str], reference: str) -> None:
    media = collector(vault)
    assert media(reference, "notes/s3.md", 9) is None
    assert [(w.line, w.code) for w in media.warnings] == [(9, "outside-root")]
    assert "refused" in str(media.warnings[0])
    assert not media.files
    assert not [p for p in opened if "secret" in p or p.startswith("/etc") or ".ssh" in p]


def test_symlink_out_of_the_root_is_refused_and_never_opened(vault: Path, tmp_path: Path, opened: list[str]) -> None:
    (vault / "notes" / "innocent.png").symlink_to(tmp_path / "outside" / "secret.png")
    (vault / "attachments" / "etc").symlink_to("/etc")
    media = collector(vault)
    assert media("innocent.png", "notes/s3.md", 2) is None
    assert media("etc/hostname", "notes/s3.md", 3) is None  # through a linked folder
    assert [w.code for w in media.warnings] == ["outside-root", "outside-root"]
    assert not media.files and not [p for p in opened if "secret" in p or p.startswith("/etc")]
    assert media("here.png", "notes/s3.md", 4) and any(p.endswith("here.png") for p in opened)  # the spy sees reads


def test_symlink_inside_the_root_is_followed(vault: Path) -> None:
    (vault / "notes" / "alias.png").symlink_to(vault / "attachments" / "here.png")
    media = collector(vault)
    name = media("alias.png", "notes/s3.md", 1)
    assert name and media.files[name] == (vault / "attachments" / "here.png").resolve()


def test_symlink_loops_and_dangling_links_are_missing_not_errors(vault: Path) -> None:
    (vault / "notes" / "loop-a.png").symlink_to(vault / "notes" / "loop-b.png")
    (vault / "notes" / "loop-b.png").symlink_to(vault / "notes" / "loop-a.png")
    (vault / "attachments" / "dangling.png").symlink_to(vault / "nothing-here.png")
    media = collector(vault)
    assert media("loop-a.png", "notes/s3.md", 1) is None
    assert media("dangling.png", "notes/s3.md", 2) is None
    assert media("anywhere.png", "notes/s3.md", 3)  # the by-name index survives the bad links
    assert [w.code for w in media.warnings] == ["missing-image", "missing-image"]


def test_build_refuses_outside_images_end_to_end(vault: Path, tmp_path: Path) -> None:
    (vault / "notes" / "innocent.png").symlink_to(tmp_path / "outside" / "secret.png")
    write(vault / "notes" / "s3.md", (
        "# Amazon S3\n\n"
        "- **Passwords**: kept elsewhere\n![](../../etc/passwd)\n"
        "- **Host name**: also elsewhere\n![](/etc/hostname)\n"
        "- **Innocent**: a link out of the vault\n![[innocent.png]]\n"
        '- **Raw HTML**: an absolute source\n<img src="/etc/hostname" alt="host">\n'
    ))
    result = aws_anki.build_deck([vault], run=RunOptions(use_cache=False))
    assert not result.media_files
    refused = [w for w in result.report.warnings if w.code == "outside-root"]
    assert [w.line for w in refused] == [3, 5, 7, 9]
    for note in result.notes:
        assert "<img" not in "".join(note.fields)
    backs = {n.fields[0]: n.fields[1] for n in result.notes}
    assert "<img" not in backs["Innocent"] and "innocent.png" not in backs["Innocent"]

"""Never lose a user's file, never show a traceback (issue 20, items 1-6): outputs that would replace
a note are refused, builds into one output take turns, the cache deletes and trusts only what
aws-anki made, a damaged `.lock.json` falls back to a first build's rules, and a failed write is
one line naming the path, leaving the deck and its state as they were (together)."""
from __future__ import annotations

import errno
import json
import marshal
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import aws_anki
from aws_anki import cache as cache_module
from aws_anki.cli import cli
from aws_anki.errors import OutputError
from aws_anki.options import DeckOptions, RunOptions
from aws_anki.outputs import output_lock

NOTE = "# AWS Lambda\n\n- **Maximum memory**: 10,240 MB\n- **Default timeout**: 3 seconds\n"
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """A notes folder: two notes, an image one shows, and a plain-text note (read only when named)."""
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / "l.md").write_text(NOTE + "\n![flow](flow.png)\n", encoding="utf-8")
    (folder / "ec2.md").write_text("# Amazon EC2\n\n- **Max tags per instance**: 50\n", encoding="utf-8")
    (folder / "flow.png").write_bytes(IMAGE)
    (folder / "plain.txt").write_text("# Amazon S3\n\n- **Max object size**: 5 TB\n", encoding="utf-8")
    return folder


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(result: Result, *needles: str) -> None:
    """The command failed with one `Error:` line holding every needle, and no traceback."""
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # click's exit, not a crash
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def _deck_mods(deck: Path) -> list[int]:
    """Every note's modification time in an `.apkg`, as Anki would read it."""
    with zipfile.ZipFile(deck) as archive, tempfile.TemporaryDirectory() as folder:
        collection = Path(folder) / "collection.anki2"
        collection.write_bytes(archive.read("collection.anki2"))
        connection = sqlite3.connect(collection)
        try:
            return sorted(mod for (mod,) in connection.execute("SELECT mod FROM notes"))
        finally:
            connection.close()


# 1. An output never replaces a note -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["build", "{n}/l.md", "-o", "{n}/l.md"], "named like a Markdown note"),
        (["build", "{n}", "-o", "{n}/other.markdown"], "named like a Markdown note"),
        (["preview", "{n}", "-o", "{n}/x.md"], "named like a Markdown note"),
        (["build", "{n}", "--preview", "{n}/x.md", "-o", "{t}/deck.apkg"], "named like a Markdown note"),
        (["build", "{n}/plain.txt", "-o", "{n}/plain.txt"], "an input of this build"),
        (["build", "{n}", "-o", "{n}/flow.png"], "an input of this build"),
        (["build", "{n}", "--preview", "{n}/flow.png", "-o", "{t}/deck.apkg"], "an input of this build"),
        (["preview", "{n}", "-o", "{n}/flow.png"], "an input of this build"),
        (["build", "{n}", "-o", "{t}/deck.apkg", "--preview", "{t}/deck.apkg"], "two outputs into one file"),
    ],
)
def test_an_output_that_would_replace_a_note_or_input_is_refused(notes: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    before = _snapshot(tmp_path)
    result = _run(*(a.format(n=notes, t=tmp_path) for a in args))
    _one_line_error(result, "refusing", needle)
    assert _snapshot(tmp_path) == before  # nothing written, not even a state file or a temporary one


def test_an_output_reached_through_a_symlink_to_a_note_is_refused(notes: Path, tmp_path: Path) -> None:
    (notes / "link.txt").symlink_to(notes / "plain.txt")
    before = _snapshot(tmp_path)
    _one_line_error(_run("build", notes / "link.txt", "-o", notes / "plain.txt"), "an input of this build")
    assert _snapshot(tmp_path) == before


def test_the_library_refuses_too(notes: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        aws_anki.build_into(notes / "l.md", [notes / "l.md"])
    result = aws_anki.build_deck([notes], run=RunOptions(use_cache=False))
    with pytest.raises(OutputError):
        result.write(tmp_path / "deck.md")
    with pytest.raises(OutputError):
        result.write(notes / "flow.png")
    assert (notes / "l.md").read_text(encoding="utf-8").startswith(NOTE)
    assert (notes / "flow.png").read_bytes() == IMAGE


def test_an_ordinary_build_is_not_refused(notes: Path, tmp_path: Path) -> None:
    """The refusals look at names and files only: a deck beside the notes, in a new folder, is fine."""
    assert _run("build", notes, "-o", notes / "deck.apkg", "--preview", notes / "deck.html", "-q").exit_code == 0
    built = aws_anki.build_into(tmp_path / "new" / "deck.apkg", [notes], DeckOptions(), RunOptions(use_cache=False))
    assert built.written.path.is_file() and built.report.notes >= 3


# 2. Builds into one output take turns -----------------------------------------------------------


def test_a_second_build_waits_for_the_first_then_finds_the_deck_up_to_date(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "deck.apkg"
    environment = {**os.environ, "AWS_ANKI_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "aws_anki", "build", str(notes), "-o", str(out), "-j", "1"]
    with output_lock(out):  # a first build is writing the deck
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        try:
            told = second.stderr.readline() if second.stderr else ""
            assert "is writing" in told and str(out) in told and "waiting" in told, told
            assert second.poll() is None and not out.exists()  # it waits, and has written nothing
        except BaseException:
            second.kill()
            raise
        aws_anki.build_into(out, [notes], run=RunOptions(cache_dir=tmp_path / "cache", jobs=1))  # the first one's work
    output, errors = second.communicate(timeout=300)
    assert second.returncode == 0, errors
    assert "Traceback" not in errors
    assert "Up to date" in output  # it built on what the first one wrote
    assert json.loads(out.with_name("deck.apkg.lock.json").read_text(encoding="utf-8"))["version"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["deck.apkg", "deck.apkg.lock.json"]


def test_builds_at_once_into_one_output_all_succeed_and_leave_whole_files(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "deck.apkg"
    command = [sys.executable, "-m", "aws_anki", "build", str(notes), "-o", str(out), "-j", "1", "--no-cache", "-q"]
    builds = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for build in builds:
        _, errors = build.communicate(timeout=300)
        assert build.returncode == 0, errors
        assert "Traceback" not in errors
    raw = out.with_name("deck.apkg.lock.json").read_bytes()
    assert b"\x00" not in raw and json.loads(raw)["version"] == 2
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
    assert sorted(p.name for p in out.parent.iterdir()) == ["deck.apkg", "deck.apkg.lock.json"]


# 3. The cache deletes only what aws-anki made ---------------------------------------------------


def test_pruning_the_cache_leaves_the_users_folders(notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    for name in ("notes-v1", "notes-v2"):
        (work / name).mkdir(parents=True)
        (work / name / "mine.md").write_text("# my own notes\n", encoding="utf-8")
    old = work / "notes-v0"  # an outdated folder aws-anki made and tagged: deleted
    cache_module.tag_folder(old)
    (old / "ab").mkdir()
    (old / "ab" / "ab.entry").write_bytes(b"old")
    monkeypatch.chdir(work)
    result = _run("build", notes, "-o", tmp_path / "deck.apkg", "--cache-dir", ".", "-q")
    assert result.exit_code == 0, result.output
    assert (work / "notes-v1" / "mine.md").is_file() and (work / "notes-v2" / "mine.md").is_file()
    assert not old.exists()
    assert cache_module.is_tagged(work / "notes-v3") and cache_module.is_tagged(work / "builds-v1")


# 4. Nothing read back from the cache is trusted unless aws-anki wrote it ------------------------


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob(f"*{cache_module.ENTRY_SUFFIX}"))


def _forged(entry: Path, body: bytes, *, signed_by_another_key: bool = True) -> None:
    """Replace an entry with `body` under its own header, as someone without the user's key could."""
    raw = entry.read_bytes()
    header = raw.split(b"\n")[1]
    data = header + b"\n" + body
    entry.write_bytes(cache_module.sign(os.urandom(32), data) if signed_by_another_key else data)


def test_a_crafted_cache_entry_puts_no_script_into_the_deck(notes: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "deck.apkg"
    assert _run("build", notes, "-o", out, "--cache-dir", cache, "-q", "--no-state").exit_code == 0
    entry = next(e for e in _entries(cache) if b"l.md" in e.read_bytes())
    good = cache_module.verified(cache_module.signing_key(), entry.read_bytes())
    assert good is not None
    body = good.split(b"\n", 1)[1]
    value = marshal.loads(body)
    note = list(value[1][0])
    note[3] = ("<script>alert(1)</script>", *note[3][1:])  # the first field
    value = (value[0], (tuple(note), *value[1][1:]), *value[2:])
    _forged(entry, marshal.dumps(value, 4))
    result = _run("build", notes, "-o", out, "--cache-dir", cache, "--json", "--no-state")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files_cached"] == 1  # ec2.md from the cache, l.md made again
    with zipfile.ZipFile(out) as archive:
        assert b"<script" not in archive.read("collection.anki2")
    assert cache_module.verified(cache_module.signing_key(), entry.read_bytes()) == good  # rewritten


def test_a_crafted_cache_entry_is_never_decoded(notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, out = tmp_path / "cache", tmp_path / "deck.apkg"
    assert _run("build", notes, "-o", out, "--cache-dir", cache, "-q", "--no-state").exit_code == 0
    huge = b"(" + struct.pack("<i", 2**31 - 1)  # 5 bytes that ask marshal for a 16 GiB tuple
    for entry in _entries(cache):
        _forged(entry, huge, signed_by_another_key=False)
    decoded: list[bytes] = []
    real_loads = marshal.loads

    def watching(data: bytes, *args: Any) -> Any:
        decoded.append(bytes(data))
        if bytes(data) == huge:
            raise MemoryError("the crafted size was allocated")
        return real_loads(data, *args)

    monkeypatch.setattr(marshal, "loads", watching)
    result = _run("build", notes, "-o", out, "--cache-dir", cache, "--json", "--no-state")
    assert result.exit_code == 0, result.output
    assert huge not in decoded
    assert json.loads(result.output)["files_cached"] == 0


def test_an_entry_from_another_users_cache_is_a_miss(notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    aws_anki.build_deck([notes], run=RunOptions(cache_dir=cache, jobs=1))
    monkeypatch.setenv(cache_module.DATA_DIR_ENV, str(tmp_path / "someone-else"))
    other = aws_anki.build_deck([notes], run=RunOptions(cache_dir=cache, jobs=1))  # another key, same folder
    assert other.report.files_cached == 0
    assert (tmp_path / "someone-else" / "cache-key").stat().st_mode & 0o077 == 0  # the key is private


# 5. A damaged .lock.json falls back to a first build's rules ------------------------------------


def _tamper(raw: dict[str, Any], how: str) -> str:
    if how in ("10**30", "2**63-1", "-5"):
        raw["notes"][0][3] = eval(how)  # noqa: S307 (the three literals above)
    elif how == "model-mod-too-big":
        next(iter(raw["models"].values()))["mod"] = 2**63 - 1
    elif how == "model-mod-a-string":
        next(iter(raw["models"].values()))["mod"] = "5"
    elif how == "mod-a-bool":
        raw["notes"][0][3] = True
    elif how == "notes-an-object":
        raw["notes"] = {"a": 1}
    elif how == "models-a-list":
        raw["models"] = []
    elif how == "not-an-object":
        raw = [raw]  # type: ignore[assignment]
    if how == "deep-nesting":
        return "[" * 200_000 + "]" * 200_000
    return json.dumps(raw)


@pytest.mark.parametrize(
    "how",
    ["10**30", "2**63-1", "-5", "mod-a-bool", "model-mod-too-big", "model-mod-a-string", "notes-an-object",
     "models-a-list", "not-an-object", "deep-nesting"],
)
def test_a_hand_edited_state_is_reported_and_a_first_build_is_made(notes: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "deck.apkg"
    state = tmp_path / "deck.apkg.lock.json"
    first = _run("build", notes, "-o", out, "--no-cache", "-q")
    assert first.exit_code == 0, first.output
    first_mods = _deck_mods(out)
    state.write_text(_tamper(json.loads(state.read_text(encoding="utf-8")), how), encoding="utf-8")
    again = _run("build", notes, "-o", out, "--no-cache", "-q")
    assert again.exit_code == 0, again.output
    assert "Traceback" not in again.output
    assert "build state unreadable" in again.output and str(state) in again.output
    assert _deck_mods(out) == first_mods  # a first build's rules: each note dated by its file
    assert json.loads(state.read_text(encoding="utf-8"))["version"] == 2  # and a good state written


# 6. A failed write is one line naming the path, and changes nothing -----------------------------


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make a folder read-only: mode 0555, and for root (whom modes do not stop) creating a file
    in it refused as the kernel would refuse anyone else."""
    folders: list[Path] = []
    real_open = os.open

    def refusing(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if flags & os.O_CREAT and Path(path).parent in folders and not Path(path).exists():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def make(folder: Path) -> None:
        folder.chmod(0o555)
        folders.append(folder)

    monkeypatch.setattr(os, "open", refusing)
    yield make
    for folder in folders:
        folder.chmod(0o755)


def test_a_read_only_output_folder_is_one_line_naming_the_path(notes: Path, tmp_path: Path,
                                                               read_only: Callable[[Path], None]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    read_only(folder)
    result = _run("build", notes, "-o", folder / "deck.apkg", "--no-cache")
    _one_line_error(result, str(folder / "deck.apkg"), "Permission denied")
    assert list(folder.iterdir()) == []
    preview = _run("preview", notes, "-o", folder / "page.html")
    _one_line_error(preview, str(folder / "page.html"), "Permission denied")


def test_a_parent_that_is_a_file_is_one_line_naming_it(notes: Path, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a file, not a folder")
    for command in (["build", notes, "-o", tmp_path / "f.txt" / "sub" / "deck.apkg"],
                    ["preview", notes, "-o", tmp_path / "f.txt" / "page.html"]):
        result = _run(*command)
        _one_line_error(result, str(command[-1]), f"{tmp_path / 'f.txt'} is a file, not a folder")
    assert (tmp_path / "f.txt").read_text() == "a file, not a folder"


def test_a_full_disk_while_writing_the_state_keeps_deck_and_state(notes: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out" / "deck.apkg"
    assert _run("build", notes, "-o", out, "--no-cache", "-q").exit_code == 0
    before = _snapshot(out.parent)
    (notes / "l.md").write_text(NOTE + "- **Max timeout**: 15 minutes\n", encoding="utf-8")
    real_open = Path.open

    def full(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        if self.name.endswith(".lock.json.part"):
            def no_space(*_: Any) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")
            handle.write = no_space
        return handle

    monkeypatch.setattr(Path, "open", full)
    result = _run("build", notes, "-o", out, "--no-cache")
    _one_line_error(result, str(out.with_name("deck.apkg.lock.json")), "No space left on device")
    assert _snapshot(out.parent) == before  # the old deck, the old state, and no temporary file
    monkeypatch.undo()
    assert _run("build", notes, "-o", out, "--no-cache", "-q").exit_code == 0
    assert _snapshot(out.parent) != before


def test_a_killed_build_leaves_files_the_next_build_removes(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "deck.apkg"
    assert _run("build", notes, "-o", out, "--no-cache", "-q").exit_code == 0
    before = _snapshot(out.parent)
    (out.parent / "user.part").write_text("not ours")
    (out.parent / ".other.apkg.aws-anki-x1.apkg.part").write_text("another output's")
    # Killed at the moment the staged deck would be renamed into place: deck and state staged.
    script = (
        "import os, signal, sys\n"
        "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from aws_anki.cli import main\n"
        f"sys.argv = ['aws-anki', 'build', {str(notes)!r}, '-o', {str(out)!r}, '--no-cache', '-q']\n"
        "main()\n"
    )
    (notes / "l.md").write_text(NOTE + "- **Max timeout**: 15 minutes\n", encoding="utf-8")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    left = {p.name for p in out.parent.iterdir()} - set(before) - {"user.part", ".other.apkg.aws-anki-x1.apkg.part"}
    assert left and all(name.startswith(".deck.apkg.aws-anki") for name in left), left  # the staged files, the lock
    assert {k: v for k, v in _snapshot(out.parent).items() if k in before} == before  # the deck as it was
    assert _run("build", notes, "-o", out, "--no-cache", "-q").exit_code == 0
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        [*before, "user.part", ".other.apkg.aws-anki-x1.apkg.part"])  # ours removed, nothing else touched


def test_a_folder_in_place_of_the_state_keeps_the_deck(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "deck.apkg"
    assert _run("build", notes, "-o", out, "--no-cache", "-q").exit_code == 0
    state = tmp_path / "deck.apkg.lock.json"
    state.unlink()
    state.mkdir()
    (notes / "l.md").write_text(NOTE + "- **Max timeout**: 15 minutes\n", encoding="utf-8")
    before = out.read_bytes()
    result = _run("build", notes, "-o", out, "--no-cache", "-q")
    _one_line_error(result, str(state), "could not write the deck and its build state")
    assert out.read_bytes() == before and state.is_dir()  # both as they were: together or not at all
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deck.apkg", "deck.apkg.lock.json", "n"]


def test_sync_replaces_its_state_whole_or_not_at_all(notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anki")
    import shutil

    from aws_anki.deliver import collection_sync

    collection = tmp_path / "A" / "collection.anki2"
    collection.parent.mkdir()
    assert _run("sync", notes, "--collection", collection).exit_code == 0  # import only (no --user)
    state = collection_sync.sync_state_path(collection)
    before = state.read_bytes()
    (notes / "l.md").write_text(NOTE + "- **Max timeout**: 15 minutes\n", encoding="utf-8")
    real_copy = shutil.copyfile

    def full(source: Any, target: Any, **kwargs: Any) -> Any:
        if ".aws-anki.lock.json" in Path(target).name and Path(target).parent == collection.parent:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", full)
    _one_line_error(_run("sync", notes, "--collection", collection), str(state), "No space left on device")
    assert state.read_bytes() == before
    assert not [p.name for p in collection.parent.iterdir() if ".part" in p.name]

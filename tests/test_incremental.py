"""An incremental rebuild (only the changed files' notes made again) writes what a full build writes.

Each step changes the vault, then builds it twice from the same previous build state: with
`build_into` (incrementally when the checks allow it, see aws_anki.incremental) and in full, with no
cache, into another deck. The decks must be the same as Anki's importer sees them, the state files
byte for byte, the reports and changes the same; and the step must have taken the path it should.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aws_anki
from aws_anki.build import DeckBuild
from aws_anki.incremental import memo_path
from aws_anki.uptodate import record_path
from decks import importer_view

CLOCK = 1_800_000_000
FIXTURES = Path(__file__).parent / "fixtures" / "vault"

VAULT = {
    "analytics/athena.md": "# Amazon Athena\n\n- **Query engine**: serverless SQL over files in S3\n"
                           "- Athena charges **per terabyte scanned**.\n",
    "database/dynamodb.md": "# Amazon DynamoDB\n\n- **Item size limit**: 400 KB\n"
                            "- **Partition key**: decides which partition stores an item\n"
                            "- DynamoDB Streams keep changes for **24 hours**.\n\n"
                            "Q: Which index can be added after a table exists?\nA: A global secondary index\n",
    "storage/buckets.md": "# Amazon S3\n\n- **Limit**: 100 buckets per account by default\n",
    "storage/s3.md": "# Amazon S3\n\n- **Limit**: 5 TB per object\n- **Versioning**: keeps every version of an object\n",
    "zz/copy.md": "# AWS Lambda\n\n- **Maximum timeout**: 15 minutes\n",  # the same fact as in lambda.md
}


class Twin:
    """A vault, its deck built with `build_into`, and a full build from the same state after each step."""

    def __init__(self, root: Path, notes: Path | None = None, **options: Any) -> None:
        self.root = root
        self.vault = root / "vault"
        shutil.copytree(notes or FIXTURES, self.vault)
        for path in self.vault.rglob("*.md"):
            path.chmod(0o644)  # ../shared's notes are read-only
        for name, text in VAULT.items() if notes is None else ():
            self.write(name, text)
        self.out = root / "deck.apkg"
        self.cache = root / "cache"
        self.options = options
        self.step = 0
        aws_anki.build_into(self.out, [self.vault], cache_dir=self.cache, jobs=1, now=CLOCK, **options)

    def write(self, name: str, text: str) -> None:
        path = self.vault / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.vault / name
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def rebuild(self, *, incremental: bool, **options: Any) -> DeckBuild:
        """Build both ways and compare; `incremental`: whether `build_into` must have been incremental."""
        self.step += 1
        options = {**self.options, **options}
        now = CLOCK + 100 * self.step
        reference = self.root / f"reference-{self.step}" / "deck.apkg"
        reference.parent.mkdir()
        shutil.copy(self.out.with_name("deck.apkg.lock.json"), reference.with_name("deck.apkg.lock.json"))
        built = aws_anki.build_into(self.out, [self.vault], cache_dir=self.cache, jobs=1, now=now, **options)
        full = aws_anki.build_deck([self.vault], use_cache=False, jobs=1, **options)
        written = full.write(reference, now=now)

        assert not built.written.up_to_date
        assert self.out.with_name("deck.apkg.lock.json").read_bytes() == reference.with_name("deck.apkg.lock.json").read_bytes()
        where = self.root / f"views-{self.step}"
        assert importer_view(self.out, where / "a") == importer_view(reference, where / "b")
        assert _report(built.report) == _report(full.report)
        assert built.written.changes == written.changes
        assert (built.written.size > 0, built.written.media) == (True, written.media)
        assert built.result is not None and built.result.notes == full.notes  # made on demand when incremental
        assert built.report.incremental is incremental  # last: a wrong path must not hide a wrong deck
        return built


def _report(report: aws_anki.BuildReport) -> dict[str, Any]:
    data = report.as_dict()
    for name in ("seconds", "files_cached", "workers", "incremental"):
        del data[name]
    return data


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


def test_edits_inside_files_are_incremental(twin: Twin) -> None:
    steps: list[tuple[str, Callable[[], None]]] = [
        ("a definition changes", lambda: twin.edit("database/dynamodb.md", "400 KB", "400 KB (binary and UTF-8 together)")),
        ("a term is reworded (its note is carried over)",
         lambda: twin.edit("database/dynamodb.md", "**Partition key**", "**Partition keys**")),
        ("a fact is added to the first file", lambda: twin.edit("analytics/athena.md", "scanned**.\n",
                                                                 "scanned**.\n- **Workgroups**: separate query limits and costs\n")),
        ("a fact is deleted", lambda: twin.edit("database/dynamodb.md", "- DynamoDB Streams keep changes for **24 hours**.\n", "")),
        ("facts move down", lambda: twin.edit("database/dynamodb.md", "# Amazon DynamoDB\n", "# Amazon DynamoDB\n\nNo card here.\n")),
        ("a file is added", lambda: twin.write("compute/batch.md", "# AWS Batch\n\n- **Job queue**: where submitted jobs wait\n")),
        ("a file is removed", lambda: (twin.vault / "compute" / "batch.md").unlink()),
        ("a fact moves to another file", lambda: (
            twin.edit("analytics/athena.md", "- **Workgroups**: separate query limits and costs\n", ""),
            twin.edit("database/dynamodb.md", "400 KB", "400 KB\n- **Workgroups**: separate query limits and costs"),
        )),
    ]
    for what, change in steps:
        change()
        built = twin.rebuild(incremental=True)
        changes = built.written.changes
        if what.startswith("a term"):
            assert len(changes.carried_over) == 1, what
        if what == "a fact is added to the first file":
            assert len(changes.added) == 1 and not changes.updated, what


def test_changes_that_reach_other_files_redo_those_files_too(twin: Twin) -> None:
    steps: list[tuple[str, Callable[[], None]]] = [
        # lambda.md holds a fact zz/copy.md repeats: the two merge into one note.
        ("a file with a duplicate elsewhere", lambda: twin.edit("compute/lambda.md", "128 MB", "256 MB")),
        ("the duplicate goes away", lambda: twin.edit("zz/copy.md", "15 minutes", "900 seconds")),
        ("the duplicate is back", lambda: twin.edit("zz/copy.md", "900 seconds", "15 minutes")),
        ("a new duplicate of another file's fact",
         lambda: twin.edit("database/dynamodb.md", "400 KB\n", "400 KB\n- **Versioning**: keeps every version of an object\n")),
        # s3.md and buckets.md hold different facts of the same key: one of them gets a distinct GUID.
        ("a file whose key another file shares", lambda: twin.edit("storage/s3.md", "5 TB", "5 TiB")),
        ("the other file of a shared key is removed", lambda: (twin.vault / "storage" / "buckets.md").unlink()),
        ("and is back", lambda: twin.write("storage/buckets.md", VAULT["storage/buckets.md"])),
    ]
    for what, change in steps:
        change()
        built = twin.rebuild(incremental=True)
        if what == "the duplicate goes away":
            assert built.report.merged == 0 and len(built.written.changes.added) == 1, what


def test_an_image_of_an_unchanged_file_changing_builds_in_full(twin: Twin) -> None:
    (twin.vault / "attachments" / "lambda-flow.svg").unlink()  # lambda.md's image is gone
    twin.edit("analytics/athena.md", "per terabyte", "per TB")
    built = twin.rebuild(incremental=False)
    assert any(w.code == "missing-media" or "lambda-flow" in w.message for w in built.report.warnings)


def test_new_decks_or_note_types_build_in_full(tmp_path: Path) -> None:
    twin = Twin(tmp_path, deck_by="service")
    twin.edit("database/dynamodb.md", "400 KB", "400 KB per item")
    twin.rebuild(incremental=True)  # the same decks
    twin.write("compute/batch.md", "# AWS Batch\n\n- **Job queue**: where submitted jobs wait\n")
    twin.rebuild(incremental=False)  # a deck for AWS Batch: a new collection, as a full build writes
    twin.edit("compute/batch.md", "wait", "wait to run")
    twin.rebuild(incremental=True)


def test_other_options_or_a_lost_memo_build_in_full(twin: Twin) -> None:
    twin.edit("analytics/athena.md", "per terabyte", "per TB")
    twin.rebuild(incremental=False, file_tags=False)  # other note options: a new collection
    twin.edit("analytics/athena.md", "per TB", "per terabyte")
    twin.rebuild(incremental=True, file_tags=False)

    memo = memo_path(record_path(twin.cache, twin.out))
    for damage in (lambda: memo.write_bytes(memo.read_bytes()[:-10]),
                   lambda: memo.write_bytes(memo.read_bytes().replace(b"\n", b"\n ", 1)),
                   memo.unlink):
        damage()
        twin.edit("analytics/athena.md", "per terabyte", "per TB")
        twin.rebuild(incremental=False, file_tags=False)
        twin.edit("analytics/athena.md", "per TB", "per terabyte")
        twin.rebuild(incremental=True, file_tags=False)


def test_a_lost_cache_entry_builds_in_full(twin: Twin) -> None:
    shutil.rmtree(twin.cache / "notes-v3")  # the old notes of the file about to change are gone
    twin.edit("analytics/athena.md", "per terabyte", "per TB")
    twin.rebuild(incremental=False)


def test_many_changed_files_build_in_full(tmp_path: Path) -> None:
    twin = Twin(tmp_path)
    for number in range(12):
        twin.write(f"more/s{number:02}.md", f"# Amazon SQS\n\n## Part {number}\n\n- **Setting {number}**: value {number}\n")
    twin.rebuild(incremental=False)  # 12 of 19 files
    twin.edit("more/s03.md", "value 3", "value three")
    twin.rebuild(incremental=True)


def test_a_new_fact_under_a_name_whose_guid_was_carried_over(twin: Twin) -> None:
    twin.edit("database/dynamodb.md", "**Partition key**", "**Partition keys**")
    assert len(twin.rebuild(incremental=True).written.changes.carried_over) == 1
    # In the same file: both notes are the changed file's, planned together.
    twin.edit("database/dynamodb.md", "400 KB\n", "400 KB\n- **Partition key**: a new fact under the old name\n")
    assert len(twin.rebuild(incremental=True).written.changes.added) == 1
    # In another file: the GUID its name gives is held by a note of an unchanged file.
    twin.edit("database/dynamodb.md", "- **Partition key**: a new fact under the old name\n", "")
    twin.rebuild(incremental=True)
    twin.write("database/more.md", "# Amazon DynamoDB\n\n- **Partition key**: a new fact under the old name\n")
    assert len(twin.rebuild(incremental=False).written.changes.added) == 1


def test_a_mistake_in_the_incremental_path_costs_speed_not_the_build(twin: Twin, monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("aws_anki.incremental._splice", broken)
    twin.edit("analytics/athena.md", "per terabyte", "per TB")
    twin.rebuild(incremental=False)  # the same deck as a full build: nothing was written before the mistake
    assert "the incremental rebuild failed; building in full" in caplog.text
    monkeypatch.undo()
    twin.edit("analytics/athena.md", "per TB", "per terabyte")
    twin.rebuild(incremental=True)


def test_real_notes_edited_line_by_line(tmp_path: Path, real_notes: Path) -> None:
    """The learners' notes (../shared): edits in each file, with the duplicates and shared keys they hold."""
    twin = Twin(tmp_path, real_notes)
    for path in sorted(twin.vault.rglob("*.md")):
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        bullets = [i for i, line in enumerate(lines) if line.lstrip().startswith("- ") and len(line) > 30]
        for index in bullets[:: max(1, len(bullets) // 3)][:3]:  # three edits spread over the file
            lines[index] += " (edited)"
            path.write_text("\n".join(lines), encoding="utf-8")
            twin.rebuild(incremental=True)


def test_a_collection_another_build_updated_meanwhile_is_not_updated_again(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reading the kept collection's notes and locking it, another build into the same deck
    may have updated it: then it is not updated in place from notes that no longer describe it."""
    from aws_anki import package

    lock = package._lock_kept

    def racing(keep: Path) -> Any:
        handle = lock(keep)
        os.utime(keep, ns=(1, 1))  # the other build, just done
        return handle

    monkeypatch.setattr(package, "_lock_kept", racing)
    update = package._update_collection
    updated: list[int] = []
    monkeypatch.setattr(package, "_update_collection", lambda *a, **k: updated.append(1) or update(*a, **k))
    twin.edit("analytics/athena.md", "per terabyte", "per TB")
    twin.rebuild(incremental=False)
    assert updated == []  # a new collection was written instead

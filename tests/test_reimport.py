"""Rebuild and re-import into a real Anki collection: identity, updates in place, reviews kept.

Each scenario imports build 1, answers cards with Anki's scheduler, edits one note inside Anki
like a learner, changes the Markdown, imports build 2, and checks exactly what Anki did.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip("anki")

from anki.collection import Collection  # noqa: E402
from anki_harness import (  # noqa: E402
    ImportSummary,
    answer_due_cards,
    edit_note,
    import_apkg,
    note_by_guid,
    open_collection,
    revlog_count,
    schedule_snapshot,
)

import aws_anki  # noqa: E402
from aws_anki import models  # noqa: E402
from aws_anki.options import RunOptions

FIXTURES_VAULT = Path(__file__).parent / "fixtures" / "vault"

LAMBDA = """\
# AWS Lambda

## Limits

- **Maximum timeout**: 15 minutes
- **Memory**: from 128 MB up to 10,240 MB
- Deployment package (zipped, direct upload): **50 MB**

## Billing

- Duration is billed in **1 ms increments**.
- The free tier includes **one million requests** per month.
"""

SQS = """\
# Amazon SQS

- **Visibility timeout**: how long a received message stays hidden from other consumers
- Long polling waits up to **20 seconds** for a message.
"""


class Scenario:
    """A vault, its deck, and a real collection the learner has studied in."""

    def __init__(self, root: Path, col: Collection, writer: str = "write") -> None:
        self.vault = root / "vault"
        self.out = root / "deck.apkg"
        self.cache = root / "cache"
        self.col = col
        self.writer = writer  # "write": BuildResult.write; "build_into": the CLI's way (cache, up-to-date record)
        (self.vault / "compute").mkdir(parents=True)
        (self.vault / "integration").mkdir()
        self.write("compute/lambda.md", LAMBDA)
        self.write("integration/sqs.md", SQS)

    def write(self, name: str, text: str) -> None:
        (self.vault / name).write_text(text, encoding="utf-8")

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.vault / name
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new), encoding="utf-8")

    def build(self) -> aws_anki.WriteResult:
        return _build(self.writer, self.vault, self.out, self.cache)

    def import_(self) -> ImportSummary:
        return import_apkg(self.col, self.out)

    def guid_of(self, text: str) -> str:
        for note_id in self.col.find_notes(""):
            note = self.col.get_note(note_id)
            if text in note.fields[0]:
                return note.guid
        raise KeyError(text)

    def study(self) -> None:
        """Answer every new card once (Good), then the learner edits the SQS note in Anki."""
        assert answer_due_cards(self.col, 50) > 0
        edit_note(self.col, self.guid_of("Visibility timeout"), "Back", "LEARNER'S OWN WORDS")


def _build(writer: str, vault: Path, out: Path, cache: Path) -> aws_anki.WriteResult:
    """Build `vault` into `out` the `writer` way."""
    if writer == "write":
        return aws_anki.build_deck([vault]).write(out)
    return aws_anki.build_into(out, [vault], run=RunOptions(cache_dir=cache)).written


@pytest.fixture(params=["write", "build_into"])
def scenario(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
    """Each scenario twice: written by BuildResult.write, and by build_into (the CLI's way: per-file
    cache and up-to-date record).

    The builds read a fixed clock an hour ahead of the wall clock: the learner's edit in Anki
    (stamped with the wall clock) is always older than the rebuild, as when one rebuilds an hour
    later. A build that stamped unchanged notes "now" would then overwrite the edit every time,
    not only when the wall clock ticked over a second between the edit and the build."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(time.time()) + 3600))
    with open_collection(tmp_path / "anki") as col:
        scene = Scenario(tmp_path, col, request.param)
        scene.build()
        first = scene.import_()
        assert first.new == col.note_count() == 7
        scene.study()
        yield scene


def _learner_edit_survives(scene: Scenario) -> None:
    note = note_by_guid(scene.col, scene.guid_of("Visibility timeout"))
    assert note["Back"] == "LEARNER'S OWN WORDS"


def _check(scene: Scenario, change: Callable[[Scenario], None], *, updated: int, new: int = 0) -> aws_anki.WriteResult:
    notes_before = scene.col.note_count()
    schedule = schedule_snapshot(scene.col)
    reviews = revlog_count(scene.col)
    change(scene)
    written = scene.build()
    summary = scene.import_()
    assert (summary.new, summary.updated, summary.conflicting) == (new, updated, 0), summary
    assert scene.col.note_count() == notes_before + new
    after = schedule_snapshot(scene.col)
    for key, card in schedule.items():
        assert after[key] == card, key  # every reviewed card keeps its scheduling
    assert revlog_count(scene.col) == reviews
    return written


def test_same_notes_rebuilt_change_nothing(scenario: Scenario) -> None:
    written = _check(scenario, lambda s: None, updated=0)
    assert (len(written.changes.added), len(written.changes.updated), len(written.changes.removed)) == (0, 0, 0)
    _learner_edit_survives(scenario)


def test_edited_fact_updates_in_place(scenario: Scenario) -> None:
    guid = scenario.guid_of("Maximum timeout")
    note_id = note_by_guid(scenario.col, guid).id
    written = _check(scenario, lambda s: s.edit("compute/lambda.md", "15 minutes", "15 minutes (900 seconds)"), updated=1)
    note = note_by_guid(scenario.col, guid)
    assert note.id == note_id and note["Back"] == "15 minutes (900 seconds)"
    assert written.changes.updated == (guid,)
    _learner_edit_survives(scenario)


def test_typo_fixed_in_a_cloze_keeps_the_note(scenario: Scenario) -> None:
    guid = scenario.guid_of("free tier includes")
    _check(scenario, lambda s: s.edit("compute/lambda.md", "The free tier includes", "The free tier include"), updated=1)
    assert "free tier include " in note_by_guid(scenario.col, guid)["Text"]


@pytest.mark.parametrize(
    "move",
    [
        pytest.param(lambda s: s.edit("compute/lambda.md", "## Limits\n\n", "## Limits\n\nSome intro text.\n\n\n"), id="lines-inserted-above"),
        pytest.param(
            lambda s: s.edit(
                "compute/lambda.md",
                "- **Maximum timeout**: 15 minutes\n- **Memory**: from 128 MB up to 10,240 MB\n",
                "- **Memory**: from 128 MB up to 10,240 MB\n- **Maximum timeout**: 15 minutes\n",
            ),
            id="moved-within-section",
        ),
        pytest.param(lambda s: (s.vault / "compute/lambda.md").rename(s.vault / "compute/aws-lambda.md"), id="file-renamed"),
        pytest.param(
            lambda s: ((s.vault / "serverless").mkdir(), shutil.move(s.vault / "compute/lambda.md", s.vault / "serverless/lambda.md")),
            id="file-moved",
        ),
    ],
)
def test_location_is_not_content(scenario: Scenario, move: Callable[[Scenario], None], request: pytest.FixtureRequest) -> None:
    written = _check(scenario, move, updated=0)
    assert written.changes.added == () and written.changes.removed == ()
    _learner_edit_survives(scenario)


def test_renamed_heading_keeps_identity(scenario: Scenario) -> None:
    guid = scenario.guid_of("Maximum timeout")
    # Same facts under a renamed heading: same notes, updated (their context line changed).
    written = _check(scenario, lambda s: s.edit("compute/lambda.md", "## Limits", "## Quotas and limits"), updated=3)
    assert note_by_guid(scenario.col, guid)["Context"] == "AWS Lambda › Quotas and limits"
    assert written.changes.added == () and written.changes.removed == ()


def test_deleted_fact_is_reported_removed(scenario: Scenario) -> None:
    guid = scenario.guid_of("Long polling")
    written = _check(scenario, lambda s: s.edit("integration/sqs.md", "- Long polling waits up to **20 seconds** for a message.\n", ""), updated=0)
    assert [r.guid for r in written.changes.removed] == [guid]
    assert written.changes.removed[0].source == "integration/sqs.md:4"


def test_new_cloze_deletion_adds_a_card(scenario: Scenario) -> None:
    guid = scenario.guid_of("free tier includes")
    cards_before = scenario.col.card_count()
    _check(scenario, lambda s: s.edit("compute/lambda.md", "per month", "per **month**"), updated=1)
    assert scenario.col.card_count() == cards_before + 1
    assert {ord for (g, ord) in schedule_snapshot(scenario.col) if g == guid} == {0, 1}


def test_new_fact_is_added(scenario: Scenario) -> None:
    _check(scenario, lambda s: s.edit("integration/sqs.md", "# Amazon SQS\n", "# Amazon SQS\n\n- **Maximum message size**: 256 KiB\n"), updated=0, new=1)


def test_template_change_updates_note_type_in_place(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    notetypes = len(scenario.col.models.all_names_and_ids())
    marker = ".card { --aws-anki-changed: 1; }"
    assert marker not in scenario.col.models.get(models.BASIC_MODEL_ID)["css"]
    changed = dataclasses.replace(models.basic_type(), css=models.basic_type().css + "\n" + marker + "\n")
    monkeypatch.setattr("aws_anki.models.basic_type", lambda: changed)
    monkeypatch.setattr("aws_anki.package.basic_type", lambda: changed)
    assert not _check(scenario, lambda s: None, updated=0).up_to_date
    assert len(scenario.col.models.all_names_and_ids()) == notetypes
    scenario.col.models._clear_cache()
    assert marker in scenario.col.models.get(models.BASIC_MODEL_ID)["css"]


def test_colliding_keys_get_distinct_guids(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    # Same service, section and term in two files: the same key for two different facts.
    (vault / "objects.md").write_text("# Amazon S3\n\n- **Limit**: 5 TB per object\n")
    (vault / "buckets.md").write_text("# Amazon S3\n\n- **Limit**: 100 buckets per account by default\n")
    notes = aws_anki.build_deck([vault]).notes
    assert notes[0].identity.split("#")[0] == notes[1].identity.split("#")[0]
    assert len(notes) == 2 and len({n.guid for n in notes}) == 2
    again = aws_anki.build_deck([vault]).notes
    assert [n.guid for n in notes] == [n.guid for n in again]


def test_rebuild_is_reproducible(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "sqs.md").write_text(SQS)
    first, second = tmp_path / "a" / "deck.apkg", tmp_path / "b" / "deck.apkg"
    aws_anki.build_deck([vault]).write(first, now=1_800_000_000)
    (vault / "sqs.md").write_text(SQS.replace("20 seconds", "twenty seconds"))
    second.parent.mkdir()
    shutil.copy(first.with_name("deck.apkg.lock.json"), second.with_name("deck.apkg.lock.json"))
    aws_anki.build_deck([vault]).write(first, now=1_800_000_100)
    aws_anki.build_deck([vault]).write(second, now=1_800_000_100)
    contents = []
    for index, deck in enumerate((first, second)):
        with open_collection(tmp_path / f"col{index}") as col:
            import_apkg(col, deck)
            contents.append(sorted((n.guid, tuple(n.fields), tuple(n.tags), n.mod) for n in (col.get_note(i) for i in col.find_notes(""))))
    assert contents[0] == contents[1]


def test_corrupt_state_is_ignored_with_a_warning(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "sqs.md").write_text(SQS)
    out = tmp_path / "deck.apkg"
    aws_anki.build_deck([vault]).write(out)
    out.with_name("deck.apkg.lock.json").write_text("{ not json")
    written = aws_anki.build_deck([vault]).write(out)
    assert written.warnings and written.warnings[0].code == "state"
    assert len(written.changes.added) == 2  # nothing trusted from the corrupt file


def test_deleting_a_fact_never_moves_its_twin(tmp_path: Path) -> None:
    """An unchanged fact keeps its own note even when a very similar fact beside it is deleted."""
    vault = tmp_path / "v"
    vault.mkdir()
    text = "# Amazon SQS\n\n- Standard queues deliver **at least once**.\n- FIFO queues deliver **exactly once**.\n"
    (vault / "sqs.md").write_text(text)
    out = tmp_path / "deck.apkg"
    first = aws_anki.build_deck([vault])
    first.write(out)
    guid = {n.fields[0].split(" ")[0]: n.guid for n in first.notes}
    (vault / "sqs.md").write_text(text.replace("- Standard queues deliver **at least once**.\n", ""))
    written = aws_anki.build_deck([vault]).write(out)
    assert written.changes.unchanged == (guid["FIFO"],)
    assert [r.guid for r in written.changes.removed] == [guid["Standard"]]
    assert written.changes.added == () and written.changes.updated == ()


@pytest.mark.parametrize("writer", ["write", "build_into"])
def test_a_new_fact_under_a_carried_over_name_gets_its_own_note(tmp_path: Path, writer: str) -> None:
    """A fact renamed keeps its GUID; a new fact under the old name later must not take that GUID
    too (one deck would hold two notes with one GUID): it is a new note, and the renamed one keeps
    its reviews."""
    vault = tmp_path / "v"
    vault.mkdir()
    note = vault / "dynamodb.md"
    facts = "- **Partition key**: decides which partition stores an item\n- **Item size**: at most 400 KB\n"
    note.write_text("# Amazon DynamoDB\n\n" + facts)
    out = tmp_path / "deck.apkg"

    def build() -> aws_anki.WriteResult:
        return _build(writer, vault, out, tmp_path / "cache")

    with open_collection(tmp_path / "anki") as col:
        build()
        assert import_apkg(col, out).new == 2
        assert answer_due_cards(col, 10) > 0
        schedule = schedule_snapshot(col)
        note.write_text("# Amazon DynamoDB\n\n" + facts.replace("Partition key", "Partition keys"))
        assert len(build().changes.carried_over) == 1
        assert import_apkg(col, out).updated == 1
        note.write_text(note.read_text() + "- **Partition key**: a new fact under the old name\n")
        changes = build().changes
        assert len(changes.added) == 1 and not changes.updated
        summary = import_apkg(col, out)
        assert (summary.new, summary.updated, summary.conflicting) == (1, 0, 0), summary
        guids = [col.get_note(i).guid for i in col.find_notes("")]
        assert len(guids) == len(set(guids)) == 3
        after = schedule_snapshot(col)
        assert all(after[key] == card for key, card in schedule.items())  # the renamed fact kept its reviews
        note.write_text(note.read_text() + "\n")  # not up to date: planned again, the same
        again = build().changes
        assert (len(again.unchanged), again.added, again.updated) == (3, (), ())


# A fact's GUID is its place, not its position ---------------------------------------------------

# Headings that name no service of their own: the notes differ only by their section.
OBJECT_LOCK = "## Object Lock\n\n- **Retention**: how long a locked object version cannot be deleted\n"
LIFECYCLE = "## Lifecycle rules\n\n- **Retention**: how many days noncurrent versions are kept\n"


def test_a_notes_guid_depends_on_its_section(tmp_path: Path) -> None:
    """The same fact under another section is another note: its GUID hashes the section path."""
    guids = []
    for index, section in enumerate(("## Object Lock", "## Lifecycle rules")):
        vault = tmp_path / f"v{index}"
        vault.mkdir()
        (vault / "s3.md").write_text(f"# Amazon S3\n\n{section}\n\n- **Retention**: 30 days\n", encoding="utf-8")
        (note,) = aws_anki.build_deck([vault]).notes
        guids.append(note.guid)
    assert guids[0] != guids[1]


def _swap_sections(vault: Path) -> None:
    path = vault / "s3.md"
    text = path.read_text(encoding="utf-8")
    assert text == "# Amazon S3\n\n" + OBJECT_LOCK + "\n" + LIFECYCLE
    path.write_text("# Amazon S3\n\n" + LIFECYCLE + "\n" + OBJECT_LOCK, encoding="utf-8")


def _swap_files(vault: Path) -> None:
    # Same service, same term, two files: their keys collide. Renaming one reverses the order
    # the files are read in.
    names = sorted(p.name for p in vault.iterdir())
    assert names == ["s3-lifecycle.md", "s3-object-lock.md"]
    (vault / "s3-lifecycle.md").rename(vault / "z-s3-lifecycle.md")


_SECTIONS = {"s3.md": "# Amazon S3\n\n" + OBJECT_LOCK + "\n" + LIFECYCLE}
_FILES = {"s3-object-lock.md": "# Amazon S3\n\n" + OBJECT_LOCK.replace("## Object Lock\n\n", ""),
          "s3-lifecycle.md": "# Amazon S3\n\n" + LIFECYCLE.replace("## Lifecycle rules\n\n", "")}


@pytest.mark.parametrize("writer", ["write", "build_into"])
@pytest.mark.parametrize(
    ("files", "reorder", "state"),
    [
        pytest.param(_SECTIONS, _swap_sections, "kept", id="sections-swapped"),
        # the GUIDs come from the keys alone, and the section is in the key
        pytest.param(_SECTIONS, _swap_sections, "lost", id="sections-swapped-state-lost"),
        # the keys collide: the build state tells the facts apart by their content
        pytest.param(_FILES, _swap_files, "kept", id="files-swapped"),
    ],
)
def test_reordering_moves_no_review_between_facts(
    tmp_path: Path, writer: str, files: dict[str, str], reorder: Callable[[Path], None], state: str
) -> None:
    """Two facts that both define "Retention", studied differently in real Anki: after their
    sections (or files) trade places, each fact is still the note that holds its own reviews."""
    vault = tmp_path / "v"
    vault.mkdir()
    for name, text in files.items():
        (vault / name).write_text(text, encoding="utf-8")
    out = tmp_path / "deck.apkg"

    def facts(col: Collection) -> dict[str, tuple[str, int, object]]:
        """Each fact (its answer) -> its note's GUID, note id and the schedule of its one card."""
        schedule = schedule_snapshot(col)
        found = {}
        for note_id in col.find_notes(""):
            note = col.get_note(note_id)
            found[note["Back"]] = (note.guid, note.id, schedule[(note.guid, 0)])
        return found

    with open_collection(tmp_path / "anki") as col:
        _build(writer, vault, out, tmp_path / "cache")
        assert import_apkg(col, out).new == 2
        assert answer_due_cards(col, 1, ease=4) == answer_due_cards(col, 1, ease=1) == 1  # one Easy, one Again
        before = facts(col)
        assert len(before) == 2 and len({schedule for _, _, schedule in before.values()}) == 2
        reviews = revlog_count(col)

        reorder(vault)
        if state == "lost":
            # A first build's notes take their file's time: a minute later, so that Anki does
            # update them (in place, with what the GUID now names), whatever the wall clock says.
            out.with_name("deck.apkg.lock.json").unlink()
            for path in vault.iterdir():
                os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
        written = _build(writer, vault, out, tmp_path / "cache")
        summary = import_apkg(col, out)
        if state == "kept":
            assert (written.changes.added, written.changes.updated, written.changes.removed) == ((), (), ())
        assert (summary.new, summary.updated, summary.conflicting) == (0, 0 if state == "kept" else 2, 0), summary
        assert facts(col) == before
        assert revlog_count(col) == reviews


def test_deleting_one_of_two_colliding_facts_leaves_the_other_its_note(tmp_path: Path) -> None:
    """Keys that collide are numbered by reading order: when the first fact goes, the second
    (now first in order) must keep its own GUID, not take the deleted fact's note and reviews."""
    vault = tmp_path / "v"
    vault.mkdir()
    for name, text in _FILES.items():
        (vault / name).write_text(text, encoding="utf-8")
    out = tmp_path / "deck.apkg"
    first = aws_anki.build_deck([vault])
    first.write(out)
    by_file = {n.source.path: n.guid for n in first.notes}
    (vault / "s3-lifecycle.md").unlink()  # read first, so its key had no number
    written = aws_anki.build_deck([vault]).write(out)
    assert written.changes.unchanged == (by_file["s3-object-lock.md"],)
    assert [r.guid for r in written.changes.removed] == [by_file["s3-lifecycle.md"]]
    assert written.changes.added == () and written.changes.updated == ()


# Removed notes: named, and found in Anki ----------------------------------------------------------


def test_removed_notes_are_named_and_their_search_finds_them_in_anki(tmp_path: Path) -> None:
    """A fact deleted from the notes is reported by file:line and first field, with an Anki search
    that finds exactly its note in the collection (Anki has no search by GUID)."""
    vault = tmp_path / "v"
    (vault / "compute").mkdir(parents=True)
    (vault / "compute" / "lambda.md").write_text(LAMBDA, encoding="utf-8")
    out = tmp_path / "deck.apkg"
    with open_collection(tmp_path / "anki") as col:
        aws_anki.build_deck([vault]).write(out)
        import_apkg(col, out)
        by_guid = {col.get_note(i).guid: i for i in col.find_notes("")}
        (vault / "compute" / "lambda.md").write_text(
            LAMBDA.replace("- **Maximum timeout**: 15 minutes\n", "").replace("- Duration is billed in **1 ms increments**.\n", ""),
            encoding="utf-8")
        removed = aws_anki.build_deck([vault]).write(out).changes.removed
        assert sorted((r.source, r.name, r.note_type) for r in removed) == [
            ("compute/lambda.md:11", "Duration is billed in 1 ms increments.", "cloze"),
            ("compute/lambda.md:5", "Maximum timeout", "basic"),
        ]
        for note in removed:
            assert note.search is not None
            assert col.find_notes(note.search) == [by_guid[note.guid]], note.search
            assert str(note).startswith(f'{note.source} "{note.name}"; find it in Anki (Browse) with {note.search}')


@pytest.mark.parametrize("front", ['Payload <span class="ask">(sync)</span>', 'a\\b "c" * _ :: {{x}} % é', "Retention"])
def test_a_removed_notes_search_is_written_as_anki_writes_it(tmp_path: Path, front: str) -> None:
    from anki.collection import SearchNode

    from aws_anki.state import RemovedNote

    with open_collection(tmp_path / "anki") as col:
        aws_anki.build_deck([FIXTURES_VAULT]).write(tmp_path / "deck.apkg")
        import_apkg(col, tmp_path / "deck.apkg")  # brings the note types
        note = col.new_note(col.models.get(models.BASIC_MODEL_ID))
        note["Front"], note["Back"] = front, "back"
        col.add_note(note, col.decks.id("AWS"))
        search = RemovedNote("guid", "x.md:1", front, "basic").search
        anki = col.build_search_string(SearchNode(dupe=SearchNode.Dupe(notetype_id=models.BASIC_MODEL_ID, first_field=front)))
        assert search in (anki, f'"{anki}"')  # escaped as Anki escapes it; quoted even when Anki would not
        assert col.find_notes(search) == [note.id]

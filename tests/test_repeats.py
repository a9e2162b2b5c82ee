"""What repeats in one file (a line, a front, a key) is handled in one pass: the results are those
of comparing every pair, as the rules are written. (How fast is measured in benchmarks/bigfile.py.)"""
from __future__ import annotations

import random
from pathlib import Path

import aws_anki
from aws_anki.context import distinguishing_each, normalise
from aws_anki.guids import guid_for, numbered
from aws_anki.options import RunOptions


def _distinguishing(path: list[str], others: list[list[str]], front: str) -> str:
    """The rule as written: the deepest heading of `path` that no other path has (else the deepest
    one that is not the front itself)."""
    candidates = [h for h in reversed(path) if normalise(h) != front]
    for heading in candidates:
        if all(heading not in other for other in others):
            return heading
    return candidates[0] if candidates else ""


def test_distinguishing_each_is_distinguishing_against_every_other_path() -> None:
    rng = random.Random(20)
    headings = ["Lambda", "Pricing", "Limits", "S3", "Topic", "pricing"]
    for _ in range(300):
        paths = [[rng.choice(headings) for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(2, 6))]
        paths.append(list(paths[0]))  # an equal path is still another path
        front = rng.choice(["pricing", "limits", "x"])
        expected = [_distinguishing(p, [o for o in paths if o is not p], front) for p in paths]
        assert distinguishing_each(paths, front) == expected


def _note(tmp_path: Path, text: str) -> list[aws_anki.CardNote]:
    path = tmp_path / "rk.md"
    path.write_text(text)
    return list(aws_anki.build_deck([path], run=RunOptions(use_cache=False)).notes)


def test_repeated_lines_merge_and_repeated_keys_are_numbered_in_order(tmp_path: Path) -> None:
    answers = ["7 days", "9 days", "7 days", "10 days", "7 days", "9 days"]
    text = "# Keys\n\n" + "".join(f"## Topic\n\n- **Retention**: {answer}\n\n" for answer in answers)
    notes = _note(tmp_path, text)
    line = [5 + 4 * i for i in range(len(answers))]  # the line of each bullet
    assert [(n.fields[1], n.source.line, [s.line for s in n.merged_sources]) for n in notes] == [
        ("7 days", line[0], [line[2], line[4]]), ("9 days", line[1], [line[5]]), ("10 days", line[3], []),
    ]
    assert notes[0].fields[-2] == f"rk.md:{line[0]} (also rk.md:{line[2]}, rk.md:{line[4]})"
    key = notes[0].identity
    assert [n.identity for n in notes] == [key, numbered(key, 2), numbered(key, 3)]
    assert [n.guid for n in notes] == [guid_for(key), guid_for(numbered(key, 2)), guid_for(numbered(key, 3))]

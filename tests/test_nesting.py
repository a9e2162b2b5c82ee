"""Lists nested deeper than `MAX_NESTING` levels are flattened to that level, with one warning
naming the file and the first line moved; shallower lists are left exactly as written.
(How fast a deep list builds is measured in benchmarks/bigfile.py, never asserted here.)"""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aws_anki.cli import cli
from aws_anki.nesting import MAX_NESTING, flatten_deep_lists
from aws_anki.parse import parse_tokens


def _deep_list(levels: int, indent: str = "  ") -> str:
    return "# Deep\n\n" + "".join(f"{indent * i}- level {i} holds **item {i}**\n" for i in range(levels))


def _inspect(path: Path) -> tuple[list[dict[str, object]], str]:
    done = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    assert done.exit_code == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def _list_depth(tokens: list[dict[str, object]]) -> int:
    deepest = 0
    for token in tokens:
        children = token.get("children") or []
        assert isinstance(children, list)
        deepest = max(deepest, (token["type"] == "list") + _list_depth(children))
    return deepest


def test_items_past_the_cap_become_cards_at_the_cap_with_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    note = tmp_path / "deep.md"
    note.write_text(_deep_list(MAX_NESTING + 2))
    notes, stderr = _inspect(note)
    warnings = [line for line in stderr.splitlines() if "nested-too-deep" in line]
    # Line 3 holds level 0: the first level past the cap (level MAX_NESTING) is on line MAX_NESTING + 3.
    assert warnings == [
        f"warning: deep.md:{MAX_NESTING + 3}: list nested more than {MAX_NESTING} levels deep: from here on, "
        f"deeper items are kept at level {MAX_NESTING}, as siblings of the item there; indent less [nested-too-deep]"
    ]
    by_source = {n["source"]: n["fields"]["Text"] for n in notes}  # type: ignore[index]
    for level in (MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1):  # each its own card, at its own line
        assert by_source[f"deep.md:{level + 3}"] == f"level {level} holds {{{{c1::<b>item {level}</b>}}}}"


def test_a_list_at_the_cap_is_left_as_written_without_warning(tmp_path: Path) -> None:
    text = _deep_list(MAX_NESTING)
    assert flatten_deep_lists(text) is text
    assert _list_depth(parse_tokens(text)) == MAX_NESTING
    note = tmp_path / "deep.md"
    note.write_text(text)
    notes, stderr = _inspect(note)
    assert "nested-too-deep" not in stderr and len(notes) == MAX_NESTING


def test_flattening_keeps_lines_and_moves_continuation_lines_and_code_with_their_item() -> None:
    deep = "  " * (MAX_NESTING + 2)  # the indentation of the last item, 22 levels deep
    text = _deep_list(MAX_NESTING + 3) + f"{deep}  more about item {MAX_NESTING + 2}\n{deep}  ```\n{deep}  code\n{deep}  ```\nafter\n"
    flat = flatten_deep_lists(text)
    assert flat.count("\n") == text.count("\n")
    level = "  " * (MAX_NESTING - 1)
    assert flat.splitlines()[-6:] == [
        f"{level}- level {MAX_NESTING + 2} holds **item {MAX_NESTING + 2}**",
        f"{level}  more about item {MAX_NESTING + 2}", f"{level}  ```", f"{level}  code", f"{level}  ```",
        "after",
    ]


def test_tabs_and_numbered_items_count_by_columns() -> None:
    numbered = "".join(f"{'   ' * i}1. item {i}\n" for i in range(MAX_NESTING + 1))
    tabbed = "".join(f"{chr(9) * i}- item {i}\n" for i in range(MAX_NESTING + 1))
    for text in (numbered, tabbed):
        assert _list_depth(parse_tokens(text)) == MAX_NESTING
        assert flatten_deep_lists(text) != text


def test_a_very_deep_list_is_parsed_without_recursing_through_every_level() -> None:
    tokens = parse_tokens(_deep_list(3_000))
    assert _list_depth(tokens) == MAX_NESTING

"""Inputs that used to break a build or get lost (issue 20, items 7-14, 19, 21), met through the CLI
as a user meets them: each bad file or line is warned about by file and line, and never costs the
rest of the deck."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aws_anki.cli import cli

DEFINITION = "# AWS Lambda\n\n- **Maximum memory**: 10 GB\n"


def inspect(*args: str) -> tuple[list[dict[str, Any]], str]:
    """The notes `aws-anki inspect ARGS --json` prints, and what it says on stderr."""
    result = CliRunner().invoke(cli, ["inspect", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return [json.loads(line) for line in result.stdout.split("\n") if line], result.stderr


def texts(notes: list[dict[str, Any]]) -> list[str]:
    """The first field of each note."""
    return [next(iter(note["fields"].values())) for note in notes]


def write(folder: Path, name: str | bytes, text: str | bytes) -> Path:
    """Write a note (a `bytes` name is a file name that need not be valid UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name))) if isinstance(name, bytes) else folder / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


# 7. A file name that is not valid UTF-8 --------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="Windows file names are always Unicode")
def test_a_file_name_that_is_not_utf8_is_built_and_named_in_a_warning(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    try:
        write(notes, b"bad\xffname.md", DEFINITION)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    write(notes, "good.md", "# Amazon S3\n\n- **Maximum object size**: 5 TB\n")
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(cli, ["build", str(notes), "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.is_file()
    assert "bad\\xffname.md: file name is not valid UTF-8" in result.stderr
    notes_made, _ = inspect(str(notes))
    assert {n["source"] for n in notes_made} == {"bad\\xffname.md:3", "good.md:3"}
    for note in notes_made:
        json.dumps(note, ensure_ascii=False).encode("utf-8")  # no lone surrogate left anywhere


# 8. Cloze syntax inside marked spans and an author's own clozes ---------------------------------


def anki_clozes(text: str) -> list[tuple[int, str]]:
    """(number, hidden text) of each deletion as Anki reads a field: a deletion ends at the first
    `}}` and its text at the first `::` (nested ones aside, which these tests do not write)."""
    return [(int(n), body.split("::", 1)[0]) for n, body in re.findall(r"\{\{c(\d+)::(.*?)\}\}", text)]


def test_closing_braces_inside_bold_or_highlight_stay_inside_the_deletion(tmp_path: Path) -> None:
    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\n\n## Limits\n\n"
          "- The handler template ends in **a}}}b** for functions\n"
          "- The highlight ==x}}}}y== marks a template\n")
    notes, _ = inspect(str(tmp_path / "notes"))
    bold, mark = texts(notes)
    assert anki_clozes(bold) == [(1, "<b>a&#125;&#125;}b</b>")], bold
    assert bold.endswith("}} for functions")
    assert anki_clozes(mark) == [(1, "<mark>x&#125;&#125;&#125;}y</mark>")], mark


def test_an_authors_nested_cloze_keeps_the_outer_deletion_and_says_so(tmp_path: Path) -> None:
    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\n\n## Limits\n\n"
          "- Functions may run for {{c1::{{c2::15}} minutes}} at most\n")
    notes, stderr = inspect(str(tmp_path / "notes"))
    assert texts(notes) == ["Functions may run for {{c1::15 minutes}} at most"]
    assert notes[0]["cards"] == 1
    assert "lambda.md:5: cloze deletion {{c2:: inside {{c1::" in stderr


def test_an_empty_author_cloze_makes_no_card_and_is_warned_about(tmp_path: Path) -> None:
    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\n\n## Limits\n\n"
          "- Functions may use {{c1::}} of memory\n"
          "- Functions may use {{c1:: }} {{c2::10 GB}} of memory\n"
          "\n"
          "The syntax `{{c1::}}` and `{{c1::{{c2::x}}}}` shown as code is fine.\n")
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "notes"), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any(w.startswith("lambda.md:5: empty cloze deletion {{c1::}}") for w in report["warnings"]), report["warnings"]
    assert [w.split(":")[1] for w in report["warnings"]] == ["5", "6"]  # not the code on line 8
    notes, _ = inspect(str(tmp_path / "notes"))
    assert all(anki_clozes(text) and all(body.strip() for _, body in anki_clozes(text)) for text in texts(notes))
    assert texts(notes) == ["Functions may use  {{c2::10 GB}} of memory"]  # the author's number kept
    assert report["cards"] == sum(n["cards"] for n in notes) == len(notes)



def test_real_anki_shows_every_cloze_card_the_report_counts(tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\n\n## Limits\n\n"
          "- The handler template ends in **a}}}b** for functions\n"
          "- Functions may run for {{c1::{{c2::15}} minutes}} at most\n"
          "- Functions may use {{c1::}} of memory\n"
          "- Functions may use {{c1:: }} {{c2::10 GB}} of memory\n"
          "- Entities R&amp;D &lt;5% and [sound:x.mp3] in **R&amp;D**\n")
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "notes"), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        cards = rendered_cards(col)
    assert len(cards) == json.loads(result.stdout)["cards"] == 4
    answers = sorted(card.answer_text for card in cards)  # context, text, source
    for answer, text in zip(answers, ["Entities R&D <5% and [sound:x.mp3] in R&D", "Functions may run for 15 minutes at most",
                                      "Functions may use 10 GB of memory", "The handler template ends in a}}}b for functions"]):
        # Spaces aside: which words become the blank (and so where a <span> starts) is the extractor's choice.
        assert f"Limits {text} lambda.md:".replace(" ", "") in answer.replace(" ", ""), answer
    assert all("[...]" in card.question_text for card in cards)

# 9. HTML entities the author wrote --------------------------------------------------------------


def test_entities_the_author_wrote_show_as_their_characters(tmp_path: Path) -> None:
    write(tmp_path / "notes", "s3.md", "# Amazon S3\n\n## R&amp;D\n\n"
          "- **R&amp;D buckets**: cost &lt;5% of the budget &#8211; &copy; AWS\n"
          "- **Code**: `R&amp;D` stays as written in code\n"
          "- **Not an entity**: AT&T and &nosuchentity; and &lt without a semicolon\n")
    notes, _ = inspect(str(tmp_path / "notes"))
    fields = {n["fields"]["Front"]: n["fields"]["Back"] for n in notes}
    assert fields["R&amp;D buckets"] == "cost &lt;5% of the budget – © AWS"
    assert fields["Code"] == "<code>R&amp;amp;D</code> stays as written in code"
    assert fields["Not an entity"] == "AT&amp;T and &amp;nosuchentity; and &amp;lt without a semicolon"
    assert notes[0]["fields"]["Context"] == "Amazon S3 › R&amp;D"


# 10. A list item written `- - text` ---------------------------------------------------------------


def test_a_doubled_bullet_keeps_its_item_and_the_lines_after_it(tmp_path: Path) -> None:
    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\n\n## Limits\n\n"
          "- **Memory**: 10 GB\n"
          "- - **Timeout**: 15 minutes\n"
          "- 1. - **Layers**: 5 per function\n"
          "- **Payload**: 6 MB\n"
          "\n"
          "- **Ephemeral storage**: 10 GB\n")
    notes, _ = inspect(str(tmp_path / "notes"))
    sources = {n["fields"]["Front"]: n["source"] for n in notes if n["kind"] == "definition"}
    assert sources == {"Memory": "lambda.md:5", "Timeout": "lambda.md:6", "Layers": "lambda.md:7",
                       "Payload": "lambda.md:8", "Ephemeral storage": "lambda.md:10"}


# 11. Stray NUL bytes, and 13. control characters in text --------------------------------------------


def test_a_stray_nul_byte_is_removed_with_a_warning_not_the_whole_file(tmp_path: Path) -> None:
    facts = "".join(f"- **Limit {n}**: {n} GB\n" for n in range(1, 52))
    write(tmp_path / "notes", "lambda.md", ("# AWS Lambda\n\n" + facts).replace("Limit 7**", "Limit 7\0**").encode())
    notes, stderr = inspect(str(tmp_path / "notes"))
    assert len([n for n in notes if n["kind"] == "definition"]) == 51
    assert "Limit 7" in texts(notes)
    assert "lambda.md:9: removed control characters (NUL) at line 9" in stderr


def test_control_characters_never_reach_a_card(tmp_path: Path) -> None:
    write(tmp_path / "notes", "lambda.md", "# AWS Lambda\x1b[31m\n\n"
          "- **Memory\x07**: 10 GB \x1b]0;owned\x07 per function\x1b[0m\n"
          "- **Timeout**: 15\tminutes\x0c\x7f\x85\n")
    notes, stderr = inspect(str(tmp_path / "notes"))
    assert [n["fields"]["Front"] for n in notes] == ["Memory", "Timeout"]
    for note in notes:
        for value in (*note["fields"].values(), note["context"]):
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", value), value
    assert notes[0]["fields"]["Back"] == "10 GB  per function"  # whole terminal escape sequences go
    assert notes[0]["context"] == "AWS Lambda"
    assert "lambda.md:1: removed control characters (ESC, BEL, form feed, DEL, C1) at lines 1, 3, 4" in stderr


def test_a_real_binary_file_is_still_skipped(tmp_path: Path) -> None:
    write(tmp_path / "notes", "image.md", bytes(range(256)) * 8)
    write(tmp_path / "notes", "good.md", DEFINITION)
    notes, stderr = inspect(str(tmp_path / "notes"))
    assert texts(notes) == ["Maximum memory"]
    assert "image.md: looks like a binary file" in stderr


# 13. Terminal escapes in file names, Anki's own markup in notes -----------------------------------


@pytest.mark.skipif(os.name == "nt", reason="Windows file names cannot hold control characters")
def test_terminal_escapes_in_a_file_name_are_shown_escaped(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes, "evil\x1b[2J\x07.md", "# AWS Lambda\n\n- **Memory**: 10 GB\n![](missing.png)\n")
    result = CliRunner().invoke(cli, ["build", str(notes), "-o", str(tmp_path / "deck.apkg")])
    assert result.exit_code == 0, result.output
    assert "evil\\x1b[2J\\x07.md:3: image 'missing.png' not found" in result.stderr
    assert "evil\\x1b[2J\\x07.md: file name holds control characters" in result.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.output)
    made, _ = inspect(str(notes))
    assert made[0]["fields"]["Source"] == "evil\\x1b[2J\\x07.md:3"
    missing = CliRunner().invoke(cli, ["build", str(notes / "gone\x1b[2J.md")])
    assert missing.exit_code != 0 and "\x1b" not in missing.output


def test_ankis_own_markup_in_notes_is_shown_not_played_or_rendered(tmp_path: Path) -> None:
    write(tmp_path / "notes", "[sound:name].md", "# AWS Lambda\n\n## Play [sound:heading.mp3]\n\n"
          "- **Alarm [sound:alarm.mp3]**: plays [SOUND:x.mp3] and [anki:tts lang=en_US]hi[/anki:tts]\n"
          "- **Formula**: [latex]\\input{/etc/passwd}[/latex], [$]x[/$] and [$$]y[/$$]\n"
          "- **Alert**: rings [sound:c.mp3] once per event\n")
    notes, _ = inspect(str(tmp_path / "notes"))
    markup = re.compile(r"\[(?:sound:|/?anki:|/?latex\]|/?\$\$?\])", re.I)
    for note in notes:
        for value in note["fields"].values():
            assert not markup.search(value), value
    backs = {n["fields"]["Front"]: n["fields"]["Back"] for n in notes if n["kind"] == "definition"}
    assert backs == {
        "Alarm &#91;sound:alarm.mp3]": "plays &#91;SOUND:x.mp3] and &#91;anki:tts lang=en_US]hi&#91;/anki:tts]",
        "Formula": "&#91;latex]\\input{/etc/passwd}&#91;/latex], &#91;$]x&#91;/$] and &#91;$$]y&#91;/$$]",
        "Alert": "rings &#91;sound:c.mp3] once per event",
    }
    assert notes[0]["fields"]["Context"] == "AWS Lambda › Play &#91;sound:heading.mp3]"
    assert notes[0]["fields"]["Source"] == "&#91;sound:name].md:5"


# 12. Symbolic links: what resolves inside the notes root the user named ------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082")


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_symlinks_are_followed_only_where_they_resolve_inside_the_notes_root(tmp_path: Path) -> None:
    notes, outside = tmp_path / "notes", tmp_path / "outside"
    write(outside, "config.md", "# Settings\n\n- **Database password**: hunter2\n")
    write(outside / "vault", "ec2.md", "# Amazon EC2\n\n- **Max tags**: 50\n![](diagram.png)\n")
    (outside / "vault" / "diagram.png").write_bytes(PNG)
    write(notes / "real", "s3.md", "# Amazon S3\n\n- **Max object size**: 5 TB\n![](chart.png)\n")
    (notes / "real" / "chart.png").write_bytes(PNG)
    (notes / "secret.md").symlink_to(outside / "config.md")
    (notes / "linked").symlink_to(outside / "vault", target_is_directory=True)
    (notes / "alias").symlink_to(notes / "real", target_is_directory=True)  # inside: same files, read once
    (notes / "s3-again.md").symlink_to(notes / "real" / "s3.md")
    result = CliRunner().invoke(cli, ["build", str(notes), "-o", str(tmp_path / "deck.apkg"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"] == 1 and report["notes"] == 1
    outside_root = sorted(w.split(":")[0] for w in report["warnings"] if w.endswith("[outside-root]"))
    assert outside_root == ["linked", "secret.md"], report["warnings"]
    assert all("hunter2" not in w for w in report["warnings"])
    made, _ = inspect(str(notes))
    assert [n["fields"]["Front"] for n in made] == ["Max object size"]
    assert "<img" in made[0]["fields"]["Extra"] + made[0]["fields"]["Back"]  # the image beside it is packaged
    # A file or folder the user names is read where it is: the root is what was named.
    named, _ = inspect(str(notes / "secret.md"), str(notes / "linked"))
    assert sorted(n["fields"]["Front"] for n in named) == ["Database password", "Max tags"]
    assert any("<img" in n["fields"]["Back"] + n["fields"]["Extra"] for n in named)


# 14. Mojibake repair only where the text clearly is mojibake -------------------------------------------


def test_quoted_mojibake_is_left_alone_and_repairs_are_named(tmp_path: Path) -> None:
    quoting = ("# Amazon S3\n\n"
               "- **Mojibake**: `CafÃ©` is how Café looks when UTF-8 is read as Latin-1\n"
               "- **Encoding sign**: the text \"Ã©\" stands for é read as Windows-1252\n"
               "- **Key names**: keys are stored as UTF-8 â€“ no conversion\n")
    write(tmp_path / "notes", "s3.md", quoting)
    notes, stderr = inspect(str(tmp_path / "notes"))
    backs = {n["fields"]["Front"]: n["fields"]["Back"] for n in notes}
    assert backs["Mojibake"] == "<code>CafÃ©</code> is how Café looks when UTF-8 is read as Latin-1"
    assert backs["Encoding sign"] == "the text \"Ã©\" stands for é read as Windows-1252"
    assert backs["Key names"] == "keys are stored as UTF-8 – no conversion"
    assert "s3.md:5: repaired mis-decoded characters on 1 line: line 5 'â€“' → '–'" in stderr


def test_a_wholly_mis_decoded_file_is_repaired_throughout(tmp_path: Path) -> None:
    write(tmp_path / "notes", "s3.md", "# Amazon S3\n\n"
          "- **CafÃ© bucket**: holds rÃ©sumÃ©s\n"
          "- **Name**: it is called \"CafÃ©\" â€“ in quotes\n")
    notes, stderr = inspect(str(tmp_path / "notes"))
    assert {n["fields"]["Front"]: n["fields"]["Back"] for n in notes} == {
        "Café bucket": "holds résumés", "Name": "it is called \"Café\" – in quotes"}
    assert "repaired mis-decoded characters on 2 lines: line 3 'CafÃ©' → 'Café', line 4" in stderr


# 19. Leaving files out: --exclude and .aws-anki-ignore ------------------------------------------------


@pytest.fixture
def with_drafts(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    write(notes, "lambda.md", DEFINITION)
    write(notes, ".aws-anki-ignore", "# not for the deck\ndrafts/\n*.private.md\n!keep.private.md\n")
    write(notes / "drafts", "wip.md", "# Amazon S3\n\n- **Draft**: not yet\n")
    write(notes / "sub" / "drafts", "deep.md", "# Amazon S3\n\n- **Deep draft**: not yet\n")
    write(notes, "me.private.md", "# Amazon S3\n\n- **Private**: mine\n")
    write(notes, "keep.private.md", "# Amazon S3\n\n- **Kept**: negated in the ignore file\n")
    write(notes / "archive" / "2023", "old.md", "# Amazon S3\n\n- **Old**: archived\n")
    write(notes, "scratch.tmp.md", "# Amazon S3\n\n- **Scratch**: temporary\n")
    return notes


def test_exclude_and_the_ignore_file_leave_files_out_and_inspect_lists_them(with_drafts: Path) -> None:
    notes, stderr = inspect(str(with_drafts), "--exclude", "archive/", "--exclude", "*.tmp.md")
    assert sorted(n["fields"]["Front"] for n in notes) == ["Kept", "Maximum memory"]
    excluded = [line for line in stderr.splitlines() if line.startswith("excluded: ")]
    assert excluded == ["excluded: archive/", "excluded: drafts/", "excluded: me.private.md",
                        "excluded: scratch.tmp.md", "excluded: sub/drafts/"]
    everything = CliRunner().invoke(cli, ["inspect", str(with_drafts), "--exclude", "*.md"])
    assert everything.exit_code == 1
    assert "no Markdown files (.md) found in " in everything.output
    assert "(7 excluded by --exclude or .aws-anki-ignore)" in everything.output


def test_build_and_preview_take_exclude_too(with_drafts: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(with_drafts), "-o", str(tmp_path / "deck.apkg"), "--json",
                                      "--exclude", "archive", "--exclude", "scratch.tmp.md"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == 2
    preview = CliRunner().invoke(cli, ["preview", str(with_drafts), "-o", str(tmp_path / "p.html"), "--exclude", "*.md"])
    assert preview.exit_code != 0 and "no Markdown files" in preview.output and "excluded" in preview.output


def test_a_bad_pattern_is_a_clear_error_or_warning(with_drafts: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(with_drafts), "--exclude", "drafts\\"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # an error, not a crash
    assert "--exclude 'drafts\\\\': not a valid pattern" in result.output
    (with_drafts / ".aws-anki-ignore").write_text("drafts/\n!\n*.private.md\n")
    notes, stderr = inspect(str(with_drafts))
    assert ".aws-anki-ignore:2: '!' is not a valid pattern" in stderr
    assert "Private" not in texts(notes) and "Draft" not in texts(notes)  # the other lines still apply


# 21. File tags for file names that repeat ------------------------------------------------------------


def test_file_tags_use_the_path_below_the_root_for_names_that_repeat(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "compute" / "lambda", "README.md", DEFINITION)
    write(notes / "storage" / "s3", "readme.md", "# Amazon S3\n\n- **Maximum object size**: 5 TB\n")
    write(notes / "storage", "efs.md", "# Amazon EFS\n\n- **Maximum file size**: 47.9 TiB\n")
    made, _ = inspect(str(notes))
    file_tags = {n["source"].split(":")[0]: [t for t in n["tags"] if t.startswith("file::")] for n in made}
    assert file_tags == {"compute/lambda/README.md": ["file::compute/lambda/README"],
                         "storage/s3/readme.md": ["file::storage/s3/readme"],
                         "storage/efs.md": ["file::efs"]}
    alone, _ = inspect(str(notes / "compute"))
    assert [t for t in alone[0]["tags"] if t.startswith("file::")] == ["file::README"]

"""Rich content end to end: images, code, tables, links, lists, emphasis, math and cloze syntax,
checked on the fields `build_deck` makes from tests/fixtures/rich/notes, and (media, cloze) on the
cards real Anki renders after importing the package."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

import aws_anki
from aws_anki.cardtext import visible_text
from aws_anki.notes import CardNote
from aws_anki.parse import parse_tokens
from aws_anki.cloze import CLOZE_CLOSE, CLOZE_HINT, cloze_open, finish_cloze
from aws_anki.render import CODE_BACKGROUND, CODE_FOREGROUND, code_html, sanitize
from aws_anki.options import DeckOptions, RunOptions

NOTES = Path(__file__).parent / "fixtures" / "rich" / "notes"
STYLE_CSS = Path(__file__).resolve().parents[1] / "templates" / "style.css"


@pytest.fixture(scope="module")
def rich() -> aws_anki.BuildResult:
    return aws_anki.build_deck([NOTES], DeckOptions(attachments=("files",)), RunOptions(use_cache=False))


def note(result: aws_anki.BuildResult, front: str) -> CardNote:
    """The note whose first field reads `front` (as plain text)."""
    found = [n for n in result.notes if visible_text(n.fields[0]) == front]
    assert len(found) == 1, [visible_text(n.fields[0]) for n in result.notes]
    return found[0]


def code_text(field: str) -> str:
    """The text of highlighted code, as the learner reads it."""
    return html.unescape(re.sub(r"<[^>]+>", "", field))


def prompt_text(card_html: str) -> str:
    """Visible text of a rendered card's prompt (not its context line or source)."""
    from anki_harness import html_to_text
    from bs4 import BeautifulSoup

    return html_to_text(str(BeautifulSoup(card_html, "html.parser").select_one(".prompt")))


def media_path(result: aws_anki.BuildResult, field: str) -> Path:
    (name,) = re.findall(r'<img src="([^"]+)"', field)
    return result.media_files[name]


# Images ----------------------------------------------------------------------------------------


def test_obsidian_embed_with_spaces_comes_from_the_attachments_folder(rich: aws_anki.BuildResult) -> None:
    back = note(rich, "Console screenshot").field("Back")
    assert re.search(r'<img src="Pasted_image_2024-[0-9a-f]{10}\.png" alt="Pasted image 2024.png">', back)
    assert media_path(rich, back) == (NOTES / "attachments" / "Pasted image 2024.png").resolve()


def test_obsidian_embed_width(rich: aws_anki.BuildResult) -> None:
    back = note(rich, "Object layout").field("Back")
    assert 'width="300"' in back
    assert media_path(rich, back) == (NOTES / "storage" / "x.png").resolve()


def test_markdown_image_relative_to_the_note_with_percent_and_angle_brackets(rich: aws_anki.BuildResult) -> None:
    encoded = note(rich, "Bucket layout").field("Back")
    bracketed = note(rich, "Layout, angle brackets").field("Back")
    assert 'alt="how a bucket is laid out"' in encoded and 'alt="bucket layout again"' in bracketed
    assert media_path(rich, encoded) == media_path(rich, bracketed) == (NOTES / "storage" / "images" / "bucket layout.png").resolve()


def test_raw_html_img_is_resolved(rich: aws_anki.BuildResult) -> None:
    back = note(rich, "Storage diagram").field("Back")
    assert 'alt="storage diagram"' in back
    assert media_path(rich, back) == (NOTES / "storage" / "diagram.png").resolve()


def test_remote_images_stay_links(rich: aws_anki.BuildResult) -> None:
    assert note(rich, "Remote picture").field("Back").endswith('<a href="https://example.com/logo.png">AWS logo</a>')
    assert note(rich, "Remote raw picture").field("Back").endswith('<a href="https://example.com/raw.png">raw logo</a>')
    assert not [n for n in rich.notes if re.search(r"<img[^>]+src=\"(?:https?:)?//", "".join(n.fields))]


def test_missing_images_warn_with_file_and_line_and_leave_no_trace_on_the_card(rich: aws_anki.BuildResult) -> None:
    missing = {str(w) for w in rich.report.warnings if w.code == "missing-image"}
    assert len(missing) == 2
    assert any(w.startswith("storage/s3.md:18: ") and "missing-chart.png" in w for w in missing)
    assert any(w.startswith("storage/s3.md:20: ") and "forgotten.png" in w for w in missing)
    chart = note(rich, "Missing picture").field("Back")
    embed = note(rich, "Missing embed").field("Back")
    for back in (chart, embed):  # neither a broken image nor its file name in its place
        assert "<img" not in back and "[image" not in back and "missing" not in back and back.strip(), back


def test_lookup_order_note_folder_root_then_attachments(rich: aws_anki.BuildResult) -> None:
    assert media_path(rich, note(rich, "Order").field("Back")) == (NOTES / "storage" / "order.png").resolve()
    assert media_path(rich, note(rich, "Root only").field("Back")) == (NOTES / "root-only.png").resolve()
    # attachments="files" is searched before the default attachments/ folder.
    assert media_path(rich, note(rich, "Lifecycle picture").field("Back")) == (NOTES / "files" / "lifecycle.png").resolve()


@pytest.mark.parametrize("extension", ["png", "jpg", "jpeg", "gif", "svg", "webp"])
def test_every_image_format_is_packaged(rich: aws_anki.BuildResult, extension: str) -> None:
    back = note(rich, extension.upper()).field("Back")
    assert media_path(rich, back) == (NOTES / "attachments" / "formats" / f"tiny.{extension}").resolve()
    assert re.search(rf'src="tiny-[0-9a-f]{{10}}\.{extension}"', back)


def test_same_file_name_in_two_folders_reaches_anki_as_two_files(rich: aws_anki.BuildResult, tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    storage = media_path(rich, note(rich, "Storage diagram").field("Back"))
    networking = media_path(rich, note(rich, "Subnet layout").field("Back"))
    assert storage.name == networking.name == "diagram.png" and storage != networking
    out = tmp_path / "rich.apkg"
    rich.write(out, use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        folder = Path(col.media.dir())
        for name, source in rich.media_files.items():
            assert (folder / name).read_bytes() == source.read_bytes(), name
        diagrams = sorted(p.name for p in folder.iterdir() if p.name.startswith("diagram-"))
        assert len(diagrams) == 2
        shown = [c for c in rendered_cards(col) if "Subnet layout" in c.question_text or "Storage diagram" in c.question_text]
        srcs = {src for c in shown for src in re.findall(r'<img src="([^"]+)"', c.answer_html)}
        assert srcs == set(diagrams)


@pytest.mark.parametrize(
    ("markdown", "rendered"),
    [
        ("![[x.png|300x200]]", '<img src="x.png" alt="x.png" width="300" height="200">'),
        ("![[x.png|the alt text|300]]", '<img src="x.png" alt="the alt text" width="300">'),
        ("![[folder/Pasted image 2024.png]]", '<img src="folder/Pasted image 2024.png" alt="Pasted image 2024.png">'),
        ("![[Other note]]", "Other note"),  # a note embed: its name, not a broken image
        ("![[Other note#Heading]]", "Other note#Heading"),
        ("![[guide.pdf]]", "guide.pdf"),
        ("[[Amazon S3|S3]] and [[Amazon EC2]]", "S3 and Amazon EC2"),
        ("![x](javascript:alert(1))", "x"),
        ("![x](file:///etc/passwd)", "x"),
    ],
)
def test_obsidian_embeds_and_links_render(markdown: str, rendered: str) -> None:
    from aws_anki.render import blocks_html

    assert blocks_html(parse_tokens(markdown + "\n")) == f"<p>{rendered}</p>"


# Code ------------------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_fenced_code_is_highlighted_with_inline_styles_only(rich: aws_anki.BuildResult) -> None:
    extra = note(rich, "A bucket policy").field("Extra")
    assert extra.startswith(f'<div class="code" style="background:{CODE_BACKGROUND}"><pre style="color:{CODE_FOREGROUND};')
    assert re.search(r'<span style="color:#[0-9A-Fa-f]{6}">"Resource"</span>', extra)
    # No class that would need a stylesheet: only the wrapper's layout class.
    assert re.findall(r'class="([^"]*)"', extra) == ["code"]
    assert "arn:aws:s3:::example-bucket/${aws:username}/*" in code_text(extra)  # not math, not cloze-escaped
    assert "Value: !Sub ${DemoQueue.Arn}" in code_text(note(rich, "A template parameter").field("Extra"))


@pytest.mark.parametrize("language", ["python", "bash", "json", "yaml", "sql", "html", "javascript", "hcl", "dockerfile"])
def test_code_colours_are_readable_on_their_own_background(language: str) -> None:
    sample = 'x = {"a": 1}  # comment\nif true then echo "$HOME" fi\n<b class="c">t</b> SELECT 1; 0x1F\n'
    highlighted = sanitize(code_html(sample, language))  # as it lands in a field
    assert highlighted.startswith(f'<div class="code" style="background:{CODE_BACKGROUND}"><pre style="color:{CODE_FOREGROUND};')
    styles = re.findall(r'<span style="([^"]+)"', highlighted)
    assert styles
    for style in styles:
        colour = re.search(r"(?:^|;)color:(#[0-9A-Fa-f]{6})", style)
        background = re.search(r"background-color:(#[0-9A-Fa-f]{6})", style)
        assert colour, style
        assert contrast(colour.group(1), background.group(1) if background else CODE_BACKGROUND) >= 4.5, (language, style)


def test_every_token_colour_of_the_code_style_is_readable() -> None:
    from pygments.styles import get_style_by_name

    for token, style in get_style_by_name("monokai"):
        if style["color"]:
            background = "#" + style["bgcolor"] if style["bgcolor"] else CODE_BACKGROUND
            assert contrast("#" + style["color"], background) >= 4.5, token
    assert contrast(CODE_FOREGROUND, CODE_BACKGROUND) >= 7


def test_inline_code_is_readable_in_light_and_night_mode() -> None:
    css = STYLE_CSS.read_text()
    light = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", css.split(".card.nightMode")[0]))
    night = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", css.split(".card.nightMode")[1].split("}")[0]))
    for mode in (light, night):
        assert contrast(mode["--fg"], mode["--code-bg"]) >= 4.5


def test_unknown_language_is_plain_pre_and_inline_code_is_code(rich: aws_anki.BuildResult) -> None:
    extra = note(rich, "An odd language").field("Extra")
    assert extra == (f'<pre class="code" style="background:{CODE_BACKGROUND};color:{CODE_FOREGROUND}">'
                     "<code>&lt;plain&gt; &amp; \"text\"\n</code></pre>")
    assert note(rich, "Inline code").field("Back") == "run <code>aws s3 mb s3://example-bucket</code> to make a bucket"


# Tables, links, lists, emphasis ----------------------------------------------------------------


def test_table_rows_keep_their_markup(rich: aws_anki.BuildResult) -> None:
    standard = note(rich, "Standard-IA › Minimum duration")  # the section says what the rows are
    assert standard.field("Back") == '30 days, see <a href="https://aws.amazon.com/s3/pricing/">the pricing page</a>'
    assert note(rich, "Glacier Deep Archive › Minimum duration").field("Back") == "180 <i>days</i>"


def test_links_lists_emphasis_and_strikethrough(rich: aws_anki.BuildResult) -> None:
    assert note(rich, "Consistency").field("Back") == (
        "reads after writes are <i>strongly consistent</i> since 2020, <s>eventually consistent</s> before"
    )
    assert '<a href="https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points.html">the user guide</a>' in (
        note(rich, "Access points").field("Back")
    )
    assert note(rich, "Replication rules need").field("Back") == "<ul><li>versioning on both buckets</li><li>an IAM role for S3</li></ul>"


# Math and money --------------------------------------------------------------------------------


def test_money_is_not_math(rich: aws_anki.BuildResult) -> None:
    assert note(rich, "Request price").field("Back") == "about $0.01025 per hour for each endpoint"
    assert note(rich, "Transfer Acceleration").field("Back") == "it costs additional $$ to turn it on"
    assert note(rich, "Intelligent-Tiering").field("Back") == "a way to save some $$ on storage"
    assert note(rich, "Price range").field("Back") == "between $5 and $10 a month, or $5-$10 with support"


def test_math_becomes_mathjax(rich: aws_anki.BuildResult) -> None:
    assert note(rich, "Money and math: durability").field("Back") == r"eleven nines, \(1 - 10^{-11}\) per object and year"
    assert note(rich, "Request rate").field("Back") == r"at least \(3500\) writes per second per prefix"
    cost = note(rich, "Expected cost")
    assert cost.field("Back") == r"for \(n\) objects the total is"
    assert cost.field("Extra") == r'<div class="math">\[C = n \cdot p_{request} + \frac{s}{1024}\]</div>'
    assert note(rich, "Single line display").field("Extra") == r'<div class="math">\[e^{i\pi} + 1 = 0\]</div>'


def _math(tokens: Any) -> Iterator[str]:
    for token in tokens:
        if token["type"] == "inline_math":
            yield token["raw"]
        elif token["type"] == "block_code" and (token.get("attrs") or {}).get("info") == "math":
            yield "$$" + token["raw"]
        yield from _math(token.get("children") or ())


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("about $0.01025 per hour for each endpoint", []),
        ("it costs additional $$ to turn it on", []),
        ("it will save you some $$!", []),
        (r"save some \$\$ with reserved capacity", []),
        ("between $5 and $10, or $5-$10, or $1,000/$2,000", []),
        ("US$5 or 5$ or charges ($) for data ($) or ($$)", []),
        ("prefix ${aws:username}/* and ${AWS::Region}-${Env}x$", []),
        ("!Sub ${DemoQueue.Arn} and !Sub ${DemoQueue}", []),
        ("an alias not pointing to $LATEST or $LATEST/$LATEST", []),
        ('JSONPath keys end in ".$" as in "key.$": "$.input"', []),
        ("in code `$x$` and `${aws:username}`", []),
        ("a $ sign then a space $ closes nothing", []),
        ("the ratio $a/b$ and $x^2$.", ["a/b", "x^2"]),
        (r"$\alpha$, $x_1 + y_1$ and $1 - 10^{-11}$", [r"\alpha", "x_1 + y_1", "1 - 10^{-11}"]),
        ("$$\nC = n \\cdot p\n$$", ["$$C = n \\cdot p"]),
        ("$$e^{i\\pi} + 1 = 0$$", ["$$e^{i\\pi} + 1 = 0"]),
        ("- an item\n\n  $$\n  x^2\n  $$", ["$$x^2"]),
        ("text $$x$$ inside a sentence", []),
        ("$$\nnot closed\n\nstill not $$", []),
        ("```json\n{\"a\": \"${aws:username}\", \"b\": \"$x$\"}\n```", []),
        ("```yaml\nValue: !Sub ${DemoQueue.Arn}\n```", []),
    ],
)
def test_dollar_shapes(markdown: str, expected: list[str]) -> None:
    assert list(_math(parse_tokens(markdown + "\n"))) == expected


# Cloze syntax, rendered by real Anki -------------------------------------------------------------

# cloudformation.md line -> the deletions the notes intend, in card order.
DELETIONS = {
    5: ["AWS::S3::Bucket"],
    6: ["{{resolve:ssm-secure:/app/db-password}}"],
    7: ["arn:aws:s3:::example-bucket/photos"],
    8: ["Fn::GetAtt", "Ref"],
    12: ["all objects"],
    13: ["CloudFormation"],
    14: ["double colons"],
    15: ["visible text"],
    19: ["AWS::S3::Bucket"],
}
# Cloze syntax outside the deletions, shown on both sides.
VISIBLE = {
    8: ["its name with"],
    12: ["arn:aws:s3:::example-bucket/*"],
    13: ["{{resolve:secretsmanager:MyDatabase:SecretString:password}}"],
    14: ["AWS::EC2::Instance", "AWS::EC2::VPC"],
    15: ["}} or :: or {{"],
}


def test_cloze_syntax_in_and_around_deletions_in_real_anki(tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    result = aws_anki.build_deck([NOTES / "management"], run=RunOptions(use_cache=False))
    assert {n.source.line for n in result.notes} == set(DELETIONS)
    assert all(n.note_type == "cloze" for n in result.notes)
    out = tmp_path / "cloze.apkg"
    result.write(out, use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        cards = rendered_cards(col)
    assert len(cards) == sum(len(d) for d in DELETIONS.values())
    seen: dict[int, list[int]] = {}
    for card in cards:
        line = int(re.search(r"cloudformation\.md:(\d+)", card.answer_text).group(1))  # type: ignore[union-attr]
        seen.setdefault(line, []).append(card.ord)
        hidden = DELETIONS[line][card.ord]
        question, answer = prompt_text(card.question_html), prompt_text(card.answer_html)
        blanks = question.count("[...]") + question.count("[resource type]")
        assert blanks == 1, question
        assert hidden not in question, question
        assert hidden in answer, answer
        for other in DELETIONS[line][: card.ord] + DELETIONS[line][card.ord + 1 :]:
            assert other in question, question
        for text in VISIBLE.get(line, ()):
            assert text in question and text in answer, (text, question)
        for leak in ("{{c", "&#58;", "&#123;", "&#125;", "\ue000", "\ue002"):
            assert leak not in question + answer
    assert {line: sorted(ords) for line, ords in seen.items()} == {line: list(range(len(d))) for line, d in DELETIONS.items()}


@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        (f"type {cloze_open(1)}{{a}}{CLOZE_CLOSE} end", "{a}", "type [...] end"),
        (f"x {{{cloze_open(1)}a{CLOZE_CLOSE} end", "a", "x { [...] end"),
        (f"x {cloze_open(1)}:a{CLOZE_CLOSE} end", ":a", "x [...] end"),
        (f"x {cloze_open(1)}ARN arn:{CLOZE_HINT}prefix{CLOZE_CLOSE} end", "ARN arn:", "x [prefix] end"),
        (f"x {cloze_open(1)}AWS::S3::Bucket{CLOZE_CLOSE}:: {{{{ }}}}", "AWS::S3::Bucket", "x [...] :: {{ }}"),
        (f"x {cloze_open(1)}\\(a^{{b}}\\){CLOZE_CLOSE} end", "\\(a^{b}\\)", "x [...] end"),
    ],
)
def test_finish_cloze_edges_in_real_anki(tmp_path: Path, text: str, hidden: str, shown: str) -> None:
    """Characters next to a deletion's edges (`{a}` + `}}`, `arn:` + `::hint`) stay inside it."""
    pytest.importorskip("anki")
    from anki_harness import new_collection, rendered_cards

    col = new_collection(tmp_path / "anki")
    try:
        cloze = col.models.by_name("Cloze")
        deck = col.decks.id("Default")
        assert cloze is not None and deck is not None
        added = col.new_note(cloze)
        added["Text"] = finish_cloze(text)
        col.add_note(added, deck)
        (card,) = rendered_cards(col)
    finally:
        col.close()
    assert card.question_text == shown
    assert hidden in card.answer_text and card.answer_text.count(hidden) == 1

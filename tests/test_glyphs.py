"""Glyph bullets, icons and heading noise (aws_anki.bullets, aws_anki.glyphs), checked on strings and, for bullets,
on the token tree mistune builds from the result."""
from __future__ import annotations

import unicodedata
from typing import Any, Union

import pytest

from aws_anki.bullets import text_bullets_to_markdown
from aws_anki.glyphs import icon_words, strip_heading_noise
from aws_anki.parse import inline_text, parse_tokens

Outline = list[Union[str, tuple[str, "Outline"]]]


def outline(markdown: str) -> Outline:
    """Top-level blocks of `markdown`: a list becomes (item text, its sub-items) pairs, others their type."""
    shape: Outline = []
    for token in parse_tokens(markdown):
        if token["type"] == "list":
            shape.extend(_items(token))
        elif token["type"] != "blank_line":
            shape.append(token["type"])
    return shape


def _items(list_token: dict[str, Any]) -> Outline:
    items: Outline = []
    for item in list_token["children"]:
        text, children = "", []
        for child in item["children"]:
            if child["type"] in ("block_text", "paragraph"):
                text = inline_text(child["children"])
            elif child["type"] == "list":
                children.extend(_items(child))
        items.append((text, children))
    return items


def converted(text: str) -> str:
    """Run the conversion and check the invariant every caller relies on: same number of lines."""
    result = text_bullets_to_markdown(text)
    assert result.count("\n") == text.count("\n")
    return result


# --------------------------------------------------------------------------------------------
# text_bullets_to_markdown
# --------------------------------------------------------------------------------------------

WORD_PASTE = """\
## S3 from the training slides

Storage classes as the trainer listed them:
•\tStandard is the default class
\to\tEleven nines of durability
\to\tStored across three AZs or more
•\tGlacier Deep Archive is the cheapest
\to\tRetrieval takes up to 12 hours
\t\t▪\tBulk retrieval is slower still
•\tOne Zone-IA keeps data in a single AZ

A lifecycle rule written by hand:

```json
{"note": "• this bullet is JSON, not a list"}
• neither is this one
```

Last words after the code.
"""


def test_text_without_any_glyph_is_returned_as_is() -> None:
    text = "# EC2\n\n- Instances are virtual servers\n- Billed per second\n" * 50
    assert text_bullets_to_markdown(text) is text


def test_round_bullets_become_markdown_items() -> None:
    result = converted("• EC2 runs virtual machines\n• S3 stores objects\n")
    assert result == "- EC2 runs virtual machines\n- S3 stores objects\n"
    assert outline(result) == [("EC2 runs virtual machines", []), ("S3 stores objects", [])]


def test_word_paste_nests_by_level_and_leaves_the_fence_alone() -> None:
    result = converted(WORD_PASTE)
    assert outline(result) == [
        "heading",
        "paragraph",
        ("Standard is the default class", [
            ("Eleven nines of durability", []),
            ("Stored across three AZs or more", []),
        ]),
        ("Glacier Deep Archive is the cheapest", [
            ("Retrieval takes up to 12 hours", [("Bulk retrieval is slower still", [])]),
        ]),
        ("One Zone-IA keeps data in a single AZ", []),
        "paragraph",
        "block_code",
        "paragraph",
    ]
    before, after = WORD_PASTE.split("\n"), result.split("\n")
    fence_start = before.index("```json")
    assert after[fence_start:fence_start + 4] == before[fence_start:fence_start + 4]
    code = next(token for token in parse_tokens(result) if token["type"] == "block_code")
    assert "• neither is this one" in code["raw"]


def test_word_levels_without_indentation_nest_by_glyph() -> None:
    # Word loses the tabs on some pastes: the glyph alone tells the level (•, o, ▪).
    text = "• Compute\no EC2\n▪ Spot instances\no Lambda\n• Storage\no EBS\n"
    assert outline(converted(text)) == [
        ("Compute", [("EC2", [("Spot instances", [])]), ("Lambda", [])]),
        ("Storage", [("EBS", [])]),
    ]


def test_deeper_indentation_nests_even_with_the_same_glyph() -> None:
    result = converted("• VPC\n    • Subnets\n        • Route tables\n• IAM\n")
    assert outline(result) == [("VPC", [("Subnets", [("Route tables", [])])]), ("IAM", [])]


def test_sub_items_sit_at_their_parents_content_column() -> None:
    assert converted("•\tParent\no\tChild\n") == "- Parent\n  - Child\n"


def test_every_listed_glyph_is_a_bullet() -> None:
    glyphs = ["•", "◦", "▪", "▫", "‣", "⁃", "●", "○", "■", "□", "➢", "➤", "–"]
    # A paragraph between them, or each new glyph would nest one level down (Word's levels).
    text = "".join(f"{glyph} item {number}\n\nText.\n\n" for number, glyph in enumerate(glyphs))
    lines = converted(text).split("\n")
    assert [line for line in lines if line.startswith("-")] == [f"- item {n}" for n in range(len(glyphs))]


def test_glyph_lines_under_a_sentence_interrupt_it_as_a_list() -> None:
    # As in notes copied from a PDF: the bullet right under the paragraph line, no blank between.
    text = "Concurrency can be capped per function\n• Calls over the cap are throttled\n"
    assert outline(converted(text)) == ["paragraph", ("Calls over the cap are throttled", [])]


def test_a_continuation_line_stays_in_its_item() -> None:
    text = "• Route 53 is DNS\nwith health checks and routing policies\n• CloudFront is a CDN\n"
    result = converted(text)
    assert result.split("\n")[1] == "with health checks and routing policies"
    assert outline(result) == [
        ("Route 53 is DNS with health checks and routing policies", []),
        ("CloudFront is a CDN", []),
    ]


def test_a_paragraph_after_a_blank_line_ends_the_list() -> None:
    text = "• Alpha\n\to\tAlpha detail\n\nA plain paragraph.\n• Beta\n"
    assert outline(converted(text)) == [
        ("Alpha", [("Alpha detail", [])]),
        "paragraph",
        ("Beta", []),
    ]


def test_a_heading_closes_the_list_so_a_lone_o_is_prose_again() -> None:
    text = "• Alpha\n# Next topic\no mesmo vale para tudo\n"
    assert converted(text).split("\n")[2] == "o mesmo vale para tudo"


def test_a_lone_o_sentence_is_not_a_bullet() -> None:
    text = "Una nota en español.\no bien se usa la consola, o bien la CLI.\n"
    assert converted(text) == text


def test_two_o_lines_in_a_row_are_bullets() -> None:
    result = converted("Options:\no Console\no CLI\n")
    assert result == "Options:\n- Console\n- CLI\n"


def test_an_indented_o_line_is_a_bullet() -> None:
    assert converted("Options:\n  o Console\n") == "Options:\n- Console\n"


def test_an_arrow_after_a_sentence_stays_but_a_run_of_arrows_is_a_list() -> None:
    lone = "The queue fills up\n→ so the consumers scale out\n"
    assert converted(lone) == lone
    assert converted("→ first step\n→ second step\n") == "- first step\n- second step\n"


def test_glyph_alone_on_a_line_is_left_alone() -> None:
    text = "•\n• \nSome text after\n"
    assert converted(text) == text


def test_glyph_glued_to_a_word_is_a_bullet_but_a_rating_bar_is_not() -> None:
    assert converted("•Glued bullet\n") == "- Glued bullet\n"
    assert converted("■■■□□ three out of five\n") == "■■■□□ three out of five\n"


def test_markdown_lists_and_mid_line_bullets_are_not_rewritten() -> None:
    text = (
        "- dash item\n* star item\n+ plus item\n1. numbered item\n"
        "- billing alarm • data is in us-east-1 • actual cost only\n"
    )
    assert converted(text) == text


def test_hyphen_and_en_dash_items_read_the_same() -> None:
    assert outline(converted("– Multi-AZ\n– Read replicas\n")) == outline("- Multi-AZ\n- Read replicas\n")


def test_indented_code_outside_a_list_is_not_touched() -> None:
    text = "Example output:\n\n    • not a bullet, a code sample\n    • another code line\n\nAfter.\n"
    result = converted(text)
    assert result == text
    assert outline(result)[1] == "block_code"


def test_tilde_fence_is_not_touched() -> None:
    text = "~~~\n• inside\no inside too\no and here\n~~~\n• outside\n"
    result = converted(text)
    assert result.split("\n")[:5] == text.split("\n")[:5]
    assert result.split("\n")[5] == "- outside"


def test_glyph_item_under_a_markdown_item_nests() -> None:
    text = "- Lambda\n    • Runs code without servers\n- ECS\n"
    assert outline(converted(text)) == [("Lambda", [("Runs code without servers", [])]), ("ECS", [])]


def test_word_o_under_a_numbered_step_nests() -> None:
    assert outline(converted("1. Create a bucket\no Pick a Region\n")) == [("Create a bucket", [("Pick a Region", [])])]


def test_front_matter_is_left_alone() -> None:
    text = "---\ntitle: Notes\no: 1\no 2\no 3\n---\n• Real bullet\n"
    result = converted(text)
    assert result.split("\n")[:6] == text.split("\n")[:6]
    assert result.split("\n")[6] == "- Real bullet"


# --------------------------------------------------------------------------------------------
# icon_words
# --------------------------------------------------------------------------------------------


def test_plain_ascii_is_returned_as_is() -> None:
    text = "| Feature | S3 |\n|---|---|\n| Versioning | yes |\n"
    assert icon_words(text) is text


@pytest.mark.parametrize("mark", ["✅", "✔", "✔️", "☑", "✓"])
def test_check_mark_alone_in_a_cell_is_yes(mark: str) -> None:
    assert icon_words(f"| Versioning | {mark} |") == "| Versioning | Yes |"


@pytest.mark.parametrize("mark", ["❌", "✖", "✗", "✘", "❎", "✖️"])
def test_cross_mark_alone_in_a_cell_is_no(mark: str) -> None:
    assert icon_words(f"| Versioning | {mark} |") == "| Versioning | No |"


def test_comparison_table_keeps_its_shape() -> None:
    table = "| | S3 | EFS |\n|---|---|---|\n| POSIX | ❌ | ✅ |\n| Static website | ✅ | ❌ |\n"
    result = icon_words(table)
    assert result == "| | S3 | EFS |\n|---|---|---|\n| POSIX | No | Yes |\n| Static website | Yes | No |\n"
    rows = [token for token in parse_tokens(result) if token["type"] == "table"]
    assert len(rows) == 1


def test_check_leading_a_statement_is_dropped() -> None:
    assert icon_words("- ✅ Supports SSL termination") == "- Supports SSL termination"


def test_cross_leading_a_statement_keeps_its_meaning() -> None:
    assert icon_words("- ❌ Cross-region replication") == "- No: Cross-region replication"
    assert icon_words("- ❌ Not encrypted by default") == "- Not encrypted by default"
    assert icon_words("❌ can't be resized later") == "can't be resized later"


def test_mark_with_a_qualifier_keeps_its_word() -> None:
    row = "| Many instances at once | ❌ (io2 Multi-Attach aside) | ✅ (any number) |"
    assert icon_words(row) == "| Many instances at once | No (io2 Multi-Attach aside) | Yes (any number) |"


def test_mark_after_a_label_becomes_its_value() -> None:
    assert icon_words("Multi-AZ ✅") == "Multi-AZ: Yes"
    assert icon_words("Free tier: ❌") == "Free tier: No"
    assert icon_words("Encryption at rest: ✅ (with KMS)") == "Encryption at rest: Yes (with KMS)"
    assert icon_words("Snapshots (✅)") == "Snapshots (Yes)"


def test_marks_inside_a_sentence() -> None:
    assert icon_words("Fargate ✅ hides the hosts") == "Fargate hides the hosts"
    assert icon_words("EFS ❌ Windows clients") == "EFS No Windows clients"
    assert icon_words("Windows support: ❌ not available") == "Windows support: not available"


def test_warning_sign() -> None:
    assert icon_words("⚠️ Deleting the key destroys the data") == "Warning: Deleting the key destroys the data"
    assert icon_words("| Limit | ⚠️ |") == "| Limit | Warning |"
    assert icon_words("Costs extra per GB ⚠️") == "Costs extra per GB"


def test_marks_on_a_heading_are_decoration() -> None:
    assert icon_words("## ❌ Common mistakes\n## ✅ Good habits") == "## Common mistakes\n## Good habits"


def test_emoji_are_dropped_and_blanks_collapse() -> None:
    text = "🔥 Hot tip: put **🚀 Lambda** behind API Gateway 💡.\n  - 📌 pinned 👉 here\nDone 🎉\n"
    assert icon_words(text) == "Hot tip: put **Lambda** behind API Gateway.\n  - pinned here\nDone\n"


def test_emoji_sequences_go_whole() -> None:
    text = "👍🏽 ok, 👩‍💻 dev, 🏳️‍🌈 flag, 🇪🇺 eu, 1️⃣ one, #️⃣ tag, ❤️‍🔥 love, ⭐ star"
    assert icon_words(text) == "ok, dev, flag, eu, 1 one, tag, love, star"
    assert not any(char in icon_words(text) for char in "\ufe0f\u200d\u20e3")


def test_pictographs_are_found_by_range_not_by_list() -> None:
    # U+1FAE8 (shaking face) is newer than many Pythons' Unicode data; its block goes all the same.
    newer = "\U0001FAE8"
    assert icon_words(f"Quota hit {newer} again") == "Quota hit again"
    assert icon_words("\U0001F9ED compass \u2602 umbrella \U0001F6F8 saucer") == "compass umbrella saucer"
    assert unicodedata.category("\u2602") == "So"


def test_ordinary_text_is_never_touched() -> None:
    text = (
        "A → B ⇒ C ↔ D, © 2024 Amazon®, AWS™, x ≤ y ≠ z ± 1, ∑ n, ❶ first, ➕ plus, "
        "東京リージョン, café, naïve, Ünïcödé, नमस्ते क्\u200dष, “quoted” — dash"
    )
    assert icon_words(text) == text


def test_fenced_code_keeps_its_icons() -> None:
    text = "```bash\necho '✅ deployed 🚀'\n```\n✅ Deployed 🚀\n"
    assert icon_words(text) == "```bash\necho '✅ deployed 🚀'\n```\nDeployed\n"


def test_icon_only_line_becomes_empty_but_stays() -> None:
    text = "Before\n🔥🔥🔥\nAfter\n"
    assert icon_words(text) == "Before\n\nAfter\n"


# --------------------------------------------------------------------------------------------
# strip_heading_noise
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("7 - EC2", "EC2"),
        ("3. S3", "S3"),
        ("1.2 IAM Policies", "IAM Policies"),
        ("4.1.3. Security groups", "Security groups"),
        ("(2) Pricing", "Pricing"),
        ("5) Pricing", "Pricing"),
        ("IV. VPC endpoints", "VPC endpoints"),
        ("12: CloudTrail", "CloudTrail"),
    ],
)
def test_chapter_numbers_go(heading: str, expected: str) -> None:
    assert strip_heading_noise(heading) == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("####### Resharding", "Resharding"),  # past level 6 Markdown reads it as text, marks and all
        ("Concepts (important for exam)", "Concepts"),
        ("Things to know (exam tips)", "Things to know"),
        ("Launch constraints (exam!)", "Launch constraints"),
        ("Examples (example)", "Examples (example)"),
    ],
)
def test_heading_marks_past_six_and_exam_remarks_go(heading: str, expected: str) -> None:
    assert strip_heading_noise(heading) == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Chapter 4: VPC", "VPC"),
        ("Section 2 – Lambda", "Lambda"),
        ("Part 1 - Basics", "Basics"),
        ("Module 7 Databases", "Databases"),
        ("Lecture IX. Kinesis", "Kinesis"),
        ("Domain 3: Design High-Performing Architectures", "Design High-Performing Architectures"),
    ],
)
def test_chapter_words_go_with_their_number(heading: str, expected: str) -> None:
    assert strip_heading_noise(heading) == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("## 🚀 Lambda", "Lambda"),
        ("**S3**", "S3"),
        ("[Link text](https://docs.aws.amazon.com/)", "Link text"),
        ("[[EC2 Pricing|Pricing models]]", "Pricing models"),
        ("`aws s3 sync`", "aws s3 sync"),
        ("<u>Glacier</u> tiers", "Glacier tiers"),
        ("=== EC2 ===", "EC2"),
        ("EC2:", "EC2"),
        ("Auto Scaling -", "Auto Scaling"),
        ("3. **Route 53** 🌍:", "Route 53"),
    ],
)
def test_markup_and_decoration_go(heading: str, expected: str) -> None:
    assert strip_heading_noise(heading) == expected


@pytest.mark.parametrize(
    "heading",
    [
        "S3",
        "EC2",
        "Route 53",
        "3 Tier Architecture",
        "3-Tier Architecture",
        "2FA",
        "10 Things about S3",
        "2023: re:Invent launches",
        "Day 2 operations",
        "Lambda (continued)",
        "snake_case_parameters",
        "S3 – Storage classes",
    ],
)
def test_numbers_in_names_stay(heading: str) -> None:
    assert strip_heading_noise(heading) == heading


@pytest.mark.parametrize(
    ("heading", "expected"),
    [("Chapter 4", "Chapter 4"), ("7.", "7."), ("## 🚀", "## 🚀"), ("  **12** ", "12"), ("", "")],
)
def test_a_heading_is_never_emptied(heading: str, expected: str) -> None:
    assert strip_heading_noise(heading) == expected

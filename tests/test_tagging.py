"""Services, tags and deck layout through the whole pipeline (the catalog itself: test_services.py)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

import aws_anki
from aws_anki.cli import cli
from aws_anki.services import load_catalog
from aws_anki.options import DeckOptions

HAND_CHECKED = Path(__file__).parent / "fixtures" / "services" / "real_lines.tsv"


def _vault(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "v" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "v"


@pytest.mark.parametrize(
    ("markdown", "tag"),
    [
        ("# Notes\n## S3\n- **Versioning**: keeps every version of an object\n", "AWS::Storage::S3"),
        ("# Notes\n## Simple Storage Service\n### Billing\n- **Requests**: charged per 1,000\n", "AWS::Storage::S3"),
        ("# Notes\n## CloudWath\n- **Alarm**: watches one metric\n", "CloudWatch"),
        ("# Notes\n## ESB\n- **gp3**: baseline of 3,000 IOPS\n", "EBS"),
        ("# Notes\n## AIM\n- **Role**: an identity that is assumed\n", "IAM"),
        ("# Notes\n## ECS - Elastic Container Service\n- **Task**: a running task definition\n", "ECS"),
        ("# AWS IAM\n## Permisos\n- **Política**: un documento JSON que concede permisos\n", "IAM"),
        ("# Notes\n## Lambda@Edge\n- **Viewer request**: runs before the cache\n", "Lambda_Edge"),
    ],
)
def test_heading_names_decide_the_service(tmp_path: Path, markdown: str, tag: str) -> None:
    notes = aws_anki.build_deck([_vault(tmp_path, {"n.md": markdown})]).notes
    assert notes and all(tag in note.tags or any(t.endswith("::" + tag) for t in note.tags) for note in notes), [n.tags for n in notes]


def test_two_services_in_one_heading(tmp_path: Path) -> None:
    vault = _vault(tmp_path, {"n.md": "# Course\n## 7 - AWS Fundamentals : ELB + ASG\n- **Health check**: decides whether a target gets traffic\n"})
    (note,) = aws_anki.build_deck([vault]).notes
    # both services, each as its flat tag and under its category, and no other service
    assert {t for t in note.tags if t.startswith("AWS::")} == {"AWS::Networking_&_Content_Delivery::ELB", "AWS::Compute::Auto_Scaling"}, note.tags
    assert {"ELB", "Auto_Scaling"} <= set(note.tags), note.tags
    assert note.context.startswith("Elastic Load Balancing & Amazon EC2 Auto Scaling › "), note.context


def test_heading_without_service_inherits_and_file_name_is_the_fallback(tmp_path: Path) -> None:
    vault = _vault(tmp_path, {"dynamodb.md": "## Capacity\n- **RCU**: one strongly consistent 4 KB read per second\n"})
    (note,) = aws_anki.build_deck([vault]).notes
    assert note.service == "Amazon DynamoDB"
    assert note.context == "Amazon DynamoDB › Capacity"


def test_a_cloze_that_blanks_the_service_in_its_context_shows_the_category(tmp_path: Path) -> None:
    # no heading names the service (the file name does), so the extract stage cannot see the blank on the front
    text = "## Pricing\n- Using **IAM** costs nothing; you pay for what its users run\n" \
        "- **Access Analyzer** finds resources shared outside the account\n"
    notes = {n.fields[0].split("<b>")[1].split("</b>")[0]: n for n in aws_anki.build_deck([_vault(tmp_path, {"iam.md": text})]).notes}
    # "AWS IAM › Pricing" would show the answer: the card says only where IAM sits
    assert notes["IAM"].context == "Security Identity & Compliance", notes["IAM"].context
    # a feature of the service is no answer on the front: the section's path stays
    assert notes["Access Analyzer"].context == "AWS IAM › Pricing", notes["Access Analyzer"].context


def test_front_matter_overrides(tmp_path: Path) -> None:
    text = "---\nservice: sqs\ndeck: Exam::Integration\ntags: [exam, 'saa c03']\n---\n# Queues\n- **Visibility timeout**: hides a received message\n"
    (note,) = aws_anki.build_deck([_vault(tmp_path, {"q.md": text})]).notes
    assert note.service == "Amazon SQS"
    assert note.deck == "Exam::Integration"
    assert "exam" in note.tags and "saa_c03" in note.tags


def test_unknown_front_matter_service_is_a_warning(tmp_path: Path) -> None:
    result = aws_anki.build_deck([_vault(tmp_path, {"q.md": "---\nservice: nonsense\n---\n- **A**: b\n"})])
    assert [w.code for w in result.report.warnings] == ["unknown-service"]


def test_tags_are_hierarchical_flat_and_per_file(vault: Path) -> None:
    note = next(n for n in aws_anki.build_deck([vault]).notes if n.fields[0] == "Maximum timeout")
    assert note.tags[:3] == ("AWS::Compute::Lambda", "Lambda", "file::lambda")
    custom = next(n for n in aws_anki.build_deck([vault], DeckOptions(tag_prefix="Cert", file_tags=False)).notes if n.fields[0] == "Maximum timeout")
    assert custom.tags[:2] == ("Cert::Compute::Lambda", "Lambda") and not any(t.startswith("file::") for t in custom.tags)


@pytest.mark.parametrize(
    ("layout", "deck"),
    [("none", "AWS"), ("category", "AWS::Compute"), ("service", "AWS::Compute::AWS Lambda"), ("file", "AWS::compute::lambda")],
)
def test_deck_layouts(vault: Path, layout: str, deck: str) -> None:
    note = next(n for n in aws_anki.build_deck([vault], DeckOptions(deck_by=layout)).notes if n.fields[0] == "Maximum timeout")
    assert note.deck == deck


def test_services_command_lists_the_catalog() -> None:
    result = CliRunner().invoke(cli, ["services"])
    assert result.exit_code == 0 and len(result.output.splitlines()) >= 150
    storage = CliRunner().invoke(cli, ["services", "--category", "Storage"]).output
    assert "Amazon S3" in storage and "AWS Lambda" not in storage


def test_inspect_stats_shows_services_and_unresolved(tmp_path: Path) -> None:
    vault = _vault(tmp_path, {"misc.md": "# Thoughts\n- **Latency**: time to first byte\n", "s3.md": "- **Bucket**: a container of objects\n"})
    output = CliRunner().invoke(cli, ["inspect", str(vault), "--stats"]).output
    assert "Amazon S3" in output
    assert "Facts whose service could not be resolved: 1" in output and "misc.md:2" in output


def test_real_notes_hand_checked_facts_get_their_service(real_notes: Path) -> None:
    notes = aws_anki.build_deck([real_notes]).notes
    by_source: dict[str, list[aws_anki.CardNote]] = {}
    for note in notes:
        by_source.setdefault(str(note.source), []).append(note)
    catalog = load_catalog()
    checked = 0
    with HAND_CHECKED.open(encoding="utf-8") as handle:
        for row in csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t"):
            if len(row) > 4 and row[4] == "xfail":
                continue
            found = by_source.get(f"{row[0]}:{row[1]}")
            if not found:
                continue  # that line made no card (noise, or folded into an enumeration)
            expected = {catalog.get(key).tag for key in row[2].split(",")} if row[2] != "-" else set()
            for note in found:
                assert expected <= set(note.tags), (row, note.tags)
            checked += 1
    assert checked >= 30  # of the 40+ hand-checked lines, those that still make a card (no card: no key term)


def test_real_notes_resolution_share(real_notes: Path) -> None:
    notes = aws_anki.build_deck([real_notes]).notes
    share = sum(1 for n in notes if n.service) / len(notes)
    print(f"notes with a resolved service: {share:.1%} of {len(notes)}")
    # The rest (conference talk lists, 'Solution Architecture', whitepapers) names no service or topic.
    assert share >= 0.98


@pytest.mark.parametrize(
    ("headings", "context"),
    [
        (("kms", "AWS Key Management Service (KMS)", "Key types"), "AWS KMS › Key types"),
        (("notes", "AWS Stuff", "EC2 (Elastic Compute Cloud)", "Metadata"), "Amazon EC2 › Metadata"),
        (("notes", "Amazon S3", "S3 Object Lambda"), "Amazon S3 › S3 Object Lambda"),
        (("notes", "EC2 - Placement Groups"), "Amazon EC2 › EC2 - Placement Groups"),
        (("notes", "Simple Storage Service", "Billing"), "Amazon S3 › Billing"),
        (("notes", "Throughput vs IOPS"), "Throughput vs IOPS"),  # a file name is no subject
        (("notes", "Compute", "HPC on AWS", "Schedulers"), "High Performance Computing (HPC) › Schedulers"),
        (("notes", "Messaging", "SNS vs SQS"), "Amazon SNS & Amazon SQS"),
        (("notes", "Streaming", "Data Firehose compared with Kinesis Data Streams"), "Amazon Data Firehose & Amazon Kinesis Data Streams"),
        (("notes", "Amazon SQS", "Standard vs FIFO queues"), "Amazon SQS › Standard vs FIFO queues"),
        (("notes", "CloudFormation", "Creation policy", "Creation policies"), "AWS CloudFormation › Creation policy"),
        (("notes", "Amazon S3", "Access points", "access point"), "Amazon S3 › Access points"),
    ],
)
def test_context_line_drops_only_headings_that_just_spell_the_service(headings: tuple[str, ...], context: str) -> None:
    from aws_anki.context import context_line
    from aws_anki.services import resolve_path

    services, index = resolve_path(headings)
    assert context_line(headings, services, index) == context

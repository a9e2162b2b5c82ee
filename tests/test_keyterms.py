"""Key terms of plain statements: what a cloze card may blank, in which order, and what it must not.

Every sentence here is written for these tests (none is taken from the shared notes).
"""
from __future__ import annotations

import itertools
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from aws_anki.extract.keyterms import KINDS, KeyTerm, key_terms
from aws_anki.services import Catalog, catalog_from_json, load_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped service catalog."""
    return load_catalog()


def terms(text: str, **options: Any) -> list[tuple[str, str]]:
    """(kind, text) of every key term, best first."""
    options.setdefault("catalog", load_catalog())
    return [(term.kind, term.text) for term in key_terms(text, **options)]


def best(text: str, **options: Any) -> tuple[str, str] | None:
    """(kind, text) of the best key term, or None."""
    found = terms(text, **options)
    return found[0] if found else None


def span(text: str, part: str) -> tuple[int, int]:
    """Offsets of `part` in `text` (for code spans)."""
    start = text.index(part)
    return start, start + len(part)


# 1. Numbers with units or limits -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Each message can carry at most 256 KB of payload", "256 KB"),
    ("A standard archive retrieval finishes within 3-5 hours", "3-5 hours"),
    ("Objects are designed for 99.999999999% durability", "99.999999999%"),
    ("Outbound transfer costs $0.09 per GB after the free allowance", "$0.09 per GB"),
    ("Data keys are generated as 256-bit values", "256-bit"),
    ("Each shard ingests 1 MB/s of writes", "1 MB/s"),
    ("A subnet group should cover 2 AZs for resilience", "2 AZs"),
    ("An invocation may last 15 min before it is stopped", "15 min"),
    ("A warm pool keeps instances ready for 12 hours", "12 hours"),
    ("A single device stores roughly 80 TB of data", "80 TB"),
], ids=lambda value: value if len(value) < 16 else None)
def test_number_with_unit(text: str, expected: str) -> None:
    assert best(text) == ("number", expected)


def test_limit_words_stay_visible_only_the_number_is_blanked() -> None:
    assert best("A batch request may include up to 10 messages") == ("number", "10")
    assert best("The quorum needs at least 3 before it proceeds") == ("number", "3")
    assert best("Each account can create a maximum of 5,000 of them") == ("number", "5,000")


def test_number_with_unit_outranks_a_service() -> None:
    assert terms("Snowball Edge ships with about 80 TB of usable space") == [
        ("number", "80 TB"), ("service", "Snowball Edge"),
    ]


def test_spelled_number_with_unit_is_a_fact() -> None:
    assert best("Every Region is built from at least three AZs") == ("number", "three AZs")


def test_two_limits_in_one_statement_are_both_found_in_text_order() -> None:
    assert terms("Basic checks run every 5 minutes, detailed ones every 1 minute") == [
        ("number", "5 minutes"), ("number", "1 minute"),
    ]


def test_multipliers_and_rates_belong_to_the_number() -> None:
    assert terms("The table absorbs 40k writes and 10/s bursts") == [("number", "40k"), ("number", "10/s")]


# Numbers that are not facts ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Functions can be written for Python 3.12 runtimes",
    "Hashes are computed with SHA-256 over the body",
    "Launch a T2 instance for the bastion",
    "The feature was announced in 2019 at a conference",
    "Step 2: create the execution role",
    "1) Create the bucket before the distribution",
    "Allow inbound traffic from 10.0.0.0/16 only",
    "The job starts at 10:30 every weekday",
    "Route 53 answers the queries of the resolver",
    "Hundreds of instance types exist, think 100s of them",
])
def test_numbers_that_are_not_facts(text: str) -> None:
    assert all(kind != "number" for kind, _ in terms(text))


def test_a_capitalised_word_opening_the_sentence_is_no_version() -> None:
    assert best("Supports 5 read replicas per source") == ("number", "5")


def test_a_count_after_a_name_is_no_version() -> None:
    assert terms("A cluster of Aurora 15 replicas at most") == [("number", "15"), ("service", "Aurora")]
    assert terms("It keeps Aurora 15 behind the scenes") == [("service", "Aurora")]


def test_plain_count_ranks_after_services() -> None:
    assert terms("Kinesis comes in 4 flavours") == [("service", "Kinesis"), ("number", "4")]


def test_plain_count_ranks_before_acronyms() -> None:
    assert terms("There are 2 kinds of queue: standard and FIFO") == [("number", "2"), ("acronym", "FIFO")]


# 2. Defaults --------------------------------------------------------------------------------------

def test_numeric_default_comes_before_other_numbers() -> None:
    assert terms("Messages live between 60 seconds and 14 days, 4 days by default") == [
        ("default", "4 days"), ("number", "60 seconds"), ("number", "14 days"),
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("The default invocation timeout is 3 seconds", "3 seconds"),
    ("The invocation timeout defaults to 3 seconds", "3 seconds"),
    ("Default: 1 hour", "1 hour"),
    ("A record is cached for 300 seconds (default)", "300 seconds"),
])
def test_numeric_default(text: str, expected: str) -> None:
    assert best(text) == ("default", expected)


def test_a_default_in_parentheses_is_not_the_number_before_it() -> None:
    found = terms("Items can be kept from 1 minute to 14 days (default is 4 days)")
    assert found[0] == ("default", "4 days")
    assert ("number", "14 days") in found


def test_word_default_before_by_default() -> None:
    assert best("Bucket versioning is disabled by default") == ("default", "disabled")


def test_word_default_after_default_is_beats_the_service_inside_it() -> None:
    assert terms("The default storage class is S3 Standard") == [("default", "S3 Standard")]


def test_word_default_in_parentheses() -> None:
    assert best("Snapshots are copied with encryption enabled (default) to the target") == ("default", "enabled")


# 3. Services --------------------------------------------------------------------------------------

def test_longest_service_name_is_one_term() -> None:
    assert best("Ship the function output to CloudWatch Logs for alerting", avoid=["AWS Lambda"]) == (
        "service", "CloudWatch Logs",
    )


def test_service_with_punctuation_in_its_name() -> None:
    assert best("Rewrite headers at the edge with Lambda@Edge") == ("service", "Lambda@Edge")


def test_amazon_prefix_is_part_of_the_service_term() -> None:
    assert best("Store the uploaded files in Amazon S3 buckets") == ("service", "Amazon S3")


def test_plain_words_that_name_services_only_with_a_prefix() -> None:
    assert terms("Keep a backup of the config in a batch job") == []
    assert terms("Record changes with AWS Config rules") == [("service", "AWS Config")]


def test_misspelt_service_names_are_not_matched_in_prose() -> None:
    assert terms("Graphs are drawn from CloudWath alarms") == []


def test_service_spans_agree_with_the_catalog(catalog: Catalog) -> None:
    sentences = [
        "Stream changes from DynamoDB Streams into Lambda functions",
        "Use the AWS Key Management Service with S3 and EBS volumes",
        "non-Lambda workloads run on ECS or EKS Anywhere",
        "Sync with the Step Functions API and Amazon EventBridge Pipes",
        "An ALB can front an Auto Scaling Group in a VPC",
    ]
    for sentence in sentences:
        found = [t.text for t in key_terms(sentence, catalog=catalog) if t.kind == "service"]
        named = [catalog.lookup(text) for text in found]
        assert tuple(dict.fromkeys(s.key for s in named if s)) == tuple(s.key for s in catalog.in_text(sentence))


def test_a_given_catalog_is_used_instead_of_the_shipped_one() -> None:
    widget = catalog_from_json({"version": 1, "services": [
        {"key": "widget", "name": "Amazon Widget", "tag": "Widget", "category": "Compute", "aliases": ["Widget"]},
    ]})
    assert terms("Deploy the app with Widget and S3", catalog=widget) == [("service", "Widget")]


# 4. Acronyms and expansions ----------------------------------------------------------------------

def test_expansion_then_acronym_when_both_are_written() -> None:
    assert terms("Secrets are wrapped by the Key Management Service (KMS) on write") == [
        ("expansion", "Key Management Service"), ("acronym", "KMS"),
    ]


def test_acronym_followed_by_its_expansion_in_parentheses() -> None:
    assert terms("Access is granted through an ACL (access control list) on the bucket") == [
        ("expansion", "access control list"), ("acronym", "ACL"),
    ]


def test_acronym_with_a_dash_and_a_hyphenated_expansion() -> None:
    assert terms("MFA - Multi-Factor Authentication adds a second proof of identity") == [
        ("expansion", "Multi-Factor Authentication"), ("acronym", "MFA"),
    ]


def test_acronym_with_digits_expands_to_repeated_letters() -> None:
    assert terms("Instances of Elastic Compute Cloud (EC2) bill per second") [:2] == [
        ("expansion", "Elastic Compute Cloud"), ("acronym", "EC2"),
    ]


def test_standalone_acronym_and_its_plural() -> None:
    assert terms("Set a TTL on cached objects") == [("acronym", "TTL")]
    assert terms("Subnets are guarded by stateless NACLs") == [("acronym", "NACLs")]


def test_shouted_words_are_not_acronyms() -> None:
    assert terms("NEVER SHARE THE ROOT KEYS WITH ANYONE") == []
    assert terms("ALWAYS ENABLE MFA ON THE ROOT USER") == [("acronym", "MFA")]
    assert terms("keep this in mind, the ROLES matter here") == []


def test_units_are_not_acronyms() -> None:
    assert terms("Sizes are quoted in GB and speeds in MBPS") == []


# 5. Code spans and quoted terms ------------------------------------------------------------------

def test_code_span_is_a_term() -> None:
    text = "Call PutObject to upload a file"
    assert terms(text, code_spans=[span(text, "PutObject")]) == [("code", "PutObject")]


def test_code_span_is_blanked_whole_never_the_service_inside_it() -> None:
    text = "Run aws s3 cp to copy the folder"
    assert terms(text, code_spans=[span(text, "aws s3 cp")]) == [("code", "aws s3 cp")]


def test_out_of_range_code_spans_are_ignored() -> None:
    assert terms("Plain words only here", code_spans=[(-1, 4), (5, 99), (3, 3), (9, 6)]) == []


@pytest.mark.parametrize(("text", "expected"), [
    ('Turn on the "Requester Pays" option of the bucket', "Requester Pays"),
    ("Turn on the “Requester Pays” option of the bucket", "Requester Pays"),
    ("It's the bucket's 'block public access' setting", "block public access"),
])
def test_quoted_term(text: str, expected: str) -> None:
    assert terms(text) == [("quoted", expected)]


# 6. Proper terms ----------------------------------------------------------------------------------

def test_capitalised_term_after_an_imperative_verb() -> None:
    assert terms("Buy Reserved Instances for steady workloads") == [("term", "Reserved Instances")]


def test_capitalised_term_may_start_with_amazon() -> None:
    assert terms("Patch the hosts that run Amazon Linux 2023 every week") == [("term", "Amazon Linux")]


def test_capitalised_words_opening_a_sentence_are_not_a_term() -> None:
    assert terms("Content Delivery Network nodes speed up sites") == []


def test_capitalised_compound_is_the_weakest_term() -> None:
    assert terms("RDS can run as Multi-AZ for failover") == [("service", "RDS"), ("term", "Multi-AZ")]


# Avoid: what the card's front already shows --------------------------------------------------------

def test_avoid_ignores_case_hyphens_spaces_and_plural() -> None:
    text = 'The "Visibility Timeout" hides a message from consumers'
    assert terms(text) == [("quoted", "Visibility Timeout")]
    assert terms(text, avoid=["Amazon SQS", "visibility-timeouts"]) == []


def test_avoid_rejects_a_term_contained_in_the_subject() -> None:
    assert terms("Archive cold data from S3 after 90 days", avoid=["Amazon S3 Glacier"]) == [("number", "90 days")]


def test_avoid_rejects_the_subject_under_another_name() -> None:
    assert terms("SQS decouples producers from consumers", avoid=["Amazon Simple Queue Service"]) == []
    assert terms("Keys live in the Key Management Service (KMS)", avoid=["AWS KMS"]) == []


def test_avoid_does_not_reject_a_short_term_inside_a_longer_word() -> None:
    assert terms("There are 2 kinds of tenancy", avoid=["EC2 tenancy options"]) == [("number", "2")]


# Repeats: a term must not show beside its own blank -------------------------------------------------

def test_a_term_written_twice_is_not_a_term() -> None:
    assert terms("S3 copies S3 objects across 3 AZs") == [("number", "3 AZs")]
    assert terms("Reads cost 1 unit and writes cost 1 unit") == []


def test_one_service_under_two_names_is_not_a_term() -> None:
    assert terms("SQS, the Simple Queue Service, buffers messages") == []
    assert terms("Encrypt with KMS, the AWS Key Management Service, at rest") == []


def test_a_plural_counts_as_the_same_term() -> None:
    assert terms('Register a "target group" and then two more target groups') == []


# None case and the half rule ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Think about who owns the data",
    "",
    "   ",
    "S3 Glacier",
    "Amazon Simple Queue Service",
])
def test_no_key_term(text: str) -> None:
    assert terms(text) == []


def test_a_term_hiding_more_than_half_the_words_is_refused() -> None:
    assert terms("Key Management Service (KMS)") == [("acronym", "KMS")]


# Spanish --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Las funciones pueden ejecutarse hasta 15 minutos", ("number", "15 minutos")),
    ("Las copias se conservan 12 horas", ("number", "12 horas")),
    ("La retención es de 4 días por defecto", ("default", "4 días")),
    ("El tiempo de espera por defecto es 30 segundos", ("default", "30 segundos")),
    ("El cifrado está activado por defecto", ("default", "activado")),
])
def test_spanish(text: str, expected: tuple[str, str]) -> None:
    assert best(text) == expected


# Realistic, tricky statements -------------------------------------------------------------------------

def test_at_least_once_is_not_a_number() -> None:
    assert terms("Standard queues deliver at least once, FIFO queues exactly once") == [("acronym", "FIFO")]


def test_spot_warning() -> None:
    assert terms("Spot Instances can be reclaimed after a 2-minute warning") == [
        ("number", "2-minute"), ("service", "Spot Instances"),
    ]


def test_services_before_an_unpaired_acronym() -> None:
    assert terms("Put CloudFront (a CDN) in front of the S3 origin") == [
        ("service", "CloudFront"), ("service", "S3"), ("acronym", "CDN"),
    ]


def test_subject_service_is_skipped_and_the_limit_kept() -> None:
    assert terms("Lambda@Edge viewer triggers run for up to 5 seconds", avoid=["Lambda@Edge"]) == [
        ("number", "5 seconds"),
    ]


def test_range_with_unit_is_one_term() -> None:
    assert best("Bucket names are 3-63 characters long") == ("number", "3-63 characters")


# Invariants ------------------------------------------------------------------------------------------

INVARIANT_SENTENCES = [
    "Messages live between 60 seconds and 14 days, 4 days by default",
    "Secrets are wrapped by the Key Management Service (KMS) on write",
    "S3 offers 99.99% availability across 3 AZs with Multi-AZ replication and CRR",
    'Pick "Intelligent-Tiering" to move objects after 30 days to Glacier',
    "The default visibility timeout of a queue is 30 seconds, the max is 12 hours",
]


@pytest.mark.parametrize("text", INVARIANT_SENTENCES)
def test_terms_never_overlap_and_match_their_text(text: str) -> None:
    found = key_terms(text, catalog=load_catalog())
    assert found
    for term in found:
        assert term.kind in KINDS and text[term.start : term.end] == term.text
    ordered = sorted(found, key=lambda t: t.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(ordered))


def test_key_term_is_frozen() -> None:
    term = KeyTerm(0, 2, "acronym", "S3")
    with pytest.raises(FrozenInstanceError):
        term.start = 1  # type: ignore[misc]


def test_default_catalog_is_the_shipped_one() -> None:
    assert key_terms("Ship the logs to CloudWatch Logs now") == key_terms(
        "Ship the logs to CloudWatch Logs now", catalog=load_catalog()
    )

"""The README's "What becomes a card" examples are what the tool does, checked end to end."""
from __future__ import annotations

from pathlib import Path

import aws_anki
from aws_anki.options import RunOptions

NOTES = """# AWS Lambda

## Billing

- executions are billed in **1 ms increments**
- Retention defaults to 24 hours
- Make sure permissions are right

## CloudFront Functions

- **Maximum memory**: 2 MB
"""


def test_readme_examples(tmp_path: Path) -> None:
    (tmp_path / "lambda.md").write_text(NOTES, encoding="utf-8")
    result = aws_anki.build_deck([tmp_path], run=RunOptions(use_cache=False, quality=True))
    by_line = {n.source.line: n for n in result.notes}
    assert by_line[5].fields[0] == "executions are billed in {{c1::<b>1 ms increments</b>}}"
    assert by_line[6].fields[0] == "Retention defaults to {{c1::24 hours}}"  # a plain line, no markup
    assert 7 not in by_line  # trivial advice: no card ...
    skipped = {(s.line, s.reason) for e in result.extractions for s in e.skipped}
    assert (7, "trivial") in skipped  # ... and `inspect --skipped` says why
    memory = by_line[11]
    assert (memory.fields[0], memory.fields[1], memory.context) == ("Maximum memory", "2 MB", "Amazon CloudFront › CloudFront Functions")

"""Measure how one big note file scales: seconds and peak memory per MB should stay flat.

    python benchmarks/bigfile.py                      # 5, 25 and 50 MB, plus the pathological files
    python benchmarks/bigfile.py --sizes 5 10 --repeated --no-pathological

For each size it writes one synthetic Markdown file of AWS-note-like text (headings, bullets with
bold terms, sub-bullets, plain statements, code blocks, tables; made here, nothing copied), runs
`aws-anki build FILE -o OUT --no-cache` in a fresh process, and reports wall seconds and peak RSS,
per MB of input and as ratios against the smallest size measured in the same run (x s/MB and
x RSS/MB: flat is 1.0), and of files of a few sections repeated over and over (the same fronts,
keys and lines thousands of times: `repeated`, with the same ratios). Unless --no-pathological,
it also measures a deeply indented list (`deep`, its size grows with the square of its depth)
and one long line without a newline (`line`). Nothing here asserts: it measures.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

SERVICES = (
    "Amazon S3", "AWS Lambda", "Amazon EC2", "Amazon DynamoDB", "Amazon RDS", "Amazon VPC",
    "Amazon CloudFront", "Amazon SQS", "Amazon SNS", "AWS IAM", "Amazon Kinesis", "Amazon EBS",
)
TOPICS = ("Limits", "Pricing", "Security", "Scaling", "Monitoring", "Durability", "Networking")
TERMS = ("Maximum size", "Default timeout", "Retention", "Throughput", "Minimum duration", "Replication")
UNITS = ("GB", "MB", "seconds", "minutes", "days", "requests per second")
MB = 1_000_000
REPEATED_NAMES = 10  # the "repeated" file has this many different sections' headings and terms


def section(n: int, name: int | None = None) -> str:
    """One section of synthetic notes, its words varied by `n` so that facts stay distinct; with
    `name`, its headings and terms are those of section `name` (the same front in many sections)."""
    name = n if name is None else name
    service = SERVICES[name % len(SERVICES)]
    topic = TOPICS[name % len(TOPICS)]
    term = TERMS[name % len(TERMS)]
    unit = UNITS[n % len(UNITS)]
    lines = [
        f"## {service} {topic} {name}",
        "",
        f"- **{term} {name}**: {n % 97 + 1} {unit}",
        f"- requests are **billed per {unit} {n}** after the free tier",
        f"- Standard checks run every {n % 13 + 2} minutes, detailed every {n % 5 + 1} minute in zone {n}",
        f"- **Storage classes {n}**:",
        f"  - Standard {n}: frequent access, {n % 9 + 2} AZs",
        f"  - Infrequent Access {n}: minimum **30 days** of storage",
        f"    - retrieval fee per GB for object {n}",
        f"- {service} encrypts data at rest with **KMS key {name}** by default",
        "",
        f"### {topic} details {n}",
        "",
        f"Use **{service} {n}** when the workload needs =={term.lower()} {n}== beyond {n % 50 + 1} {unit}.",
        "",
        "```bash",
        f"aws s3api put-object --bucket bucket-{n} --key notes/{n}.txt",
        "```",
        "",
        "| Option | Value | Note |",
        "|---|---|---|",
        f"| Tier {n} | {n % 11 + 1} {unit} | **default** |",
        f"| Burst {n} | {n % 7 + 3} {unit} | on demand |",
        "",
    ]
    return "\n".join(lines) + "\n"


def notes_text(size: int, names: int | None = None) -> Iterator[str]:
    """Sections of synthetic notes until about `size` characters; with `names`, only that many
    different headings and terms, repeated (as in notes pasted together: fronts, keys and whole
    lines repeat thousands of times)."""
    yield "# AWS study notes\n\n"
    written, n = 0, 0
    while written < size:
        part = section(n, None if names is None else n % names)
        written += len(part)
        n += 1
        yield part


def deep_list_text(depth: int) -> str:
    """A list nested `depth` levels, two spaces per level, each item with a bold term."""
    return "# Deep\n\n" + "".join(f"{'  ' * level}- **level {level}**: item {level}\n" for level in range(depth))


def long_line_text(size: int) -> str:
    """One line of about `size` characters, without a newline."""
    words = " ".join(f"**term{i}** is word{i}" for i in range(size // 24 + 1))
    return "# One line\n\n- " + words[:size]


def write(path: Path, parts: Iterator[str] | str) -> int:
    """Write text to `path`; return its size in bytes."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for part in [parts] if isinstance(parts, str) else parts:
            out.write(part)
    return path.stat().st_size


def measure(note: Path, out: Path) -> dict[str, float]:
    """Run `aws-anki build NOTE -o OUT --no-cache` in a fresh process; wall seconds and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "aws_anki", "build", str(note), "-o", str(out), "--no-cache", "--no-state", "-q", "-j", "1"],
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    # RUSAGE_CHILDREN's maxrss is the largest child so far: run the big files last (they are).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "peak_mb": peak / 1024 if peak > before else float("nan"),
        "code": done.returncode,
        "warnings": sum(1 for line in done.stderr.splitlines() if "warning" in line.lower()),
        "stderr_tail": done.stderr[-300:] if done.returncode else "",
    }


def run_one(kind: str, size_mb: float, folder: Path) -> dict[str, float | str]:
    """Write one file of `kind` and measure its build in a fresh process."""
    note = folder / f"{kind}-{size_mb:g}.md"
    if kind == "notes":
        nbytes = write(note, notes_text(int(size_mb * MB)))
    elif kind == "repeated":
        nbytes = write(note, notes_text(int(size_mb * MB), names=REPEATED_NAMES))
    elif kind == "deep":
        nbytes = write(note, deep_list_text(int(size_mb)))
    else:
        nbytes = write(note, long_line_text(int(size_mb * MB)))
    # Each measure in its own helper process, so that maxrss is that build's alone.
    helper = subprocess.run(
        [sys.executable, __file__, "--measure-one", str(note), str(folder / "out.apkg")],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(helper.stdout)
    note.unlink()
    return {"kind": kind, "arg": size_mb, "mb": nbytes / MB, **result}


def report(rows: list[dict[str, float | str]]) -> None:
    """Print each run, per MB and against the smallest notes file of this run."""
    bases: dict[str, dict[str, float | str]] = {}
    for row in rows:
        bases.setdefault(str(row["kind"]), row)  # the first (smallest) of each kind
    print(f"{'file':<20}{'MB':>8}{'s':>9}{'peak MB':>9}{'s/MB':>8}{'RSS/MB':>8}{'x s/MB':>8}{'x RSS/MB':>9}  exit")
    for row in rows:
        mb, seconds, peak = float(row["mb"]), float(row["seconds"]), float(row["peak_mb"])
        label = f"{row['kind']} {row['arg']:g}" + (" levels" if row["kind"] == "deep" else " MB")
        base = bases.get(str(row["kind"]))
        line = f"{label:<20}{mb:>8.2f}{seconds:>9.2f}{peak:>9.0f}{seconds / mb:>8.2f}{peak / mb:>8.1f}"
        if row["kind"] in ("notes", "repeated") and base is not None:
            bmb = float(base["mb"])
            line += f"{(seconds / mb) / (float(base['seconds']) / bmb):>8.2f}{(peak / mb) / (float(base['peak_mb']) / bmb):>9.2f}"
        else:
            line += " " * 17
        print(f"{line}  {row['code']}" + (f" {row['stderr_tail']}" if row["code"] else ""))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[5, 25, 50], help="MB of each notes file")
    parser.add_argument("--depths", type=int, nargs="+", default=[2000, 10000], help="levels of each deep list")
    parser.add_argument("--long-line", type=float, default=5, help="MB of the one-line file (0: none)")
    parser.add_argument("--repeated", type=float, nargs="*", default=[1, 5], help="MB of each file of repeated sections (none: --repeated alone)")
    parser.add_argument("--no-pathological", action="store_true", help="no deep list, no long line")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--measure-one", nargs=2, metavar=("NOTE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_one:
        print(json.dumps(measure(Path(args.measure_one[0]), Path(args.measure_one[1]))))
        return
    rows: list[dict[str, float | str]] = []
    with tempfile.TemporaryDirectory(prefix="aws-anki-bigfile-") as tmp:
        folder = Path(tmp)
        for size in sorted(args.sizes):
            rows.append(run_one("notes", size, folder))
        rows.extend(run_one("repeated", size, folder) for size in sorted(args.repeated))
        if not args.no_pathological:
            rows.extend(run_one("deep", depth, folder) for depth in args.depths)
            if args.long_line:
                rows.append(run_one("line", args.long_line, folder))
    report(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The benchmark's measured runs do the work they claim to (benchmarks/child.py). No timings here:
the benchmark measures, tests only check that what it runs is right."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from aws_anki.build import build_deck, bundled_notes
from aws_anki.options import RunOptions

CHILD = Path(__file__).resolve().parent.parent / "benchmarks" / "child.py"


def _child_module():
    spec = importlib.util.spec_from_file_location("benchmark_child", CHILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class _File:
    name: str
    text: str


@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_split_evenly_gives_every_file_once_in_balanced_shares(parts: int) -> None:
    files = [_File(f"f{i}", "x" * size) for i, size in enumerate([90, 10, 45, 45, 30, 5, 60, 20, 1])]
    shares = _child_module().split_evenly(files, parts)
    assert len(shares) == min(parts, len(files))
    assert sorted(f.name for share in shares for f in share) == sorted(f.name for f in files)
    sizes = [sum(len(f.text) for f in share) for share in shares]
    assert max(sizes) - min(sizes) <= max(len(f.text) for f in files)


def test_split_evenly_of_nothing_is_one_empty_share() -> None:
    assert _child_module().split_evenly([], 4) == [[]]


def _run_child(kind: str, tmp_path: Path, jobs: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(CHILD), kind, str(bundled_notes()), str(tmp_path / "deck.apkg"), str(tmp_path / "cache"), str(jobs)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the bound run forks its processes")
def test_bound_run_makes_every_files_notes_over_its_processes(tmp_path: Path) -> None:
    info = _run_child("bound", tmp_path, 2)
    assert info["workers"] == 2
    report = build_deck([bundled_notes()], run=RunOptions(use_cache=False)).report
    assert info["notes"] == report.notes + report.merged  # every file's notes, before duplicates merge


def test_cold_run_builds_the_deck(tmp_path: Path) -> None:
    info = _run_child("cold", tmp_path, 1)
    assert info["notes"] > 0 and not info["up_to_date"]
    assert (tmp_path / "deck.apkg").stat().st_size == info["size"]

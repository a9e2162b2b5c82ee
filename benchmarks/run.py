"""Benchmark aws_anki on synthetic vaults: parse floor, cold build, rebuilds, memory and package size.

    python benchmarks/run.py --scale 1 10 100

For each scale it makes a vault of about SCALE x 450 KB (files of about 45 KB: 10 at 1x, 1,000 at
100x) from the bundled notes and, when present, ../shared/real_notes (read at run time, never
copied into the repository), varying the text of every copy so that facts stay distinct. Then it
measures, each run in a fresh process (wall time, CPU time of the process and its workers, peak RSS):

- floor:   read the same files and parse them with mistune, in one process (the single-core floor);
- cold:    `build_into` (what `aws-anki build` runs) with an empty cache and no previous build;
- nochange: the same build again (cache and build state kept);
- onefile: the same after editing one file;
- bound (with --bound): only the per-file work (parse, extract, notes), the files split evenly over
  one process per worker forked after the imports: what no build with this per-file code can beat
  on this machine;

and prints medians of --repeat runs, per-stage seconds, and the ratios the targets are about.
Nothing here asserts: it measures. Run `--switch` to see where parallel parsing starts to pay.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "source_notes"
CHILD = Path(__file__).resolve().parent / "child.py"
REAL_NOTES = REPO.parent / "shared" / "real_notes"
UNIT_BYTES = 450_000  # 1x
FILE_BYTES = 40_500  # a file is closed once it reaches this; they average about 45 KB
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_LAST_WORD = re.compile(r"\b([a-z]{4,})\b(?!.*\b[a-z]{4,}\b)")
_FENCE = re.compile(r"^\s*(```|~~~)")


# ---------------------------------------------------------------- the synthetic vault


def corpus_units(real_notes: Path | None) -> list[str]:
    """Pieces of notes to copy: each bundled note, and the real notes cut at their headings,
    interleaved by size so that any prefix (the 1x vault) has the same mix as the whole."""
    bundled = [_strip_front_matter(p.read_text(encoding="utf-8")) for p in sorted(BUNDLED.rglob("*.md"))]
    real: list[str] = []
    if real_notes is not None and real_notes.is_dir():
        for path in sorted(real_notes.rglob("*.md")):
            real.extend(_split_at_headings(_strip_front_matter(path.read_text(encoding="utf-8", errors="replace"))))
    groups = [[u for u in group if u.strip()] for group in (bundled, real)]
    totals = [sum(map(len, group)) or 1 for group in groups]
    taken = [0, 0]
    used = [0, 0]
    units: list[str] = []
    while any(taken[g] < len(groups[g]) for g in (0, 1)):
        # Take next from the group that is furthest behind its share of the bytes.
        g = min((g for g in (0, 1) if taken[g] < len(groups[g])), key=lambda g: used[g] / totals[g])
        units.append(groups[g][taken[g]])
        used[g] += len(groups[g][taken[g]])
        taken[g] += 1
    return units


def _strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end >= 0:
            return text[text.find("\n", end + 1) + 1 :]
    return text


def _split_at_headings(text: str, least: int = 2_000) -> Iterator[str]:
    """Cut before headings of level 1-3 outside code, into pieces of at least `least` characters."""
    piece: list[str] = []
    size = 0
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and size >= least and re.match(r"#{1,3}[ \t]", line):
            yield "\n".join(piece) + "\n"
            piece, size = [], 0
        piece.append(line)
        size += len(line) + 1
    if piece:
        yield "\n".join(piece) + "\n"


def vary(text: str, copy: int) -> str:
    """Copy `copy` of a unit: headings get a suffix, each line's last lower-case word a number."""
    if copy == 0:
        return text
    out = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            out.append(line)
            continue
        heading = _HEADING.match(line)
        if fenced or not line.strip() or "://" in line:
            out.append(line)
        elif heading:
            out.append(f"{heading.group(1)} {heading.group(2)} {copy}")
        else:
            out.append(_LAST_WORD.sub(lambda m: f"{m.group(1)}{copy}", line, count=1))
    return "\n".join(out)


def make_vault(scale: float, target: Path, real_notes: Path | None) -> tuple[int, int]:
    """Write the vault for `scale`; returns (files, bytes of Markdown)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if (BUNDLED / "attachments").is_dir():
        shutil.copytree(BUNDLED / "attachments", target / "attachments")
    units = corpus_units(real_notes)
    wanted = int(scale * UNIT_BYTES)
    written = files = 0
    current: list[str] = []
    size = 0
    position = 0
    while written + size < wanted:
        copy, index = divmod(position, len(units))
        piece = vary(units[index], copy)
        current.append(piece)
        size += len(piece.encode("utf-8"))
        position += 1
        if size >= FILE_BYTES:
            written += _write_file(target, files, current)
            files += 1
            current, size = [], 0
    if current:
        written += _write_file(target, files, current)
        files += 1
    return files, written


def _write_file(target: Path, number: int, pieces: list[str]) -> int:
    folder = target / f"part-{number // 100:02d}"
    folder.mkdir(exist_ok=True)
    data = "\n\n".join(p.strip("\n") for p in pieces).encode("utf-8") + b"\n"
    (folder / f"notes-{number:04d}.md").write_bytes(data)
    return len(data)


def edit_one_file(vault: Path) -> tuple[Path, bytes]:
    """Change one fact in the middle file of the vault; returns the file and its old bytes."""
    files = sorted(vault.rglob("*.md"))
    path = files[len(files) // 2]
    old = path.read_bytes()
    text = old.decode("utf-8")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("- ") and len(line) > 20:
            lines[i] = line + " (edited)"
            break
    else:
        lines.append("- **Edited fact**: one line added by the benchmark")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, old


# ---------------------------------------------------------------- one measured run (a fresh process)


def snapshot_code(work: Path) -> Path:
    """Copy this checkout's package (and templates) aside, so that every run of the benchmark
    measures the same code even while the working tree is being edited (the cache would otherwise
    be invalidated between a build and its rebuild, as it should be)."""
    target = work / "code"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPO / "aws_anki", target / "aws_anki", ignore=shutil.ignore_patterns("__pycache__"))
    if (REPO / "templates").is_dir():
        shutil.copytree(REPO / "templates", target / "templates")
    # Compiled once, as `pip install` does: otherwise every measured process (PYTHONDONTWRITEBYTECODE
    # is common in containers) compiles aws_anki from source, while mistune comes compiled.
    compileall.compile_dir(str(target / "aws_anki"), quiet=1)
    return target


def measure(kind: str, vault: Path, out: Path, cache_dir: Path, jobs: int | None) -> dict[str, Any]:
    """Run one measurement in a fresh process: wall, CPU (with its workers), peak RSS."""
    command = [sys.executable, str(CHILD), kind, str(vault), str(out), str(cache_dir), str(jobs or 0)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{stderr.decode(errors='replace')}")
    info = json.loads(stdout.decode().strip().splitlines()[-1])
    info["wall"] = wall
    return info


_ENV = dict(os.environ)


# ---------------------------------------------------------------- the benchmark


def run_scale(
    scale: float, work: Path, repeat: int, jobs: int | None, real_notes: Path | None, bound: bool = False
) -> dict[str, Any]:
    vault = work / f"vault-{scale:g}x"
    files, size = make_vault(scale, vault, real_notes)
    print(f"\n{scale:g}x: {files} files, {size / 1e6:.2f} MB in {vault}", flush=True)
    kinds = ("floor", "cold", "nochange", "onefile") + (("bound",) if bound else ())
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    genanki_size = 0
    for attempt in range(repeat):
        runs["floor"].append(measure("floor", vault, work / "unused.apkg", work, jobs))
        if bound:
            runs["bound"].append(measure("bound", vault, work / "unused.apkg", work, jobs))
        cache_dir = work / f"cache-{scale:g}x-{attempt}"
        out = work / f"deck-{scale:g}x.apkg"
        for leftover in (cache_dir, out, out.with_name(out.name + ".lock.json")):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink(missing_ok=True)
        cold = measure("genanki" if attempt == 0 else "cold", vault, out, cache_dir, jobs)
        genanki_size = cold.get("genanki_size", genanki_size)
        if attempt == 0:  # the genanki write is not part of the build: time a plain cold build too
            shutil.rmtree(cache_dir)
            out.with_name(out.name + ".lock.json").unlink()
            cold = measure("cold", vault, out, cache_dir, jobs)
        runs["cold"].append(cold)
        runs["nochange"].append(measure("nochange", vault, out, cache_dir, jobs))
        path, old = edit_one_file(vault)
        try:
            runs["onefile"].append(measure("onefile", vault, out, cache_dir, jobs))
        finally:
            path.write_bytes(old)
        shutil.rmtree(cache_dir, ignore_errors=True)
        summary = ", ".join(f"{k} {v[-1]['wall']:.2f}s" for k, v in runs.items())
        print(f"  run {attempt + 1}/{repeat}: {summary}", flush=True)
    return {"scale": scale, "files": files, "bytes": size, "runs": runs, "genanki_size": genanki_size}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _stage(runs: list[dict[str, Any]], stage: str) -> float:
    return statistics.median(r["seconds"].get(stage, 0.0) for r in runs)


def report(results: list[dict[str, Any]]) -> None:
    print("\nMedians (wall s / CPU s / peak RSS main+worker MB):")
    print(f"{'scale':>6} {'files':>6} {'MB':>6} | {'floor':>16} | {'cold':>22} | {'nochange':>16} | {'onefile':>16}")
    for r in results:
        runs = r["runs"]
        cells = []
        for kind in ("floor", "cold", "nochange", "onefile"):
            rss = _median(runs[kind], "rss_main_mb")
            workers = _median(runs[kind], "rss_worker_mb")
            rss_text = f"{rss:.0f}+{workers:.0f}" if kind == "cold" else f"{rss:.0f}"
            cells.append(f"{_median(runs[kind], 'wall'):6.2f} {_median(runs[kind], 'cpu'):6.2f} {rss_text:>8}")
        print(f"{r['scale']:>5g}x {r['files']:>6} {r['bytes'] / 1e6:6.2f} | " + " | ".join(cells))

    print("\nCold build, median seconds per stage (workers used):")
    stages = ("import_", "read", "parse+extract+notes", "merge", "report", "write")
    print(f"{'scale':>6} " + " ".join(f"{s.rstrip('_'):>19}" for s in stages) + f" {'notes':>8} {'workers':>8}")
    for r in results:
        cold = r["runs"]["cold"]
        print(f"{r['scale']:>5g}x " + " ".join(f"{_stage(cold, s):19.3f}" for s in stages)
              + f" {cold[0]['notes']:>8} {cold[0]['workers']:>8}")
    print("Rebuild after editing one file, median seconds per stage:")
    for r in results:
        one = r["runs"]["onefile"]
        print(f"{r['scale']:>5g}x "
              + ", ".join(f"{name.rstrip('_')} {_stage(one, name):.3f}" for name in one[0]["seconds"]))

    base = results[0]
    base_per_mb = _median(base["runs"]["cold"], "wall") / (base["bytes"] / 1e6)
    print("\nRatios (targets in brackets):")
    print(f"{'scale':>6} {'cold/floor':>11} {'per MB vs ' + format(base['scale'], 'g') + 'x':>14} {'nochange/cold':>14}"
          f" {'onefile/cold':>13} {'apkg/genanki':>13} {'peak RSS MB':>12}")
    print(f"{'':>6} {'[<=1.5 @1x]':>11} {'[<=1.2]':>14} {'[<=0.10]':>14} {'[<=0.15]':>13} {'[<=0.55]':>13} {'[<1024]':>12}")
    for r in results:
        runs = r["runs"]
        cold = _median(runs["cold"], "wall")
        per_mb = cold / (r["bytes"] / 1e6)
        workers = max(run["workers"] for run in runs["cold"])
        peak = _median(runs["cold"], "rss_main_mb") + workers * _median(runs["cold"], "rss_worker_mb")
        apkg = runs["cold"][0]["size"] / r["genanki_size"] if r["genanki_size"] else float("nan")
        print(f"{r['scale']:>5g}x {cold / _median(runs['floor'], 'wall'):11.2f} {per_mb / base_per_mb:14.2f}"
              f" {_median(runs['nochange'], 'wall') / cold:14.3f} {_median(runs['onefile'], 'wall') / cold:13.3f}"
              f" {apkg:13.2f} {peak:12.0f}")
    bounded = [r for r in results if r["runs"].get("bound")]
    if bounded:
        print("\nPer-file bound: parse, extract and notes only, the files split evenly over the workers"
              " (forked after the imports); nothing sent back, cached, merged or written:")
        print(f"{'scale':>6} {'workers':>8} {'bound s':>8} {'bound/floor':>12} {'cold/bound':>11}")
        for r in bounded:
            runs = r["runs"]
            least = _median(runs["bound"], "wall")
            print(f"{r['scale']:>5g}x {runs['bound'][0]['workers']:>8} {least:8.2f}"
                  f" {least / _median(runs['floor'], 'wall'):12.2f} {_median(runs['cold'], 'wall') / least:11.2f}")


def switch_point(work: Path, real_notes: Path | None, repeat: int) -> None:
    """Per-file time (parse, extract, notes) in one process vs in workers, for growing inputs (no cache)."""
    from aws_anki.parallel import notes_all, worker_count
    from aws_anki.read import read_sources

    print(f"\nWhere parallel parsing pays ({worker_count()} CPUs; medians of {max(repeat, 5)}; seconds):")
    print(f"{'KB':>6} {'files':>6} {'serial':>8} {'parallel':>9} {'ratio':>6}")
    for kb in (32, 64, 128, 256, 512, 1024, 2048):
        vault = work / f"switch-{kb}"
        make_vault(kb * 1000 / UNIT_BYTES, vault, real_notes)
        sources = read_sources([vault]).files
        times = {}
        for label, jobs, threshold in (("serial", 1, 0), ("parallel", None, 0)):
            samples = []
            for _ in range(max(repeat, 5)):
                started = time.perf_counter()
                notes_all(sources, jobs=jobs, min_parallel_bytes=threshold)
                samples.append(time.perf_counter() - started)
            times[label] = statistics.median(samples)
        print(f"{kb:>6} {len(sources):>6} {times['serial']:8.3f} {times['parallel']:9.3f} {times['parallel'] / times['serial']:6.2f}")
        shutil.rmtree(vault)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[1, 10, 100], help="vault sizes, in units of 450 KB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are reported")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per CPU)")
    parser.add_argument("--real-notes", type=Path, default=REAL_NOTES, help="extra notes to copy from, if present")
    parser.add_argument("--workdir", type=Path, help="where vaults and caches go (default: a temporary folder)")
    parser.add_argument("--switch", action="store_true", help="also measure where parallel parsing starts to pay")
    parser.add_argument("--bound", action="store_true",
                        help="also measure the per-file work alone, split over the workers (needs os.fork)")
    parser.add_argument("--json", type=Path, help="also write all measurements to this file")
    args = parser.parse_args()
    real_notes = args.real_notes if args.real_notes and args.real_notes.is_dir() else None
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aws-anki-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    code = snapshot_code(work)
    _ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(code))
    print(f"aws_anki benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"notes from {BUNDLED}" + (f" and {real_notes}" if real_notes else "") + f"; code copied to {code}")
    try:
        bound = args.bound and hasattr(os, "fork")
        if args.bound and not bound:
            print("--bound needs os.fork, which this system lacks: not measured")
        results = [run_scale(scale, work, args.repeat, args.jobs or None, real_notes, bound) for scale in args.scale]
        report(results)
        if args.switch:
            switch_point(work, real_notes, args.repeat)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

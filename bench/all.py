"""Every benchmark in one run, then one summary table: `make bench`.

    python -m bench.all --write-docs      # what `make bench` runs (about an hour on 2 CPUs)
    python -m bench.all --quick           # small counts, a few minutes: a smoke run
    python -m bench.all --only run,dashboard --stores sqlite

Each benchmark runs in its own process, one after the other (so none measures while another
loads the CPUs), printing its own tables as it goes; every figure it records
(`bench/results.py`) lands in one results file. The summary puts each figure beside the bare
library's figure measured in the same run, its ratio, the target the issues set and whether
it is met, and the machine it was measured on (CPUs and the load average at that moment).
With `--write-docs` the summary replaces the part of docs/performance.md between the
`summary:` markers (and `bench.run` its own detailed tables).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.results import COMMIT, ENV, Result, read

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- summary:start -->", "<!-- summary:end -->"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
AREAS = [
    "commands",
    "orders",
    "projections",
    "replay",
    "audit",
    "finance",
    "pages",
    "imports",
    "exports",
    "scaling",
]


@dataclass(frozen=True)
class Step:
    """One benchmark: its module, the arguments of a full and of a quick run, and how it
    takes the stores (`comma`: --stores a,b; `list`: --stores a b; `postgres`: it measures
    PostgreSQL only, and is left out when PostgreSQL is not asked for)."""

    module: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    stores: str = "comma"

    def command(self, quick: bool, stores: list[str], write_docs: bool) -> list[str]:
        args = [sys.executable, "-m", f"bench.{self.module}", *(self.quick if quick else self.full)]
        if self.stores == "comma":
            args += ["--stores", ",".join(stores)]
        elif self.stores == "list":
            args += ["--stores", *stores]
        if write_docs and self.module == "run":
            args.append("--write-docs")
        return args


STEPS = [
    Step("run", (), ("--quick",)),
    Step("imports", (), ("--quick",), stores="list"),
    Step("exports", (), ("--rows", "1000"), stores="list"),
    Step("dashboard", (), ("--orders", "3000", "--requests", "5")),
    Step("order_pages", (), ("--orders", "3000", "--real", "30", "--requests", "5"), "list"),
    Step("stock_finance_pages", (), ("--orders", "3000", "--requests", "5")),
    # PostgreSQL only: several API processes share one event store.
    Step("scaling", (), ("--seconds", "3", "--rounds", "1", "--pairs", "20"), "postgres"),
]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.summarise:  # the table again from an earlier run's results
        print(summary(read(args.summarise), args.quick, 0.0, []))
        return 0
    steps = [s for s in STEPS if not args.only or s.module in args.only]
    steps = [s for s in steps if s.stores != "postgres" or "postgres" in args.stores]
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    results_file = args.results or out / f"results-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
    if args.results:
        forget(results_file, steps, args.stores)
    env = {
        **os.environ,
        ENV: str(results_file),
        "ORDERLEDGER_BENCH_POSTGRES_URL": args.postgres_url,
        COMMIT: commit(),
    }
    started, failed = time.perf_counter(), []
    for step in steps:
        command = step.command(args.quick, args.stores, args.write_docs)
        print(f"\n== {' '.join(command[1:])}", flush=True)
        began = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        print(
            f"== bench.{step.module}: {time.perf_counter() - began:.0f} s, exit {code}", flush=True
        )
        if code:
            failed.append(f"bench.{step.module} (exit {code})")
    results = read(results_file)
    block = summary(results, args.quick, time.perf_counter() - started, failed)
    print("\n" + block)
    print(f"\nresults: {results_file}")
    if args.write_docs:
        write_summary(DOCS, block)
        print(f"wrote {DOCS.relative_to(ROOT)}")
    return 1 if failed else 0


LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def forget(results_file: Path, steps: list[Step], stores: list[str]) -> None:
    """An earlier run continued: the figures the steps about to run measure again (on
    these stores, and in memory) are dropped."""
    again = {f"python -m bench.{step.module}" for step in steps}
    measured = {LABELS[store] for store in stores} | {"memory"}
    kept = [r for r in read(results_file) if r.bench not in again or r.store not in measured]
    results_file.write_text("".join(r.to_json() + "\n" for r in kept), "utf-8")


def summary(results: list[Result], quick: bool, seconds: float, failed: list[str]) -> str:
    """The Markdown block: where the run happened, then one row per figure and store."""
    met = [r for r in results if r.met is True]
    missed = [r for r in results if r.met is False]
    mode = "quick run, small counts: not representative" if quick else "full run"
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `python -m bench.all` ({mode},"
        f" {seconds / 60:.0f} min) on {machine()}; the machine column gives each figure's"
        " CPUs, load average and the commit measured.",
        "",
        f"**{len(met)} targets met, {len(missed)} missed** of {len(met) + len(missed)} with a"
        " target; the other rows have no target of their own and are shown for what they cost.",
        "",
        "| area | figure | store | measured | bare library, same run | ratio | target | verdict"
        " | machine |",
        "|---|---|---|--:|--:|--:|---|---|---|",
    ]
    for result in sorted(results, key=lambda r: (_area_rank(r.area), r.bench)):
        lines.append(row(result))
    if failed:
        lines += ["", f"Did not finish: {', '.join(failed)} (their figures are missing above)."]
    return "\n".join(lines)


def row(r: Result) -> str:
    baseline = "—"
    if r.baseline:
        baseline = f"{_number(r.baseline)} {r.unit}"
        if r.baseline_name:
            baseline += f" ({r.baseline_name})"
    ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
    verdict = "—" if r.met is None else "met" if r.met else f"**MISSED** ({_gap(r)})"
    target = r.target_text or "—"
    machine_now = f"{r.cpus} CPUs, load {r.load:.1f}" + (f", {r.commit}" if r.commit else "")
    cells = [
        r.area,
        _cell(r.figure),
        r.store,
        f"{_number(r.value)} {r.unit}",
        _cell(baseline),
        ratio,
        _cell(target),
        verdict,
        machine_now,
    ]
    return "| " + " | ".join(cells) + " |"


def _gap(r: Result) -> str:
    assert r.target
    if r.lower_is_better:
        return f"{r.value / r.target - 1:.0%} over"
    return f"{1 - r.value / r.target:.0%} short"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _area_rank(area: str) -> int:
    return AREAS.index(area) if area in AREAS else len(AREAS)


def commit() -> str:
    """The checkout's commit, marked when files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    try:
        head, changed = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "-uno")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if changed.strip() else head


def machine() -> str:
    """CPU model, CPUs, memory, OS, Python and the libraries the figures depend on."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = next(
            int(line.split()[1]) / 2**20
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{memory:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown memory"
    import sqlite3

    return (
        f"{os.cpu_count()} CPUs ({model}), {ram}, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}, eventsourcing {version('eventsourcing')},"
        f" psycopg {version('psycopg')}, SQLite {sqlite3.sqlite_version}"
    )


def write_summary(path: Path, block: str) -> None:
    """Replace what lies between the summary markers in `path` with `block`."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {START} … {END} markers to write between")
    path.write_text(pattern.sub(lambda _: f"{START}\n{block}\n{END}", text, count=1), "utf-8")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.all", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--stores",
        default="sqlite,postgres",
        type=lambda value: [p.strip() for p in value.split(",") if p.strip()],
    )
    parser.add_argument(
        "--only",
        type=lambda value: [p.strip() for p in value.split(",")],
        help=f"comma-separated, of: {', '.join(s.module for s in STEPS)}",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ORDERLEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    parser.add_argument(
        "--results",
        type=Path,
        metavar="RESULTS",
        help="continue an earlier run's results file (the benchmarks run now replace theirs)",
    )
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="RESULTS",
        help="print the summary of an earlier run's results file and stop",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"rewrite the summary (and bench.run's tables) in {DOCS.name}",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.stores) - {"sqlite", "postgres"}:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    if args.only and (unknown := set(args.only) - {s.module for s in STEPS}):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.quick and args.write_docs:
        parser.error("a quick run's figures are not representative: --write-docs needs a full run")
    return args


if __name__ == "__main__":
    raise SystemExit(main())

"""Full rebuild of every read model and the hash-chain verify over a mixed company log.

    python -m bench.rebuild                           # 1,000,000 events, SQLite and PostgreSQL
    python -m bench.rebuild --events 50000 --stores sqlite
    python -m bench.rebuild --log var/mixed-1m.db     # record once, reuse in later runs

The log is recorded once by the ledger's commands (`bench/mixed_log.py`) into SQLite and
copied event for event into PostgreSQL, so both stores rebuild the same history. Each
measurement runs in a fresh Python process (the store already filled), so its peak resident
size (`VmHWM`) is that of the rebuild or the verify alone, not of the generation:

- **rebuild**: `ProjectionRunner.rebuild_all()`, what `orderledger projections rebuild`
  runs — every read model into shadow tables from position 0 in one pass, then switched;
- **verify**: `audit verify` recomputing the hash chain the rebuild linked, then (logs up to
  200,000 events) once more under tracemalloc, not timed, for the peak of Python allocations.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from api.runtime import open_runtime
from api.settings import Settings
from bench.mixed_log import generate_mixed_log
from bench.stores import StoreFactory, postgres_problem
from domain.ledger import Ledger
from projections.store import PostgresViewStore
from replay import audit

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
COPY_PAGE = 5_000
ROOT = Path(__file__).resolve().parent.parent
REBUILD_TARGET = 50_000  # log events/s on PostgreSQL
VERIFY_TARGET = 100_000
MEMORY_LIMIT_MB = 500
TRACED_UP_TO = 200_000  # events: a longer log's verify is not repeated under tracemalloc


@dataclass(frozen=True)
class Run:
    """One measurement in its own process."""

    events: int
    seconds: float
    rss_mb: float  # the process's peak resident size
    start_rss_mb: float  # resident size before the work (interpreter, imports, runtime)
    traced_mb: float | None = None  # peak of Python allocations (tracemalloc), if taken

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class RebuildRates:
    events: int
    generate_seconds: float  # recording the log by command (SQLite; PostgreSQL copies it)
    rebuild: Run
    verify: Run


def measure_rebuild(factory: StoreFactory, settings: Settings, source: Settings | None) -> Any:
    """Rebuild and verify on `settings`' store, first filling it from `source` (a store
    already holding the mixed log) when given; the caller generated the log otherwise."""
    if source is not None:
        copy_log(source, settings)
    rebuild = _child("rebuild", settings)
    verify = _child("verify", settings)
    return rebuild, verify


def copy_log(source: Settings, target: Settings) -> int:
    """Every stored event of `source`, in order, inserted into `target`'s empty log
    (through the library's recorders, many events per transaction)."""
    if target.is_postgres:
        PostgresViewStore.ensure_schema(target.postgres_conninfo(), target.events_schema)
    reader, writer = Ledger(source.eventsourcing_env()), Ledger(target.eventsourcing_env())
    try:
        head, position = reader.head(), 0
        while position < head:
            notes = reader.recorder.select_notifications(
                start=position + 1, limit=COPY_PAGE, stop=head
            )
            writer.recorder.insert_events(list(notes))
            position = notes[-1].id
        return writer.head()
    finally:
        reader.close()
        writer.close()


def _child(what: str, settings: Settings) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rebuild", "--child", what, settings.model_dump_json()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr}")
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """This process's own high-water mark. Not `ru_maxrss`: Linux carries the parent's peak
    over a fork into the child's, so a child of the generating process would report that."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(what: str, settings: Settings) -> Run:
    """The measurement itself, in this (fresh) process."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        start_rss, head = _rss_mb(), runtime.ledger.head()
        started = time.perf_counter()
        if what == "rebuild":
            runtime.runner.rebuild_all()
            seconds = time.perf_counter() - started
            return Run(head, seconds, _peak_mb(), start_rss)
        result = audit.verify_log(runtime.ledger, runtime.store)
        seconds = time.perf_counter() - started
        if not result.ok or result.verified != head:
            raise RuntimeError(f"the bench log did not verify: {result}")
        peak = _peak_mb()
        if head > TRACED_UP_TO:  # tracemalloc slows a verify several times over
            return Run(head, seconds, peak, start_rss)
        tracemalloc.start()
        audit.verify_log(runtime.ledger, runtime.store)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return Run(head, seconds, peak, start_rss, traced)
    finally:
        runtime.close()


def measure(
    kinds: list[str], events: int, postgres_url: str, log: Path | None = None
) -> dict[str, RebuildRates]:
    """The log generated once (SQLite), copied to PostgreSQL, both measured. With `log`, a
    SQLite file recorded by an earlier run is reused (and a new one kept there)."""
    results: dict[str, RebuildRates] = {}
    with StoreFactory("sqlite", postgres_url) as sqlite:
        source = Settings(database_url=f"sqlite:///{log}") if log else sqlite.settings("mixed")
        started = time.perf_counter()
        if log is None or not log.exists():
            print(f"recording a mixed log of ~{events:,} events", file=sys.stderr, flush=True)
            generate_mixed_log(source, events)
        generated = time.perf_counter() - started
        reader = Ledger(source.eventsourcing_env())
        head = reader.head()
        reader.close()
        for kind in kinds:
            if kind == "postgres" and (problem := postgres_problem(postgres_url)):
                print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
                continue
            with StoreFactory(kind, postgres_url) as factory:
                print(f"[{factory.label}] rebuild and verify", file=sys.stderr, flush=True)
                settings = factory.settings("rebuild") if kind == "postgres" else source
                rebuild, verify = measure_rebuild(
                    factory, settings, source if kind == "postgres" else None
                )
                results[factory.label] = RebuildRates(head, generated, rebuild, verify)
    return results


def rebuild_table(results: dict[str, RebuildRates]) -> str:
    lines = [
        "| store | log events | full rebuild, log events/s (target ≥ 50,000 on PostgreSQL)"
        " | seconds | peak RSS MB | verify events/s (target ≥ 100,000) | seconds"
        " | peak RSS MB | verify peak Python MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        b, v = r.rebuild, r.verify
        lines.append(
            f"| {label} | {r.events:,} | {b.rate:,.0f} | {b.seconds:.1f} | {b.rss_mb:.0f}"
            f" | {v.rate:,.0f} | {v.seconds:.1f} | {v.rss_mb:.0f} | {_traced(v)} |"
        )
    return "\n".join(lines)


def _traced(run: Run) -> str:
    return "—" if run.traced_mb is None else f"{run.traced_mb:.1f}"


def rebuild_verdicts(results: dict[str, RebuildRates]) -> list[str]:
    found = []
    for label, r in results.items():
        if label == "PostgreSQL":
            found.append(_verdict(f"full rebuild on {label}", r.rebuild.rate, REBUILD_TARGET))
        found.append(_verdict(f"chain verify on {label}", r.verify.rate, VERIFY_TARGET))
        for what, run in (("rebuild", r.rebuild), ("verify", r.verify)):
            ok = run.rss_mb < MEMORY_LIMIT_MB
            found.append(
                f"{'met' if ok else 'MISSED'}: peak memory of the {what} on {label}"
                f" {run.rss_mb:.0f} MB (< {MEMORY_LIMIT_MB} MB)"
            )
    return found


def _verdict(what: str, rate: float, goal: float) -> str:
    if rate >= goal:
        return f"met: {what} {rate:,.0f} events/s (≥ {goal:,})"
    return f"MISSED: {what} {rate:,.0f} events/s, {1 - rate / goal:.0%} short of {goal:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--log", type=Path, help="SQLite file of the mixed log: reused, or kept")
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "SETTINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        what, settings = args.child
        print(json.dumps(asdict(child(what, Settings.model_validate_json(settings)))))
        return 0
    results = measure(args.stores, args.events, args.postgres_url, args.log)
    generated = next(iter(results.values())).generate_seconds if results else 0.0
    print(f"log recorded by command in {generated:.0f} s")
    print(rebuild_table(results))
    print("\n".join(rebuild_verdicts(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

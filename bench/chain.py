"""The hash chain over a log of 100,000+ events: linking (the follower), verifying, and
exporting the log as an audit bundle and verifying that bundle.

    python -m bench.chain                         # SQLite and PostgreSQL, 100,000 events
    python -m bench.chain --stores sqlite --events 1000000

Rates are wall-clock events per second over the whole log; peak memory is what Python
allocated during one more verification, export and bundle verification under tracemalloc
(which slows them, so those passes are not timed), and the process's peak resident size at
the end (which includes generating the log).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from bench.projection import generate_log
from bench.stores import StoreFactory, postgres_problem
from replay import audit
from replay.bundle_verify import verify_bundle
from replay.chain_follower import ChainProjection
from replay.export import export_bundle
from replay.moments import at_position

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SKUS = 1_000


@dataclass(frozen=True)
class ChainRates:
    events: int
    link: float  # events/s the follower links, from position 0
    verify: float  # events/s `audit verify` recomputes and compares
    verify_peak_mb: float  # Python allocations at their peak during a verification
    rss_mb: float  # the process's peak resident size
    export: float  # events/s `audit export` checks and writes into a bundle folder
    verify_export: float  # events/s the bundle verifier (verify_bundle.py) checks a bundle
    export_peak_mb: float  # Python allocations at their peak during an export
    verify_export_peak_mb: float  # … and during the bundle's verification


def measure_chain(settings: Settings, events: int, repeats: int = 3) -> ChainRates:
    runtime = open_runtime(settings, start_projections=False)
    try:
        head = generate_log(runtime.ledger, events, SKUS)
        started = time.perf_counter()
        runtime.runner.catch_up(ChainProjection.name)
        link = head / (time.perf_counter() - started)
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = audit.verify_log(runtime.ledger, runtime.store)
            rates.append(result.verified / (time.perf_counter() - started))
            if not result.ok or result.verified != head:
                raise RuntimeError(f"the bench log did not verify: {result}")
        tracemalloc.start()
        audit.verify_log(runtime.ledger, runtime.store)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        bundle = measure_export(runtime, head)
    finally:
        runtime.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    median = sorted(rates)[len(rates) // 2]
    return ChainRates(head, link, median, peak / 2**20, rss, *bundle)


def measure_export(runtime: Runtime, head: int) -> tuple[float, float, float, float]:
    """An unsigned export of the whole log into a temporary folder and its verification,
    each timed once, then each again under tracemalloc (untimed) for its peak memory."""
    moment = at_position(runtime.ledger, head)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        out, again = Path(folder) / "bundle", Path(folder) / "again"
        started = time.perf_counter()
        done = export_bundle(runtime.ledger, runtime.store, out, moment)
        export = done.events / (time.perf_counter() - started)
        started = time.perf_counter()
        checked = verify_bundle(out)
        verify = checked.events / (time.perf_counter() - started)
        export_peak = _peak_mb(lambda: export_bundle(runtime.ledger, runtime.store, again, moment))
        verify_peak = _peak_mb(lambda: verify_bundle(out))
    return export, verify, export_peak, verify_peak


def _peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def chain_table(results: dict[str, ChainRates]) -> str:
    lines = [
        "| store | events | link events/s | verify events/s (target ≥ 100,000) |"
        " verify peak MB | process peak RSS MB | export events/s (target ≥ 50,000) |"
        " verify-export events/s (target ≥ 100,000) | export peak MB | verify-export peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r.events:,} | {r.link:,.0f} | {r.verify:,.0f} |"
            f" {r.verify_peak_mb:.1f} | {r.rss_mb:.0f} | {r.export:,.0f} | {r.verify_export:,.0f} |"
            f" {r.export_peak_mb:.1f} | {r.verify_export_peak_mb:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    results = {}
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            results[factory.label] = measure_chain(factory.settings("chain"), args.events)
    print(chain_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

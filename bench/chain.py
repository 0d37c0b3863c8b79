"""The hash chain over a log of 100,000+ events: linking (the follower) and verifying.

    python -m bench.chain                         # SQLite and PostgreSQL, 100,000 events
    python -m bench.chain --stores sqlite --events 1000000

Rates are wall-clock events per second over the whole log; peak memory is what Python
allocated during one more verification under tracemalloc (which slows it, so that pass is
not timed), and the process's peak resident size at the end.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass

from api.runtime import open_runtime
from api.settings import Settings
from bench.projection import generate_log
from bench.stores import StoreFactory, postgres_problem
from replay import audit
from replay.chain_follower import ChainProjection

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SKUS = 1_000


@dataclass(frozen=True)
class ChainRates:
    events: int
    link: float  # events/s the follower links, from position 0
    verify: float  # events/s `audit verify` recomputes and compares
    verify_peak_mb: float  # Python allocations at their peak during a verification
    rss_mb: float  # the process's peak resident size


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
    finally:
        runtime.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return ChainRates(head, link, sorted(rates)[len(rates) // 2], peak / 2**20, rss)


def chain_table(results: dict[str, ChainRates]) -> str:
    lines = [
        "| store | events | link events/s | verify events/s (target ≥ 100,000) |"
        " verify peak MB | process peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r.events:,} | {r.link:,.0f} | {r.verify:,.0f} |"
            f" {r.verify_peak_mb:.1f} | {r.rss_mb:.0f} |"
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

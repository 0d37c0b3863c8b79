"""Inventory as of a random past position: the cost of a replay without checkpoints.

    python -m bench.asof [--events 100000] [--stores sqlite,postgres]

Over the projection bench's log of real stock movements, each measurement replays the
inventory projection from position 0 to a random past position into a scratch store (the
same code path as `orderledger replay as-of inventory`), then reads every row. Also: a
recorded time mapped to its position (binary search), how often recorded times step back
along the log, and the peak of Python memory during one replay (tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

from api.runtime import open_runtime
from bench.projection import generate_log
from bench.stores import StoreFactory, postgres_problem
from domain.ledger import Ledger
from replay.asof import replay_as_of
from replay.inventory import inventory_rows
from replay.moments import at_position, at_time, recorded_at
from replay.scratch import ScratchFactory, scratch_factory

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class AsOfTimes:
    events: int  # log length
    position: int  # median position asked
    seconds: float  # median wall time of one as-of answer (replay + read every row)
    rate: float  # events replayed per second (positions up to P / seconds), median
    time_lookup_ms: float  # a recorded time mapped to a position, median
    peak_mib: float  # Python allocations at their peak during one replay
    steps_back: int  # positions recorded earlier than the one before them

    def row(self, label: str) -> str:
        return (
            f"| {label} | {self.events:,} | {self.position:,} | {self.seconds:.2f} s"
            f" | {self.rate:,.0f} | {self.time_lookup_ms:.1f} ms | {self.peak_mib:.0f} MiB"
            f" | {self.steps_back} |"
        )


HEADER = (
    "| store | log events | position asked (median) | as-of answer | events/s replayed"
    " | time → position | peak Python memory | recorded times stepping back |\n"
    "|---|---|---|---|---|---|---|---|"
)


def asof_table(results: dict[str, AsOfTimes]) -> str:
    return "\n".join([HEADER, *(t.row(label) for label, t in results.items())])


def measure_asof(
    factory: StoreFactory, *, events: int, items: int, repeats: int, seed: int = 5
) -> AsOfTimes:
    settings = factory.settings("asof")
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        head = generate_log(ledger, events, items)
        scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
        picks = random.Random(seed)
        positions = [picks.randint(head // 10, head) for _ in range(repeats)]
        timed = [_answer(ledger, scratch, p) for p in positions]
        lookups = [_lookup(ledger, picks.randint(1, head)) for _ in range(repeats)]
        tracemalloc.start()
        try:
            _answer(ledger, scratch, positions[0])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return AsOfTimes(
            events=head,
            position=int(median(positions)),
            seconds=median(timed),
            rate=median(p / s for p, s in zip(positions, timed, strict=True)),
            time_lookup_ms=median(lookups) * 1000,
            peak_mib=peak / 2**20,
            steps_back=_steps_back(ledger, head),
        )
    finally:
        runtime.close()


def _answer(ledger: Ledger, scratch: ScratchFactory, position: int) -> float:
    started = time.perf_counter()
    moment = at_position(ledger, position)
    with replay_as_of(ledger, scratch, "inventory", moment) as replayed, replayed.read() as cur:
        inventory_rows(cur)
    return time.perf_counter() - started


def _lookup(ledger: Ledger, position: int) -> float:
    [notification] = ledger.recorder.select_notifications(start=position, limit=1)
    when = recorded_at(notification, ledger)
    started = time.perf_counter()
    found = at_time(ledger, when, datetime.now(UTC))
    seconds = time.perf_counter() - started
    assert found.recorded_at is not None
    assert found.recorded_at <= when
    return seconds


def _steps_back(ledger: Ledger, head: int) -> int:
    """Checks the assumption of the time search over this log: recorded times that step back."""
    back, last, position = 0, None, 0
    while position < head:
        page = ledger.recorder.select_notifications(start=position + 1, limit=1000, stop=head)
        for notification in page:
            stamp = recorded_at(notification, ledger)
            back += last is not None and stamp < last
            last = stamp
        position = page[-1].id
    return back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.asof", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ORDERLEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    args = parser.parse_args(argv)
    results: dict[str, AsOfTimes] = {}
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}")
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            results[factory.label] = measure_asof(
                factory, events=args.events, items=args.items, repeats=args.repeats
            )
    print(asof_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Inventory as of a random past position, with read-model checkpoints and without.

    python -m bench.asof [--events 1000000] [--every 5000] [--stores sqlite,postgres]

Over the projection bench's log of real stock movements, read-model checkpoints of the
inventory are built every `--every` events (`orderledger replay checkpoint`, timed); then
each measurement answers inventory as of a random past position (the same code path as
`orderledger replay as-of inventory`: a scratch store seeded from the nearest checkpoint,
the events after it folded, every row read), and the same again with no checkpoints
(replayed from position 0). Also: a recorded time mapped to its position (binary search),
how often recorded times step back along the log, the peak of Python memory during one
answer of each kind (tracemalloc), and the process's peak resident memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

from api.runtime import checkpoint_store, open_runtime
from bench.projection import generate_log
from bench.stores import StoreFactory, postgres_problem
from domain.ledger import Ledger
from replay.asof import replay_as_of
from replay.checkpoint_store import CheckpointStore
from replay.inventory import inventory_rows
from replay.model_checkpoints import build
from replay.moments import at_position, at_time, recorded_at
from replay.scratch import ScratchFactory, scratch_factory

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
EVERY = 5_000  # the default of ORDERLEDGER_READ_MODEL_CHECKPOINT_INTERVAL


@dataclass(frozen=True)
class AsOfTimes:
    events: int  # log length
    position: int  # median position asked
    seconds: float  # median wall time of one as-of answer from position 0 (read every row)
    rate: float  # events replayed per second (positions up to P / seconds), median
    time_lookup_ms: float  # a recorded time mapped to a position, median
    peak_mib: float  # Python allocations at their peak during one replay from 0
    steps_back: int  # positions recorded earlier than the one before them
    every: int = 0  # read-model checkpoint interval (0: none built)
    checkpoint_seconds: float = 0.0  # median as-of answer seeded from the nearest checkpoint
    checkpoint_peak_mib: float = 0.0
    build_seconds: float = 0.0  # building every checkpoint up to the head
    max_rss_mib: float = 0.0  # the bench process's peak resident memory (ru_maxrss)

    def row(self, label: str) -> str:
        return (
            f"| {label} | {self.events:,} | {self.position:,} | {self.checkpoint_seconds:.2f} s"
            f" | {self.seconds:.2f} s | {self.rate:,.0f} | {self.every:,}"
            f" | {self.build_seconds:.0f} s | {self.time_lookup_ms:.1f} ms"
            f" | {self.checkpoint_peak_mib:.0f} / {self.peak_mib:.0f} MiB"
            f" | {self.max_rss_mib:.0f} MiB | {self.steps_back} |"
        )


HEADER = (
    "| store | log events | position asked (median) | as-of answer, checkpoints"
    " | as-of answer, from 0 | events/s replayed from 0 | checkpoint every"
    " | checkpoints built in | time → position | peak Python memory (with / without)"
    " | peak resident memory | recorded times stepping back |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def asof_table(results: dict[str, AsOfTimes]) -> str:
    return "\n".join([HEADER, *(t.row(label) for label, t in results.items())])


def measure_asof(
    factory: StoreFactory,
    *,
    events: int,
    items: int,
    repeats: int,
    every: int = EVERY,
    seed: int = 5,
    log: Callable[[str], None] = lambda _: None,
) -> AsOfTimes:
    settings = factory.settings("asof")
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        started = time.perf_counter()
        head = generate_log(ledger, events, items)
        log(f"log of {head:,} events in {time.perf_counter() - started:.0f} s")
        scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
        store = checkpoint_store(settings)
        started = time.perf_counter()
        if every:
            build(ledger, store, scratch, "inventory", every)
        built = time.perf_counter() - started
        log(f"checkpoints every {every:,} built in {built:.0f} s")
        picks = random.Random(seed)
        positions = [picks.randint(head // 10, head) for _ in range(repeats)]
        with_checkpoints = [_answer(ledger, scratch, p, store) for p in positions]
        log(f"with checkpoints: {[round(s, 3) for s in with_checkpoints]}")
        timed = [_answer(ledger, scratch, p) for p in positions]
        log(f"from 0: {[round(s, 2) for s in timed]}")
        lookups = [_lookup(ledger, picks.randint(1, head)) for _ in range(repeats)]
        return AsOfTimes(
            events=head,
            position=int(median(positions)),
            seconds=median(timed),
            rate=median(p / s for p, s in zip(positions, timed, strict=True)),
            time_lookup_ms=median(lookups) * 1000,
            peak_mib=_peak(lambda: _answer(ledger, scratch, positions[0])),
            steps_back=_steps_back(ledger, head),
            every=every,
            checkpoint_seconds=median(with_checkpoints),
            checkpoint_peak_mib=_peak(lambda: _answer(ledger, scratch, positions[0], store)),
            build_seconds=built,
            max_rss_mib=_max_rss_mib(),
        )
    finally:
        runtime.close()


def _answer(
    ledger: Ledger, scratch: ScratchFactory, position: int, store: CheckpointStore | None = None
) -> float:
    started = time.perf_counter()
    moment = at_position(ledger, position)
    replaying = replay_as_of(ledger, scratch, "inventory", moment, checkpoints=store)
    with replaying as replayed, replayed.read() as cur:
        inventory_rows(cur)
    return time.perf_counter() - started


def _peak(run: Callable[[], object]) -> float:
    """Python allocations at their peak during `run`, MiB."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _max_rss_mib() -> float:
    """Peak resident memory of this process so far (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


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


def _say(kind: str, line: str) -> None:
    print(f"{kind}: {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.asof", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=EVERY, help="checkpoint interval; 0: none")
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
                factory, events=args.events, items=args.items, repeats=args.repeats,
                every=args.every, log=functools.partial(_say, kind),
            )  # fmt: skip
    print(asof_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

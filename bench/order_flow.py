"""The order flow and `ship` against the library's create, in short alternating blocks.

    python -m bench.order_flow                          # SQLite, this checkout
    python -m bench.order_flow --stores sqlite,postgres --compare ../other-checkout
    valgrind --tool=callgrind --toggle-collect=_operator_call --callgrind-out-file=/dev/null \
        python bench/order_flow.py --instructions order-flow 90   # run from a checkout

A narrower run than `bench.run` for work on the command path: the library's create, the
order flow (create → submit → ship) and `ship` alone, exactly as `bench.run` sets them up
(`bench.baseline`, `bench.commands`), measured in blocks of `--block` calls. With
`--compare`, a second process runs the same workloads on another checkout's code and the
two take turns block by block (the order swapped every block), so both see the same
background load: on a shared machine that is what keeps a before/after comparison fair.
Figures are medians over the blocks: CPU µs per call of the measuring process (the
database server's CPU is not in it), wall µs per call, and the ratio of the library's
create rate to each workload's, block by block.

`--instructions WORKLOAD COUNT` runs COUNT calls of one workload on a small SQLite set-up,
warmed up, inside `operator.call`, so that callgrind's `--toggle-collect=_operator_call`
counts the instructions of those calls alone: a figure the machine's load does not move
(kernel time, such as the commit's fsync, is not in it). Divide the "Collected" count by
COUNT. Run with a checkout as the working directory and `PYTHONPATH=.`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "ORDERLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
LABELS = ("baseline-create", "order-flow", "ship-no-limit")
Block = dict[str, list[float]]  # label -> [CPU µs per call, wall µs per call]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.worker:
        return _work(args.worker, args.block, args.blocks)
    if args.instructions:
        return _count(args.instructions[0], int(args.instructions[1]))
    checkouts = {"this": CHECKOUT}
    if args.compare:
        checkouts = {"compared": Path(args.compare).resolve(), **checkouts}
    for store in args.stores:
        _compare(store, checkouts, args.block, args.blocks)
    return 0


def _compare(store: str, checkouts: dict[str, Path], block: int, blocks: int) -> None:
    workers = {name: _start(path, store, block, blocks) for name, path in checkouts.items()}
    results: dict[str, list[Block]] = {name: [] for name in workers}
    loads = [os.getloadavg()[0]]
    try:
        for number in range(blocks):
            order = list(workers) if number % 2 == 0 else list(workers)[::-1]
            for name in order:
                worker = workers[name]
                assert worker.stdin is not None
                assert worker.stdout is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
                results[name].append(json.loads(worker.stdout.readline()))
            loads.append(os.getloadavg()[0])
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait()
    print(
        f"{store}: {blocks} blocks of {block} calls per workload;"
        f" 1-minute load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    for name, rows in results.items():
        print(f"  {name} ({checkouts[name]})")
        for label in LABELS:
            print("    " + _line(label, rows))


def _line(label: str, rows: list[Block]) -> str:
    cpu = statistics.median(row[label][0] for row in rows)
    wall = statistics.median(row[label][1] for row in rows)
    text = f"{label:16} {cpu:6.0f} µs CPU, {wall:6.0f} µs wall per call"
    if label != LABELS[0]:
        rate = statistics.median(row[LABELS[0]][1] / row[label][1] for row in rows)
        by_cpu = statistics.median(row[LABELS[0]][0] / row[label][0] for row in rows)
        text += f"; ratio to the library's create {rate:.2f} (by CPU {by_cpu:.2f})"
    return text


def _start(checkout: Path, store: str, block: int, blocks: int) -> subprocess.Popen[str]:
    """A worker importing `checkout`'s code (this file need not exist there)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", store]
    command += ["--block", str(block), "--blocks", str(blocks)]
    worker = subprocess.Popen(
        command,
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None
    if worker.stdout.readline().strip() != "ready":
        raise SystemExit(f"the worker for {checkout} did not start")
    return worker


def _work(store: str, block: int, blocks: int) -> int:
    """Set the workloads up as bench.run does, then time one block of each per "go"."""
    # This file may belong to another checkout: import the benchmark from the one run in.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [os.getcwd(), *(entry for entry in sys.path if entry != here)]
    from bench.baseline import baseline_workloads
    from bench.commands import ledger_workloads
    from bench.stores import StoreFactory

    with (
        StoreFactory(store, POSTGRES_URL) as factory,
        baseline_workloads(factory.settings("baseline"), creates=1, updates=1, spread=1) as bare,
        ledger_workloads(
            factory.settings("commands"), spread=1_000, reservations=2 * block,
            hot_reservations=1, transfers=1, transfer_spread=1, rounds=blocks,
        ) as ledger,
    ):  # fmt: skip
        workloads = {w.label: w for w in [*bare, *ledger] if w.label in LABELS}
        for workload in workloads.values():
            workload.warm_up()
        print("ready", flush=True)
        for _ in sys.stdin:
            print(json.dumps({label: _time(w, block) for label, w in workloads.items()}))
            sys.stdout.flush()
    return 0


def _count(label: str, calls: int) -> int:
    """COUNT calls of one workload inside operator.call (see the module's docstring)."""
    import operator
    import tempfile

    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [os.getcwd(), *(entry for entry in sys.path if entry != here)]
    from api.runtime import open_runtime
    from api.settings import Settings
    from bench.baseline import BareApplication, Counter
    from bench.commands import SOURCE, TARGET, _order_flow, _ship, seed_catalog, sku_codes

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/ledger.db")
        if label == LABELS[0]:
            bare = BareApplication(env=settings.eventsourcing_env())
            step: Any = lambda _: bare.save(Counter())  # noqa: E731
        else:
            runtime = open_runtime(settings, start_projections=False)
            skus = sku_codes(20)
            seed_catalog(runtime.ledger, skus, (SOURCE, TARGET))
            if label == LABELS[1]:
                step = _order_flow(runtime.ledger, skus)
            else:
                step = _ship(runtime.ledger, skus, 30 + calls, "0")
        for i in range(30):
            step(i)
        operator.call(lambda: [step(i) for i in range(30, 30 + calls)])
    return 0


def _time(workload: Any, calls: int) -> list[float]:
    cpu, wall = time.process_time(), time.perf_counter()
    workload._calls(calls)
    return [
        (time.process_time() - cpu) / calls * 1e6,
        (time.perf_counter() - wall) / calls * 1e6,
    ]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.order_flow", description=__doc__)
    parser.add_argument(
        "--stores",
        default=["sqlite"],
        type=lambda value: [part.strip() for part in value.split(",") if part.strip()],
        help="comma-separated: sqlite,postgres (default sqlite)",
    )
    parser.add_argument("--compare", metavar="CHECKOUT", help="another checkout to alternate with")
    parser.add_argument("--block", type=int, default=60, help="calls per block (a multiple of 3)")
    parser.add_argument("--blocks", type=int, default=30, help="blocks per workload")
    parser.add_argument(
        "--instructions", nargs=2, metavar=("WORKLOAD", "COUNT"),
        help=f"run COUNT calls of one workload ({', '.join(LABELS)}) for callgrind",
    )  # fmt: skip
    parser.add_argument("--worker", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.block % 3:
        parser.error("--block must be a multiple of 3 (each order is created, submitted, shipped)")
    if args.instructions and args.instructions[0] not in LABELS:
        parser.error(f"--instructions: the workload is one of {', '.join(LABELS)}")
    unknown = set(args.stores) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    raise SystemExit(main())

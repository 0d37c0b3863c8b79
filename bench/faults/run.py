"""Run every fault and print what held: `make faults` (full) or `--quick` (as in the tests).

    python -m bench.faults.run                 # full: 100 kills, 10 restarts, 10,000 attempts…
    python -m bench.faults.run --quick         # the bounded version the test suite runs
    python -m bench.faults.run --only hot-sku --stores postgres
    python -m bench.faults.run --write-docs    # also rewrite docs/reliability.md

Faults that restart, lock or fill a database use a private PostgreSQL cluster and tmpfs
mounts (root); the shared server at --postgres-url only ever gets schemas of its own.
Exit status 1 when any fault found something.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from api.settings import Settings
from bench.faults.cluster import BIN, PrivateCluster
from bench.faults.hot_sku import reserve_hot_sku
from bench.faults.killed_worker import kill_projection_workers
from bench.faults.postgres_restart import restart_postgres
from bench.faults.report import FaultResult, markdown_table, text_table
from bench.faults.storage import unwritable_store
from bench.stores import StoreFactory, postgres_problem

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
FAULTS = ("killed-worker", "postgres-restart", "hot-sku", "read-only", "full-disk")


@dataclass(frozen=True)
class Plan:
    kills: int
    restarts: int
    clients: int
    attempts: int
    unwritable_commands: int


FULL = Plan(kills=100, restarts=10, clients=6, attempts=10_000, unwritable_commands=20)
QUICK = Plan(kills=5, restarts=2, clients=4, attempts=800, unwritable_commands=5)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    began = time.monotonic()
    results: list[FaultResult] = []
    args.shared_ok, args.cluster_ok = _postgres_ok(args), _cluster_ok()
    for fault in args.only or FAULTS:
        for run in _runs(fault, plan, args):
            result = run()
            verdict = "held" if result.ok else "FAILED"
            print(f"{result.fault} on {result.store}: {verdict} in {result.seconds:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
            results.append(result)
    seconds = time.monotonic() - began
    print(text_table(results))
    print(f"\n{describe_run(args.quick, seconds)}")
    if args.write_docs:
        write_docs(results, args.quick, seconds)
        print(f"wrote {DOCS}")
    return 0 if all(r.ok for r in results) else 1


def _runs(fault: str, plan: Plan, args: argparse.Namespace) -> list[Callable[[], FaultResult]]:
    """The runs of one fault: one per store where a store is chosen."""
    shared = [kind for kind in args.stores if kind == "sqlite" or args.shared_ok]
    private = [kind for kind in args.stores if kind == "sqlite" or args.cluster_ok]
    if fault == "killed-worker":
        return [_on_store(kind, args, partial(_kill, kills=plan.kills)) for kind in shared]
    if fault == "hot-sku":
        return [_on_store(kind, args, partial(_race, attempts=plan.attempts)) for kind in shared]
    if fault == "postgres-restart":
        runs: list[Callable[[], FaultResult]] = [
            partial(restart_postgres, plan.restarts, plan.clients)
        ]
        return runs if args.cluster_ok and "postgres" in args.stores else []
    condition = "read-only" if fault == "read-only" else "full"
    return [
        partial(unwritable_store, kind, condition, plan.unwritable_commands) for kind in private
    ]


def _kill(settings: Settings, label: str, kills: int) -> FaultResult:
    return kill_projection_workers(settings, label, kills)


def _race(settings: Settings, label: str, attempts: int) -> FaultResult:
    return reserve_hot_sku(settings, label, attempts)


def _on_store(
    kind: str, args: argparse.Namespace, fault: Callable[[Settings, str], FaultResult]
) -> Callable[[], FaultResult]:
    def run() -> FaultResult:
        with StoreFactory(kind, args.postgres_url) as factory:
            return fault(factory.settings("faults"), factory.label)

    return run


def _postgres_ok(args: argparse.Namespace) -> bool:
    problem = postgres_problem(args.postgres_url)
    if problem:
        print(f"skipping the shared PostgreSQL: {problem}", file=sys.stderr)
    return problem is None


def _cluster_ok() -> bool:
    probe = PrivateCluster()  # only a temp folder until entered
    missing = probe.available
    probe.remove()
    if missing or os.geteuid() != 0:
        print(f"skipping a private cluster: {missing or 'needs root (mount)'}", file=sys.stderr)
        return False
    return True


def describe_run(quick: bool, seconds: float) -> str:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))  # fmt: skip
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return (
        f"{'quick' if quick else 'full'} run: {seconds:.0f} s wall, {cpu:.0f} s CPU in this"
        f" process and its children; {platform.platform()}, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, {_postgres_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}"
    )


def _postgres_version() -> str:
    """The private clusters' PostgreSQL (the shared server is the same package here)."""
    try:
        found = subprocess.run([str(BIN / "postgres"), "--version"], capture_output=True,
                               text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "no PostgreSQL programs"
    return found.stdout.strip().removeprefix("postgres (PostgreSQL) ").join(("PostgreSQL ", ""))


def write_docs(results: list[FaultResult], quick: bool, seconds: float) -> None:
    """Replace the generated block of docs/reliability.md with this run's table."""
    command = "python -m bench.faults.run --write-docs" + (" --quick" if quick else "")
    notes = [f"- **{r.fault}, {r.store}**: " + "; ".join(r.details()) for r in results]
    block = "\n".join([
        BEGIN,
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` (`make faults`).",
        "", markdown_table(results), "", *notes, "", describe_run(quick, seconds), END,
    ])  # fmt: skip
    text = DOCS.read_text() if DOCS.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOCS.write_text(head + block + tail)


BEGIN = "<!-- faults:begin (written by python -m bench.faults.run --write-docs) -->"
END = "<!-- faults:end -->"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the bounded version")
    parser.add_argument("--only", nargs="+", choices=FAULTS, help="only these faults")
    parser.add_argument("--stores", nargs="+", choices=("sqlite", "postgres"),
                        default=["sqlite", "postgres"])  # fmt: skip
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite {DOCS.name}")
    return parser.parse_args(argv)


if __name__ == "__main__":
    # A stopped run must still unmount, make files mutable again and drop its schemas.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("runuser") is None and os.geteuid() == 0:
        print("runuser is needed to run PostgreSQL as its owner", file=sys.stderr)
    sys.exit(main())

"""Fault 1: a projection worker killed with SIGKILL in the middle of a page, again and again,
while commands keep arriving. Afterwards every read model must equal a fresh replay.

Each trial starts a worker process (the runner's own loop, see `bench.faults.worker`), waits
for it to catch up with the log as it stood at the last kill (that wait is the recovery
time), lets it run a random while, then kills it while a page's transaction is open.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from typing import Any

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from bench.faults.checks import replay_differences, settle
from bench.faults.report import FaultResult
from bench.faults.worker import run_worker, settings_json
from bench.faults.workload import Writer, seed_catalog

FAULT = "projection worker killed mid-page"
PAGE_SIZE = 25
LINGER = 0.004  # seconds each page stays open: a kill finds one open within a few ms
WRITE_PAUSE = 0.02


def kill_projection_workers(
    settings: Settings, store: str, kills: int, seed: int = 1
) -> FaultResult:
    """`kills` workers killed mid-page over a stream of commands; then a replay check."""
    result = FaultResult(FAULT, store)
    began = time.monotonic()
    chance = random.Random(seed)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.faults.worker"])
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        writer = Writer(runtime.ledger, pause=WRITE_PAUSE).start()
        try:
            for _ in range(kills):
                _trial(runtime, context, chance, result)
        finally:
            result.commands = writer.stop()
        settle(runtime)
        result.lost, result.duplicated, problems = replay_differences(runtime)
        result.problems += problems
        result.notes.append(f"log head {runtime.ledger.head():,} after the last kill's recovery")
    finally:
        runtime.close()
    result.seconds = time.monotonic() - began
    return result


def _trial(runtime: Runtime, context: Any, chance: random.Random, result: FaultResult) -> None:
    begun, committed = context.Value("q", 0, lock=False), context.Value("q", 0, lock=False)
    target = runtime.ledger.head()  # everything written up to the last kill
    started = time.monotonic()
    worker = context.Process(
        target=run_worker,
        args=(settings_json(runtime.settings), PAGE_SIZE, LINGER, begun, committed),
        daemon=True,
    )
    worker.start()
    try:
        _wait_for(lambda: _caught_up(runtime, target), worker, "catch up after a kill")
        result.recovered_in(time.monotonic() - started)
        time.sleep(chance.uniform(0, 0.2))  # somewhere in the stream
        _wait_for(lambda: begun.value > committed.value, worker, "open a page")
        time.sleep(chance.uniform(0, LINGER / 4))  # somewhere in the page
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join(10)
    result.trials += 1
    if worker.exitcode != -signal.SIGKILL:
        result.problems.append(f"worker ended with {worker.exitcode}, not SIGKILL")
    elif begun.value > committed.value:
        result.counts["kills mid-page"] += 1


def _caught_up(runtime: Runtime, target: int) -> bool:
    return all(status.position >= target for status in runtime.runner.status())


def _wait_for(condition: Any, worker: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not worker.is_alive():
            raise RuntimeError(f"the projection worker died before it could {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the projection worker did not {what} within {timeout:.0f} s")
        time.sleep(0.0005)

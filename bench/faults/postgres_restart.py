"""Fault 2: PostgreSQL restarted under a served API while clients send commands with
Idempotency-Keys. Every success must be in the log, every failure a 503 problem, no answer
slow, and no key stored twice however often it was retried.

The database is a private cluster (`bench.faults.cluster`), restarted alternately with a
fast shutdown (sessions ended cleanly) and an immediate one (as a crash: recovery on start).
Recovery time: from the database answering again to the first command sent after that
which succeeds.
"""

from __future__ import annotations

import random
import time

from api.runtime import open_runtime
from api.settings import Settings
from bench.faults.checks import replay_differences, settle
from bench.faults.clients import Clients, judge_answers, judge_log
from bench.faults.cluster import PrivateCluster
from bench.faults.report import FaultResult
from bench.faults.served import Served, issue_caller_key
from bench.faults.workload import meta, seed_catalog

FAULT = "PostgreSQL restarted under HTTP load"
ALLOWED = {"store-unavailable"}
MODES = ("fast", "immediate")


def restart_postgres(restarts: int, clients: int = 6, seed: int = 2) -> FaultResult:
    result = FaultResult(FAULT, "PostgreSQL (private)")
    began = time.monotonic()
    chance = random.Random(seed)
    with PrivateCluster() as cluster:
        settings = Settings(database_url=cluster.url(), events_schema="ledger",
                            views_schema="ledger_views", postgres_pool_size=8)  # fmt: skip
        stock(settings)
        with Served(settings, issue_caller_key(settings)) as served:
            running = Clients(served, clients).start()
            try:
                for n in range(restarts):
                    time.sleep(chance.uniform(0.5, 1.5))
                    cluster.restart(MODES[n % 2])
                    result.trials += 1
                    result.recovered_in(_recovery(running, time.monotonic()))
            finally:
                running.stop()
            judge_answers(running.attempts, result, ALLOWED)
            result.notes.append(f"{len(running.attempts):,} requests from {clients} clients")
        judge_store(settings, running, result)
    result.seconds = time.monotonic() - began
    return result


def stock(settings: Settings) -> None:
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        runtime.ledger.receive_finished_goods(
            meta("receive_finished_goods"), sku="SKU-1", warehouse="WH1",
            production_ref="MO-1", quantity_="1000000",
        )  # fmt: skip
    finally:
        runtime.close()


def _recovery(running: Clients, back: float, timeout: float = 60.0) -> float:
    """Seconds from `back` until a command sent after it succeeded."""
    while time.monotonic() - back < timeout:
        found = running.successes_since(back)
        if found:
            return min(a.done for a in found) - back
        time.sleep(0.01)
    return timeout


def judge_store(settings: Settings, running: Clients, result: FaultResult) -> None:
    runtime = open_runtime(settings, start_projections=False)
    try:
        judge_log(runtime.ledger, running.attempts, result)
        settle(runtime)
        lost, duplicated, problems = replay_differences(runtime)
        result.lost += lost
        result.duplicated += duplicated
        result.problems += problems
    finally:
        runtime.close()

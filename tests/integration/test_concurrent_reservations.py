"""Threads and processes racing for the last units of one SKU on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from api.runtime import Runtime, open_runtime
from domain.application import IdempotencyClaim, Outcome
from domain.stock_items import StockItem
from tests.conftest import command_meta, drop_schemas, make_settings, settings_json
from tests.integration.helpers import (
    catch_up_all,
    inventory_row,
    produce,
    rows,
    seed_catalog,
    stored_events,
)
from tests.integration.workers import reserve_units, reserving_process

STOCK = 50
THREADS, PER_THREAD = 8, 16
PROCESSES, PER_PROCESS = 3, 24
REFUSED = "reservation-exceeds-available"


@pytest.fixture
def pg_runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = make_settings("postgres", tmp_path)
    runtime = open_runtime(settings, start_projections=False)
    try:
        yield runtime
    finally:
        runtime.close()
        drop_schemas(settings)


@pytest.mark.postgres
@pytest.mark.slow
def test_racing_threads_and_processes_reserve_exactly_what_is_available(
    pg_runtime: Runtime,
) -> None:
    ledger = pg_runtime.ledger
    seed_catalog(ledger)
    produce(ledger, "SKU-1", str(STOCK))
    attempts = THREADS * PER_THREAD + PROCESSES * PER_PROCESS
    assert attempts == 200

    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=reserving_process,
            args=(settings_json(pg_runtime.settings), f"proc{n}", PER_PROCESS, go, results),
        )
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Event()

    def thread_body(who: str) -> None:
        start.wait(60)
        counted = reserve_units(ledger, who, PER_THREAD, "SKU-1", "WH1")
        with lock:
            outcomes.update(counted)

    threads = [threading.Thread(target=thread_body, args=(f"thread{n}",)) for n in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        assert sorted(results.get(timeout=60)[0] for _ in processes) == ["ready"] * PROCESSES
        go.set()
        start.set()
        for thread in threads:
            thread.join(timeout=120)
        for _ in processes:
            kind, _who, counted = results.get(timeout=120)
            assert kind == "done"
            outcomes.update(counted)
    finally:
        go.set()
        start.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    outcomes.pop("retried-after-exhaustion", None)
    assert outcomes == Counter({"reserved": STOCK, REFUSED: attempts - STOCK})

    item = ledger.stock_item("SKU-1", "WH1")
    assert (item.physical, item.locked, item.available) == (
        Decimal(STOCK),
        Decimal(STOCK),
        Decimal(0),
    )
    assert len(item.reservations) == STOCK
    fresh = type(ledger)(ledger.env)
    reloaded = fresh.stock_item("SKU-1", "WH1")
    assert (reloaded.version, reloaded.locked) == (item.version, Decimal(STOCK))
    fresh.close()
    reserved = [e for _, e in stored_events(ledger) if isinstance(e, StockItem.Reserved)]
    assert len(reserved) == STOCK
    assert {e.meta["actor"] for e in reserved} <= {f"thread{n}" for n in range(THREADS)} | {
        f"proc{n}" for n in range(PROCESSES)
    }

    catch_up_all(pg_runtime)
    row = inventory_row(pg_runtime, "SKU-1")
    assert (row["physical"], row["locked"], row["available"]) == (
        Decimal(STOCK),
        Decimal(STOCK),
        Decimal(0),
    )
    moves = rows(pg_runtime, "SELECT COUNT(*) AS n FROM stock_movements WHERE kind = 'Reserved'")
    assert moves == [{"n": STOCK}]


@pytest.mark.postgres
def test_racing_retries_with_one_idempotency_key_reserve_once(pg_runtime: Runtime) -> None:
    ledger = pg_runtime.ledger
    seed_catalog(ledger)
    produce(ledger, "SKU-1", "10")
    claim = IdempotencyClaim("checkout-42", "hash-of-the-request")
    start = threading.Barrier(8)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def retry() -> None:
        start.wait(30)
        outcome = ledger.reserve(
            command_meta("reserve"), sku="SKU-1", warehouse="WH1", order_ref="SO-42",
            quantity_="6", idempotency=claim,
        )  # fmt: skip
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == 8
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 7
    assert len({str(o.result) for o in outcomes}) == 1
    reserved = [e for _, e in stored_events(ledger) if isinstance(e, StockItem.Reserved)]
    assert len(reserved) == 1
    assert ledger.stock_item("SKU-1", "WH1").locked == Decimal(6)

"""Fault 3: four processes, many threads each, reserving one unit at a time of one hot SKU
until far more was asked for than is in stock. Nothing may be oversold, every attempt is
either reserved or refused, and the inventory read model tells the same story."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from bench.faults.checks import replay_differences, settle
from bench.faults.report import FaultResult
from bench.faults.worker import settings_json
from bench.faults.workload import meta, seed_catalog
from domain.exceptions import ConcurrencyExhausted, DomainError
from domain.ledger import Ledger

FAULT = "hot SKU: processes × threads reserving"
SKU, WAREHOUSE = "SKU-1", "WH1"
RESERVED, REFUSED = "reserved", "reservation-exceeds-available"
EXHAUSTED = "retried-after-exhaustion"


def reserve_hot_sku(
    settings: Settings, store: str, attempts: int, processes: int = 4, threads: int = 8
) -> FaultResult:
    """`attempts` one-unit reservations of one SKU holding a quarter of that in stock."""
    result = FaultResult(FAULT, store, trials=1)
    began = time.monotonic()
    stock = attempts // 4
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        runtime.ledger.receive_finished_goods(
            meta("receive_finished_goods"), sku=SKU, warehouse=WAREHOUSE, production_ref="MO-1",
            quantity_=str(stock),
        )  # fmt: skip
        shares = [attempts // processes + (n < attempts % processes) for n in range(processes)]
        raced = time.monotonic()
        result.counts.update(_race(runtime.settings, shares, threads))
        raced = time.monotonic() - raced
        result.commands = attempts
        _judge(runtime, result, stock, attempts)
    finally:
        runtime.close()
        result.notes.append(
            f"{processes} processes × {threads} threads, {stock:,} units in stock; the race"
            f" took {raced:.1f} s ({attempts / raced:,.0f} attempts/s)"
        )
    result.seconds = time.monotonic() - began
    return result


def _race(settings: Settings, shares: list[int], threads: int) -> Counter[str]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.faults.hot_sku"])
    go, answers = context.Event(), context.Queue()
    workers = [
        context.Process(target=reserving_process, daemon=True,
                        args=(settings_json(settings), f"p{n}", threads, share, go, answers))
        for n, share in enumerate(shares)
    ]  # fmt: skip
    outcomes: Counter[str] = Counter()
    try:
        for worker in workers:
            worker.start()
        for _ in workers:
            assert answers.get(timeout=120)[0] == "ready"
        go.set()
        for _ in workers:
            _done, counted = answers.get(timeout=600)
            outcomes.update(counted)
    finally:
        go.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    return outcomes


def reserving_process(
    settings_json: str, who: str, threads: int, attempts: int, go: Any, answers: Any
) -> None:
    """One process's threads, each reserving its share one unit at a time."""
    runtime = open_runtime(Settings.model_validate_json(settings_json), start_projections=False)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def thread_body(name: str, share: int) -> None:
        counted = reserve_units(runtime.ledger, name, share)
        with lock:
            outcomes.update(counted)

    try:
        answers.put(("ready", {}))
        go.wait(120)
        shares = [attempts // threads + (n < attempts % threads) for n in range(threads)]
        racing = [
            threading.Thread(target=thread_body, args=(f"{who}t{n}", share))
            for n, share in enumerate(shares)
        ]
        for thread in racing:
            thread.start()
        for thread in racing:
            thread.join()
    except BaseException as error:  # report, never hang the parent
        outcomes[f"crashed {type(error).__name__}: {error}"] += 1
    finally:
        answers.put(("done", dict(outcomes)))
        runtime.close()


def reserve_units(
    ledger: Ledger, who: str, attempts: int, sku: str = SKU, warehouse: str = WAREHOUSE
) -> Counter[str]:
    """Reserve one unit `attempts` times, counting outcomes by rule. A ConcurrencyExhausted
    answer is tried again, as a client told "503, retry later" would."""
    outcomes: Counter[str] = Counter()
    for n in range(attempts):
        while True:
            try:
                ledger.reserve(meta("reserve", actor=who), sku=sku, warehouse=warehouse,
                               order_ref=f"{who}-{n}", quantity_="1")  # fmt: skip
                outcomes[RESERVED] += 1
            except ConcurrencyExhausted:
                outcomes[EXHAUSTED] += 1
                continue
            except DomainError as error:
                outcomes[error.rule] += 1
            except Exception as error:  # anything else is a finding: count it, keep going
                outcomes[f"unexpected {type(error).__name__}: {error}"] += 1
            break
    return outcomes


def _judge(runtime: Runtime, result: FaultResult, stock: int, attempts: int) -> None:
    counts = result.counts
    reserved, refused = counts[RESERVED], counts[REFUSED]
    fresh = Ledger(runtime.ledger.env)
    try:
        item = fresh.stock_item(SKU, WAREHOUSE)
    finally:
        fresh.close()
    result.oversold = max(0, int(item.locked - item.physical), reserved - stock)
    others = {kind: n for kind, n in counts.items() if kind not in (RESERVED, REFUSED, EXHAUSTED)}
    if others:
        result.problems.append(f"answers other than reserved or refused: {others}")
    if reserved + refused != attempts:
        result.problems.append(f"reserved {reserved} + refused {refused} ≠ {attempts} attempts")
    if reserved != stock or item.locked != reserved or len(item.reservations) != reserved:
        result.problems.append(
            f"{reserved} reserved answers, {item.locked} locked, {len(item.reservations)}"
            f" reservations, for {stock} in stock"
        )
    settle(runtime)
    _judge_read_model(runtime, result, item.physical, item.locked)


def _judge_read_model(
    runtime: Runtime, result: FaultResult, physical: Decimal, locked: Decimal
) -> None:
    with runtime.store.read() as cur:
        row = cur.execute(
            "SELECT physical, locked, available FROM inventory_items"
            " WHERE sku = ? AND warehouse = ?",
            (SKU, WAREHOUSE),
        ).fetchone()
        moves = cur.execute(
            "SELECT COUNT(*) FROM stock_movements WHERE kind = 'Reserved' AND sku = ?", (SKU,)
        ).fetchone()
    figures = tuple(Decimal(str(v)) for v in row or ())
    if figures != (physical, locked, physical - locked) or moves is None or moves[0] != locked:
        result.problems.append(
            f"inventory read model {figures} with {moves} reservations; the stock item says"
            f" physical {physical}, locked {locked}"
        )
    lost, duplicated, problems = replay_differences(runtime)
    result.lost, result.duplicated = lost, duplicated
    result.problems += problems

"""Projection catch-up from position 0, against the rate of simply reading the log decoded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from statistics import median

from api.runtime import open_runtime, read_models
from api.settings import Settings
from bench.commands import SOURCE, meta, seed_catalog, sku_codes
from bench.stores import StoreFactory
from bench.timing import Measured, Profiler
from domain.ledger import Ledger
from domain.stock_items import StockItem
from projections.base import Projection
from projections.inventory import InventoryProjection
from projections.rebuild import fill
from projections.runner import ProjectionRunner
from projections.store import ViewStore

EVENTS_PER_ROUND = 5  # movements one item records per round, see `_one_round`
ITEMS_PER_SAVE = 200


@dataclass(frozen=True)
class ProjectionRates:
    events: int  # length of the log the figures below were measured over
    read_log: Measured  # select_notifications pages + mapper.to_domain_event
    inventory: Measured  # InventoryProjection alone
    all_models: Measured  # every read model from 0 in one pass over the log


def measure_projections(
    factory: StoreFactory,
    settings: Settings,
    profiler: Profiler,
    *,
    events: int,
    items: int,
    repeats: int,
) -> ProjectionRates:
    """Read-log and inventory figures are medians of `repeats` passes; one pass can be
    disturbed by other jobs on the machine. Each catch-up starts from 0 in a fresh store."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        head = generate_log(ledger, events, items)
        page = settings.projection_page_size

        def read_log() -> Measured:
            return profiler.run("read-log", lambda: read_log_decoded(ledger, page, head)).per(head)

        def catch_up(label: str, projections: list[Projection]) -> Measured:
            store = factory.view_store(settings, label)
            try:
                return catch_up_into(ledger, store, projections, page, head, profiler, label)
            finally:
                store.close()

        read_log()  # warm-up: the log is now in the page cache
        return ProjectionRates(
            events=head,
            read_log=median_of(repeats, read_log),
            inventory=median_of(repeats, lambda: catch_up("inventory", [InventoryProjection()])),
            all_models=catch_up("all", read_models(ledger)),
        )
    finally:
        runtime.close()


def median_of(repeats: int, measure: Callable[[], Measured]) -> Measured:
    runs = [measure() for _ in range(repeats)]
    return Measured(median(r.rate for r in runs), median(r.cpu_us for r in runs))


def generate_log(ledger: Ledger, target: int, count: int) -> int:
    """Fill the log to about `target` events of real StockItem movements; return the head.

    Commands would take minutes to record 100,000 events, so each save carries one round
    of movements for many items (the same aggregates and `save_with_meta` the commands
    use, so events and their metadata are exactly what the commands record).
    """
    items = seed_catalog(ledger, sku_codes(count), (SOURCE,))
    rounds = max(1, -(-(target - ledger.head()) // (EVENTS_PER_ROUND * count)))
    for n in range(rounds):
        for start in range(0, count, ITEMS_PER_SAVE):
            batch = items[start : start + ITEMS_PER_SAVE]
            for item in batch:
                _one_round(item, n)
            ledger.save_with_meta(meta("bench_movements"), *batch)
    return ledger.head()


def _one_round(item: StockItem, n: int) -> None:
    """Produce, reserve, ship part, release the rest, issue material: five movements."""
    now = datetime.now(UTC)
    order, production = f"SO-{item.sku}-{n}", f"MO-{item.sku}-{n}"
    item.receive_finished_goods(production, Decimal(10), now)
    item.reserve(order, Decimal(3), now)
    item.issue_for_shipment(order, Decimal(2), f"SH-{item.sku}-{n}", now)
    item.release(order, None, now)
    item.issue_material(production, Decimal(1), now)


def read_log_decoded(ledger: Ledger, page: int, head: int) -> int:
    """The read limit of any projection: every page selected and every event decoded."""
    recorder, mapper = ledger.recorder, ledger.mapper
    position = decoded = 0
    while position < head:
        notifications = recorder.select_notifications(start=position + 1, limit=page, stop=head)
        if not notifications:
            break
        decoded += len([mapper.to_domain_event(n) for n in notifications])
        position = notifications[-1].id
    return decoded


def catch_up_into(
    ledger: Ledger,
    store: ViewStore,
    projections: list[Projection],
    page: int,
    head: int,
    profiler: Profiler,
    label: str,
) -> Measured:
    runner = ProjectionRunner(ledger, store, projections, page_size=page)
    runner.setup()

    def catch_up_all() -> None:
        # The full rebuild's pass: each page read and decoded once for every projection.
        fill(runner, runner.projections, until=head)

    return profiler.run(f"catch-up-{label}", catch_up_all).per(head)

"""The SLA monitor over a large orders read model: its queries, a scan that records breaches.

Recording 100,000 orders by command per store would take most of the run, so the read model
holds a few hundred real orders (commands, then the orders projection) — some of them late,
having entered their stage with an `effective_at` days ago — and synthetic open-order rows
inserted straight into `sales_orders` (`Cursor.insert_rows`: COPY on PostgreSQL, multi-row
INSERT on SQLite) up to the number of open orders asked for, due from a minute to ten days
ahead, in no particular order. Only the real orders are late, so the scan's work (one
`record_sla_breach` command per late order) is real, and the queries run over every row.
"""

from __future__ import annotations

import statistics
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.runtime import open_runtime
from api.settings import Settings
from bench.commands import SOURCE, seed_catalog, sku_codes
from bench.orders import OrderDesk, customer_codes, seed_customers
from bench.timing import Profiler
from projections import queries
from projections.orders import ORDER_COLUMNS
from projections.sla import due_unrecorded
from projections.store import Cursor, ViewStore

SKUS, CUSTOMERS = 100, 50
HORIZON = timedelta(days=10)  # synthetic orders fall due within this
# What the API's at-risk/late list asks by default (GET /sla/orders).
LIST_WITHIN, LIST_LIMIT = timedelta(hours=24), 200
# Open stages of the standard workflow: (stage, responsible role, status).
OPEN_STAGES = (
    ("created", "sales", "created"),
    ("awaiting_approval", "sales_director", "created"),
    ("stock_confirmed", "warehouse", "approved"),
    ("production_scheduled", "production", "approved"),
    ("shipped", "warehouse", "shipped"),
    ("delivered", "sales", "delivered"),
)


@dataclass(frozen=True)
class SlaTimes:
    open_orders: int  # orders with an SLA due time in the read model (real + synthetic)
    real_orders: int  # recorded by command and projected (also cancelled ones: no SLA)
    late: int  # real orders past due with no breach recorded, before the scan
    due_query: float  # seconds: `due_unrecorded`, as the scan reads it (median)
    list_query: float  # seconds: `queries.sla_orders` with the API's defaults (median)
    listed: int  # rows the list returned
    scan: float  # seconds: one `SlaMonitor.scan()` recording `recorded` breaches
    recorded: int
    idle_scan: float  # seconds: a scan once the breaches are projected (nothing to record)
    due_plan: str  # the query plan of `due_unrecorded`
    list_plan: str  # the query plan of `queries.sla_orders`

    @property
    def per_breach(self) -> float:
        return (self.scan - self.due_query) / self.recorded if self.recorded else 0.0


def measure_sla(
    settings: Settings, profiler: Profiler, *, open_orders: int, real_orders: int, repeats: int
) -> SlaTimes:
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger, store = runtime.ledger, runtime.store
        skus, accounts = sku_codes(SKUS), customer_codes(CUSTOMERS)
        seed_catalog(ledger, skus, (SOURCE,))
        seed_customers(ledger, accounts)
        desk = OrderDesk(ledger, skus, accounts)
        now = datetime.now(UTC)
        for n in range(real_orders):
            _real_order(desk, n, now)
        runtime.runner.catch_up("orders")
        real_open = _count(store, "sla_due_at IS NOT NULL")
        _fill(store, open_orders - real_open, datetime.now(UTC))
        if store.dialect == "postgres":
            # Autovacuum analyzes a table this size soon after a bulk load; do it now.
            with store.transaction() as cur:
                cur.execute("ANALYZE sales_orders")
        print(
            f"  SLA read model: {_count(store, 'sla_due_at IS NOT NULL'):,} open orders,"
            f" {real_orders:,} real",
            file=sys.stderr,
            flush=True,
        )
        scan_at = datetime.now(UTC)
        late = len(_read(store, lambda cur: due_unrecorded(cur, scan_at, runtime.sla.batch)))

        def due() -> object:
            return _read(store, lambda cur: due_unrecorded(cur, scan_at, runtime.sla.batch))

        def sla_list() -> list[dict[str, Any]]:
            return _read(
                store,
                lambda cur: queries.sla_orders(
                    cur, now=scan_at, at_risk_within=LIST_WITHIN, limit=LIST_LIMIT
                ),
            )

        due_seconds = _median_seconds(profiler, "sla-due-query", due, repeats)
        list_seconds = _median_seconds(profiler, "sla-list-query", sla_list, repeats)
        listed = len(sla_list())
        due_plan = _plan(store, lambda cur: due_unrecorded(cur, scan_at, runtime.sla.batch))
        list_plan = _plan(
            store,
            lambda cur: queries.sla_orders(
                cur, now=scan_at, at_risk_within=LIST_WITHIN, limit=LIST_LIMIT
            ),
        )
        result: list[Any] = []
        scan = profiler.run("sla-scan", lambda: result.append(runtime.sla.scan(scan_at)))
        recorded = result[0].recorded
        if recorded != late:
            raise RuntimeError(f"the SLA scan recorded {recorded} breaches of {late} late orders")
        runtime.runner.catch_up("orders")  # the breaches reach the read model
        idle: list[Any] = []
        idle_scan = profiler.run("sla-idle-scan", lambda: idle.append(runtime.sla.scan(scan_at)))
        if idle[0].due:
            raise RuntimeError(f"{idle[0].due} late orders still unrecorded after the scan")
        return SlaTimes(
            open_orders=_count(store, "sla_due_at IS NOT NULL"),
            real_orders=real_orders,
            late=late,
            due_query=due_seconds,
            list_query=list_seconds,
            listed=listed,
            scan=scan.wall,
            recorded=recorded,
            idle_scan=idle_scan.wall,
            due_plan=due_plan,
            list_plan=list_plan,
        )
    finally:
        runtime.close()


def _real_order(desk: OrderDesk, n: int, now: datetime) -> None:
    """By n % 8: 2 created, 2 approved (stock confirmed, due in 48 h), 1 shipped, 1 late
    in stock_confirmed (submitted 3 days ago), 1 late in shipped (shipped 11 days ago),
    1 delivered or cancelled."""
    number, kind = f"SO-SLA-{n:05d}", n % 8
    desk.create(number, n)
    if kind in (0, 1):
        return
    if kind == 5:
        desk.submit(number, effective_at=now - timedelta(days=3))
        return
    if kind == 6:
        desk.submit(number, effective_at=now - timedelta(days=12))
        desk.ship(number, n, effective_at=now - timedelta(days=11))
        return
    desk.submit(number)
    if kind == 7 and n % 16 == 15:
        desk.cancel(number)
    elif kind in (4, 7):
        shipment = desk.ship(number, n)
        if kind == 7:
            desk.deliver(number, shipment)


def _fill(store: ViewStore, count: int, now: datetime) -> None:
    """`count` synthetic open orders, due evenly over HORIZON but inserted in scattered
    order (a real table is not sorted by due time)."""
    span = HORIZON.total_seconds() - 60
    rows: list[Sequence[Any]] = []
    for i in range(count):
        stage, role, status = OPEN_STAGES[i % len(OPEN_STAGES)]
        due = now + timedelta(seconds=60 + span * ((i * 7919) % count) / count)
        entered = now - timedelta(hours=1 + i % 47)
        qty = Decimal(1 + i % 5)
        values = {
            "order_id": str(uuid.uuid4()), "number": f"SO-SYN-{i:06d}",
            "customer": f"C-{i % CUSTOMERS:04d}", "warehouse": SOURCE, "status": status,
            "stage": stage, "stage_role": role,
            "awaiting_role": role if stage == "awaiting_approval" else None,
            "workflow": "standard", "workflow_version": 1, "sla_due_at": due,
            "sla_breached_at": None, "currency": "EUR", "total": qty * Decimal("9.90"),
            "ordered_qty": qty, "shipped_qty": qty if status in ("shipped", "delivered") else 0,
            "delivered_qty": qty if status == "delivered" else 0, "salesperson": f"rep-{i % 12}",
            "region": "north", "channel": "api", "external_ref": None,
            "requested_delivery": None, "promised_date": None, "version": 3,
            "created_at": entered - timedelta(hours=2), "updated_at": entered,
            "stage_entered_at": entered,
        }  # fmt: skip
        rows.append(tuple(values[column] for column in ORDER_COLUMNS))
    with store.transaction() as cur:
        cur.insert_rows("sales_orders", ORDER_COLUMNS, rows)


def _count(store: ViewStore, where: str) -> int:
    with store.read() as cur:
        found = cur.execute(f"SELECT count(*) FROM sales_orders WHERE {where}").fetchone()
    return int(found[0]) if found else 0


def _read(store: ViewStore, query: Callable[[Cursor], list[dict[str, Any]]]) -> Any:
    with store.read() as cur:
        return query(cur)


def _median_seconds(
    profiler: Profiler, label: str, body: Callable[[], object], repeats: int
) -> float:
    body()  # warm-up: pages cached, statement prepared
    return statistics.median(profiler.run(label, body).wall for _ in range(repeats))


class _PlanCursor(Cursor):
    """Runs EXPLAIN of each statement instead of the statement; the caller sees no rows."""

    def __init__(self, cur: Cursor) -> None:
        super().__init__(cur.raw, cur.dialect)
        self.plans: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.dialect == "postgres":
            super().execute(f"EXPLAIN (COSTS OFF) {sql}", params)
            lines = [str(row[0]).strip().removeprefix("->  ") for row in self.raw.fetchall()]
        else:
            super().execute(f"EXPLAIN QUERY PLAN {sql}", params)
            lines = [str(row[-1]) for row in self.raw.fetchall()]
        self.plans.append("; ".join(lines))
        return self

    def fetchdicts(self) -> list[dict[str, Any]]:
        return []


def _plan(store: ViewStore, query: Callable[[Cursor], object]) -> str:
    """The plan the store chooses for the statement `query` runs (as it runs it)."""
    with store.read() as cur:
        explaining = _PlanCursor(cur)
        query(explaining)
    return " | ".join(explaining.plans)

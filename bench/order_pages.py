"""The console's order pages at 100,000 orders: server time of the list (under several
filters), one order, the approvals inbox and the late list, on SQLite and PostgreSQL.

    python -m bench.order_pages                          # both stores, 100,000 orders
    python -m bench.order_pages --stores sqlite --orders 20000 --requests 20

How the read models are filled: a few hundred real orders go through the ledger's commands
(created, submitted under an approval policy, approved, shipped, signed for, invoiced, with
notes and complaints) and the projections; then synthetic rows are written straight into the
orders read model (`sales_orders`, five `order_timeline` steps each) and into `receivables`
(one per shipped order) up to the number of orders asked for — by `Cursor.insert_rows`, COPY
on PostgreSQL. Recording 100,000 orders by command would take most of an hour per store, and
the pages read nothing else: every list is a query of those tables, and the order page reads
its order from the ledger by id (an index lookup whatever the log's length) — which is why it
is timed on the real orders. The synthetic rows spread over a year of order dates, 200
customers, 12 salespeople, 4 regions, every open stage; a third are past their stage's SLA,
and one in ten waits for an approval (by the sales director, a manager or finance).

Pages are asked in process (FastAPI's TestClient) with a real API key of a manager, as a
browser would with its session; each figure is the page's own `Server-Timing` (from the
permission check to the rendered HTML) and, beside it, the whole request as the client saw
it (authentication, routing and the HTTP layer included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from api.app import create_app
from api.runtime import Runtime
from api.settings import Settings
from bench.commands import SOURCE, meta, seed_catalog, sku_codes
from bench.orders import OrderDesk, customer_codes, seed_customers
from bench.results import PAGE_TARGET_MS, record
from bench.sla import _plan
from bench.stores import StoreFactory, postgres_problem
from domain.values import Meta
from projections import queries, worklists
from projections.orders import ORDER_COLUMNS, TIMELINE_COLUMNS
from projections.receivables import COLUMNS as RECEIVABLE_COLUMNS
from projections.store import Cursor

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SKUS, CUSTOMERS, SALESPEOPLE = 100, 200, 12
REGIONS = ("north", "south", "east", "west")
APPROVERS = ("sales_director", "manager", "finance")
POLICY = {"rules": [{"name": "every order", "when": {"amount_over": "0", "currency": "EUR"},
                     "levels": ["sales_director"]}]}  # fmt: skip
# Synthetic orders' stages: (stage, responsible role, status, SLA hours or None).
STAGES = (
    ("created", "sales", "created", 24), ("awaiting_approval", "sales_director", "created", 24),
    ("stock_confirmed", "warehouse", "approved", 48),
    ("production_scheduled", "production", "approved", 120),
    ("shipped", "warehouse", "shipped", 240), ("delivered", "sales", "delivered", 72),
    ("completed", "sales", "delivered", None), ("cancelled", "sales", "cancelled", None),
)  # fmt: skip
FAR_POSITION = 10**12  # synthetic timeline and receivable positions, past any real one
BATCH = 20_000


def real_orders(rt: Runtime, count: int) -> list[str]:
    """`count` orders by command; returns the numbers of those shipped, signed for and
    invoiced (the richest order pages)."""
    ledger = rt.ledger
    skus = sku_codes(SKUS)
    accounts = customer_codes(CUSTOMERS)
    seed_catalog(ledger, skus, (SOURCE,))
    seed_customers(ledger, accounts)
    ledger.publish_approval_policy(meta("publish_approval_policy"), policy=POLICY)
    desk = OrderDesk(ledger, skus, accounts)
    whole = []
    for n in range(count):
        number, kind = f"SO-R-{n:05d}", n % 6
        desk.create(number, n)
        if kind == 0:
            continue
        desk.submit(number)
        if kind == 1:
            continue  # waits for the director
        ledger.approve_sales_order(_director(), number=number, comment="agreed")
        if kind == 2:
            continue
        shipment = desk.ship(number, n)
        if kind >= 4:
            desk.deliver(number, shipment)
        if kind == 5:
            ledger.issue_invoice(
                meta("issue_invoice"), customer=accounts[n % len(accounts)],
                shipments=[{"order_number": number, "shipment_ref": shipment}],
            )  # fmt: skip
            ledger.add_internal_note(meta("add_internal_note"), number=number, note="call first")
            ledger.record_complaint(meta("record_complaint"), number=number, category="late",
                                    reason="a day late")  # fmt: skip
            whole.append(number)
    if not rt.runner.wait_for(ledger.head(), None, timeout=600):
        raise SystemExit("the projections did not catch up with the real orders")
    return whole


def _director() -> Meta:
    return Meta(
        actor="bench.director", correlation_id=uuid.uuid4().hex, command="approve_sales_order",
        at=datetime.now(UTC), role="sales_director",
    )  # fmt: skip


def fill(rt: Runtime, count: int, now: datetime) -> None:
    """`count` synthetic orders in the orders read model, their timelines and receivables."""
    orders: list[Sequence[Any]] = []
    steps: list[Sequence[Any]] = []
    owed: list[Sequence[Any]] = []
    for i in range(count):
        order, timeline, receivable = _synthetic(i, now)
        orders.append(order)
        steps += timeline
        if receivable is not None:
            owed.append(receivable)
        if len(orders) >= BATCH:
            _write(rt, orders, steps, owed)
            orders, steps, owed = [], [], []
    _write(rt, orders, steps, owed)
    if rt.store.dialect == "postgres":  # autovacuum would analyze tables this size soon
        with rt.store.transaction() as cur:
            for table in ("sales_orders", "order_timeline", "receivables"):
                cur.execute(f"ANALYZE {table}")


def _synthetic(i: int, now: datetime) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], Any]:
    stage, role, status, sla = STAGES[(i * 7) % len(STAGES)]
    # Four in five orders awaiting approval wait for someone (one in ten of all orders).
    waiting = stage == "awaiting_approval" and (i // len(STAGES)) % 5 != 0
    approver = APPROVERS[(i // len(STAGES)) % len(APPROVERS)] if waiting else None
    created = now - timedelta(minutes=(i * 7919) % (365 * 24 * 60))
    entered = max(created, now - timedelta(hours=1 + i % 200))
    # A third past due (up to five days), the rest due within ten days.
    due = None if sla is None else now + timedelta(minutes=((i * 104729) % (15 * 1440)) - 5 * 1440)
    qty = Decimal(1 + i % 5)
    number = f"SO-S-{i:06d}"
    values = {
        "order_id": str(uuid.uuid4()), "number": number, "customer": f"C-{i % CUSTOMERS:04d}",
        "warehouse": SOURCE, "status": status, "stage": stage, "stage_role": approver or role,
        "awaiting_role": approver, "workflow": "standard", "workflow_version": 1,
        "sla_due_at": due, "sla_breached_at": due + timedelta(minutes=1)
        if due is not None and due < now - timedelta(hours=1) else None,
        "currency": "EUR", "total": qty * Decimal("19.90"), "ordered_qty": qty,
        "shipped_qty": qty if status in ("shipped", "delivered") else 0,
        "delivered_qty": qty if status == "delivered" else 0,
        "salesperson": f"rep-{i % SALESPEOPLE}", "region": REGIONS[i % len(REGIONS)],
        "channel": "api", "external_ref": None, "requested_delivery": None,
        "promised_date": (created + timedelta(days=14)).date().isoformat(), "version": 5,
        "created_at": created, "updated_at": entered, "stage_entered_at": entered,
    }  # fmt: skip
    timeline = [
        (FAR_POSITION + i * 5 + k, number, kind, None if k == 0 else "created", stage, status,
         "bench", "sales", None, created + timedelta(minutes=k), created + timedelta(minutes=k),
         None, detail)
        for k, (kind, detail) in enumerate((
            ("Created", ""), ("Submitted", "approval by sales_director"),
            ("ApprovalGiven", "level 1 approved by sales_director"),
            ("StageChanged", "on approved, warehouse responsible"), ("StockAllocated", ""),
        ))
    ]  # fmt: skip
    receivable = None
    if status in ("shipped", "delivered"):
        total = qty * Decimal("19.90")
        receivable = (
            str(uuid.uuid4()), FAR_POSITION + i, number, "SH-1", values["customer"], "EUR",
            total, Decimal(0), total, "pending_invoice", created, created, 1,
        )  # fmt: skip
    return tuple(values[c] for c in ORDER_COLUMNS), timeline, receivable


def _write(rt: Runtime, orders: list[Any], steps: list[Any], owed: list[Any]) -> None:
    with rt.store.transaction() as cur:
        cur.insert_rows("sales_orders", ORDER_COLUMNS, orders)
        cur.insert_rows("order_timeline", TIMELINE_COLUMNS, steps)
        cur.insert_rows("receivables", RECEIVABLE_COLUMNS, owed)


def pages(now: datetime) -> list[tuple[str, str, dict[str, str]]]:
    """(figure, path, query) for every page timed; `{n}` cycles through real orders."""
    recent = (now - timedelta(days=3)).date().isoformat()
    return [
        ("list, first page", "/console/orders", {}),
        ("list, page 100 (keyset)", "/console/orders", {"after": "SO-S-005000"}),
        ("list, by status", "/console/orders", {"status": "approved"}),
        ("list, by stage", "/console/orders", {"stage": "awaiting_approval"}),
        ("list, by customer", "/console/orders", {"customer": "C-0042"}),
        ("list, salesperson + region", "/console/orders",
         {"salesperson": "rep-3", "region": "west"}),
        ("list, last 3 days", "/console/orders", {"ordered_from": recent}),
        ("list, search (a match)", "/console/orders", {"search": "s-0999"}),
        ("list, search (no match: every row)", "/console/orders", {"search": "zzz"}),
        ("order page (shipped, invoiced)", "/console/orders/{n}", {}),
        ("approvals inbox (manager)", "/console/approvals", {}),
        ("late list, most late first", "/console/late", {}),
        ("late list, least late first", "/console/late", {"sort": "least", "state": "late"}),
        ("late list, at risk", "/console/late", {"state": "at_risk"}),
    ]  # fmt: skip


def plans(rt: Runtime, whole: list[str], now: datetime) -> list[str]:
    """The plan each store chooses for the pages' statements (EXPLAIN)."""
    recent = (now - timedelta(days=3)).date()
    listing: dict[str, dict[str, Any]] = {
        "first page": {}, "status": {"status": "approved"}, "customer": {"customer": "C-0042"},
        "salesperson + region": {"salesperson": "rep-3", "region": "west"},
        "last 3 days": {"ordered_from": recent}, "search": {"search": "zzz"},
    }  # fmt: skip
    base = {"status": None, "customer": None, "salesperson": None, "after": None, "limit": 51}
    late: dict[str, Any] = {"now": now, "at_risk_within": timedelta(hours=24), "state": "all",
                            "after": None, "limit": 51}  # fmt: skip
    statements: list[tuple[str, Callable[[Cursor], object]]] = [
        *((f"list, {label}", partial(queries.list_sales_orders, **{**base, **filters}))
          for label, filters in listing.items()),
        ("inbox", partial(worklists.awaiting_approval, role="manager", after=None, limit=51)),
        ("late, most", partial(worklists.late_orders, **late, lateness="most")),
        ("late, least", partial(worklists.late_orders, **late, lateness="least")),
        ("timeline", partial(queries.order_timeline, number=whole[0])),
        ("receivables of an order", partial(
            queries.list_receivables, customer=None, order_number=whole[0], status=None,
            after=None, limit=100)),
    ]  # fmt: skip
    return [f"{label}: {_plan(rt.store, statement)}" for label, statement in statements]


def measure(factory: StoreFactory, orders: int, real: int, requests: int) -> list[str]:
    settings: Settings = factory.settings("order_pages").model_copy(
        update={"sla_scan_seconds": 86_400.0, "run_notifications": False}
    )
    app = create_app(settings)
    lines = []
    with TestClient(app) as client:
        rt: Runtime = app.state.runtime
        started = time.perf_counter()
        whole = real_orders(rt, real)
        made = time.perf_counter()
        now = datetime.now(UTC)
        fill(rt, orders - real, now)
        print(f"  {factory.label}: {real} real orders in {made - started:.0f} s, "
              f"{orders - real:,} synthetic rows in {time.perf_counter() - made:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
        rt.access.create_user(meta("create_user"), name="bench.manager", role="manager")
        _, key = rt.access.issue_key(meta("issue_key"), name="bench.manager")
        headers = {"Authorization": f"Bearer {key}"}
        for line in plans(rt, whole, now):
            print(f"  {factory.label} plan, {line}", file=sys.stderr, flush=True)
        for label, path, query in pages(now):
            server, wall = _time(client, headers, path, query, whole, requests)
            record("pages", f"{label}, {orders:,} orders, server time p95", factory.label,
                   float(_ms(server, 95)), "ms", target=PAGE_TARGET_MS,
                   target_text=f"< {PAGE_TARGET_MS} ms p95", lower_is_better=True,
                   bench="python -m bench.order_pages")  # fmt: skip
            lines.append(
                f"| {factory.label} | {label} | {_ms(server, 50)} | {_ms(server, 95)} |"
                f" {_ms(wall, 50)} | {_ms(wall, 95)} |"
            )
    return lines


def _time(
    client: TestClient, headers: dict[str, str], path: str, query: dict[str, str],
    whole: list[str], requests: int,
) -> tuple[list[float], list[float]]:  # fmt: skip
    server, wall = [], []
    for n in range(requests + 3):  # three warm-ups: templates compiled, statements prepared
        address = path.replace("{n}", whole[n % len(whole)])
        began = time.perf_counter()
        answer = client.get(address, params=query or None, headers=headers)
        took = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{address} {query}: {answer.status_code} {answer.text[:300]}")
        if n >= 3:
            timing = answer.headers["Server-Timing"]
            server.append(float(timing.split("dur=")[1]))
            wall.append(took)
    return server, wall


def _ms(values: list[float], percent: int) -> str:
    if len(values) < 2:
        return f"{values[0]:.1f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[percent - 1]:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=300, help="orders made by command")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    print(f"Order pages, {args.orders:,} orders, {args.requests} requests each (ms)")
    print("| store | page | server p50 | server p95 | request p50 | request p95 |")
    print("|---|---|---|---|---|---|", flush=True)
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            print("\n".join(measure(factory, args.orders, args.real, args.requests)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

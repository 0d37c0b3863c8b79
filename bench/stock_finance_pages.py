"""The console's inventory and finance pages at scale: server time of each page over HTTP.

    python -m bench.stock_finance_pages                       # both stores, 100,000 orders
    python -m bench.stock_finance_pages --stores sqlite --orders 20000 --requests 20

The read models the pages read are filled at the volume of 100,000 orders: 10,000 SKUs in
5 warehouses (50,000 stock items, a few per cent below safety stock, with their alerts),
the movement ledger of those orders (a reservation and a shipment issue per order line,
two lines an order, plus replenishments: ~450,000 movements, popular SKUs far busier than
the rest), and receivables for 2,000 customers: 100,000 invoices with their allocations,
reversals and credit notes (`bench.ageing`'s history), the payments behind them and an
unapplied-cash queue. The rows go into the projection tables directly (COPY on
PostgreSQL, multi-row INSERT on SQLite), as `bench.ageing` does: the pages read only
those tables, and recording 100,000 orders through the commands would take the better
part of an hour without changing a row the pages read. The customers whose statements
are asked for are registered through the ledger (the statement page loads the account).

Then the app serves the pages in process (`TestClient`, so the whole stack: routing,
authentication, the page, its template), each asked `--requests` times with varied
parameters (filters, later pages, SKUs hot and cold, days across two years, customers),
after a warm-up. The figure is the page's own `Server-Timing` (from the caller being known
to the rendered page), p50 and p95, with the whole request's time beside it.

The finance page reads a day's figures once per state of the read model
(`api/console/day_figures.py`), so the ageing is measured twice: on days not asked before
(every request reads every invoice dated by its day) and on other pages and sorts of a day
just shown (the figures are kept). The unapplied-cash tab shows today's headline figures,
read by its first request.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import Request

from api.access import Principal
from api.app import create_app
from api.runtime import Runtime, open_runtime
from bench import ageing
from bench.results import PAGE_TARGET_MS, record
from bench.stores import StoreFactory, postgres_problem
from domain.values import Meta
from projections.inventory import ITEM_NAMES, MOVEMENT_NAMES
from projections.receivables import PAYMENT_COLUMNS, UNAPPLIED_COLUMNS
from projections.store import Cursor

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette prefers the httpx2 fork; plain httpx works
    from fastapi.testclient import TestClient

SKUS, WAREHOUSES = 10_000, 5
STATEMENT_CUSTOMERS = 20
UNMATCHED_PAYMENTS = 3_000
ALERT_COLUMNS = [
    "alert_id",
    "stock_item_id",
    "sku",
    "warehouse",
    "safety_stock",
    "projected",
    "gap",
    "status",
    "requisition_number",
    "raised_position",
    "raised_at",
    "cleared_position",
    "cleared_at",
]
PAGES = (
    "inventory list",
    "SKU page",
    "ageing, a day not asked before",
    "ageing, another page or sort of a day",
    "unapplied cash",
    "statement",
)
SORTS_ASKED = ("customer", "total", "overdue")


def _manager(_request: Request, *_credentials: object) -> Principal:
    return Principal("bench.manager", "manager", None, "key", "bench")


def _meta() -> Meta:
    return Meta(
        actor="bench",
        correlation_id=str(uuid.uuid4()),
        command="bench",
        at=datetime.now(UTC),
        role="admin",
    )


@dataclass
class Stock:
    items: list[tuple[Any, ...]]
    movements: list[tuple[Any, ...]]
    alerts: list[tuple[Any, ...]]
    hottest: str


def sku_code(n: int) -> str:
    return f"SKU-{n:05d}"


def stock_rows(orders: int, seed: int = 7) -> Stock:
    """Items, their movements (two lines an order, each reserved then issued, and a
    replenishment whenever an item runs low) and the alerts of those below safety."""
    rng, now = random.Random(seed), datetime.now(UTC)
    codes = [f"WH-{n}" for n in range(1, WAREHOUSES + 1)]
    levels: dict[tuple[str, str], list[Decimal]] = {}  # physical, locked, safety
    for n in range(SKUS):
        for code in codes:
            levels[(sku_code(n), code)] = [Decimal(0), Decimal(0), Decimal(rng.choice((0, 5, 20)))]
    movements: list[tuple[Any, ...]] = []
    position, start = 0, now - timedelta(days=730)

    def move(
        key: tuple[str, str],
        kind: str,
        doc: tuple[str, str],
        qty: Decimal,
        d: tuple[Decimal, Decimal],
    ) -> None:
        nonlocal position
        position += 1
        row = levels[key]
        row[0] += d[0]
        row[1] += d[1]
        at = start + timedelta(minutes=position)
        movements.append(
            (
                position,
                str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(key))),
                key[0],
                key[1],
                position,
                kind,
                doc[0],
                doc[1],
                qty,
                d[0],
                Decimal(0),
                d[1],
                row[0],
                Decimal(0),
                row[1],
                row[0] - row[1],
                "",
                at,
                at,
                "bench",
                None,
            )
        )

    for key in sorted(levels):  # opening balances: what each item held two years ago
        opening = Decimal(rng.randrange(20, 400))
        move(key, "Received", ("purchase_order", f"PO-{position}"), opening, (opening, Decimal(0)))
    for number in range(orders):
        for _ in range(2):
            sku = sku_code(int(SKUS * rng.random() ** 3))  # the first SKUs are the busiest
            key, qty = (sku, rng.choice(codes)), Decimal(rng.randint(1, 20))
            if levels[key][0] - levels[key][1] < qty:
                move(
                    key,
                    "Received",
                    ("purchase_order", f"PO-{position}"),
                    qty * 10,
                    (qty * 10, Decimal(0)),
                )
            ref = ("sales_order", f"SO-{number:06d}")
            move(key, "Reserved", ref, qty, (Decimal(0), qty))
            move(key, "IssuedForShipment", ref, qty, (-qty, -qty))
    items, alerts = [], []
    for (sku, code), (physical, locked, safety) in sorted(levels.items()):
        available = physical - locked
        item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sku}/{code}"))
        below = available < safety
        items.append(
            (
                item_id,
                sku,
                code,
                physical,
                Decimal(0),
                locked,
                available,
                Decimal(0),
                Decimal(0),
                available,
                safety,
                below,
                1,
                position,
                now,
            )
        )
        if below:
            alerts.append(
                (
                    str(uuid.uuid4()),
                    item_id,
                    sku,
                    code,
                    safety,
                    available,
                    safety - available,
                    "open",
                    None,
                    position,
                    now,
                    None,
                    None,
                )
            )
    return Stock(items, movements, alerts, sku_code(0))


def load_stock(cur: Cursor, stock: Stock) -> None:
    cur.insert_rows(
        "warehouses",
        ["code", "warehouse_id", "name", "address", "registered_at"],
        [
            (f"WH-{n}", str(uuid.uuid4()), f"Warehouse {n}", "", None)
            for n in range(1, WAREHOUSES + 1)
        ],
    )
    cur.insert_rows(
        "products",
        [
            "sku",
            "product_id",
            "name",
            "unit",
            "make_or_buy",
            "standard",
            "list_price",
            "standard_cost",
            "currency",
            "version",
            "registered_at",
        ],
        [
            (
                sku_code(n),
                str(uuid.uuid4()),
                f"Part {n}",
                "pcs",
                "buy",
                True,
                Decimal(10),
                Decimal(6),
                "EUR",
                1,
                None,
            )
            for n in range(SKUS)
        ],
    )
    cur.insert_rows("inventory_items", ITEM_NAMES, stock.items)
    for begin in range(0, len(stock.movements), 50_000):
        cur.insert_rows("stock_movements", MOVEMENT_NAMES, stock.movements[begin : begin + 50_000])
    cur.insert_rows("safety_alerts", ALERT_COLUMNS, stock.alerts)


def load_finance(cur: Cursor, made: ageing.History, registered: set[str]) -> None:
    """The payments behind the allocations (a few paying more than they were allocated),
    payments nobody matched, the unapplied-cash queue, and the customers' names."""
    now, rng = datetime.now(UTC), random.Random(3)
    paid: dict[str, tuple[Decimal, str, str]] = {}
    for _, ref, _, amount, _, on, *_ in made.allocations:
        total, first, currency = paid.get(ref, (Decimal(0), on, "EUR"))
        paid[ref] = (total + amount, min(first, on), currency)
    payments, queue = [], []
    for n, (ref, (total, on, currency)) in enumerate(sorted(paid.items())):
        extra = Decimal(rng.randrange(100, 50_000)) / 100 if rng.random() < 0.03 else Decimal(0)
        payments.append((ref, n, "Payer", total + extra, currency, on, "", "manual", now))
        if extra:
            queue.append((ref, on, currency, extra, n))
    for n in range(UNMATCHED_PAYMENTS):
        ref, on = f"BNK-{n:05d}", (ageing.FIRST_DAY + timedelta(days=rng.randrange(730)))
        amount = Decimal(rng.randrange(1_000, 500_000)) / 100
        payments.append(
            (
                ref,
                len(payments),
                f"Unknown payer {n % 300}",
                amount,
                "EUR",
                on.isoformat(),
                f"order {rng.randrange(10**6)}",
                "statement",
                now,
            )
        )
        queue.append((ref, on.isoformat(), "EUR", amount, len(payments)))
    cur.insert_rows("payments", PAYMENT_COLUMNS, payments)
    cur.insert_rows("unapplied_cash", UNAPPLIED_COLUMNS, queue)
    cur.insert_rows(
        "receivable_customers",
        ["code", "name", "position"],
        [
            (code, f"Customer {code[2:]} GmbH", 0)
            for code in (f"C-{n:04d}" for n in range(ageing.CUSTOMERS))
            if code not in registered
        ],
    )


def register_customers(runtime: Runtime) -> set[str]:
    """The accounts whose statements are asked for (the page loads each account)."""
    codes = {f"C-{n:04d}" for n in range(STATEMENT_CUSTOMERS)}
    for code in sorted(codes):
        runtime.ledger.register_customer(
            _meta(),
            code_=code,
            name=f"Customer {code[2:]} GmbH",
            contacts=[],
            billing_address="1 Bill St",
            shipping_address="2 Ship Rd",
            region="north",
            payment_terms_days=30,
            credit_limit="0",
            currency_code="EUR",
        )
    return codes


def fill(factory: StoreFactory, runtime: Runtime, orders: int, registered: set[str]) -> str:
    """All the rows; returns what was loaded, in words."""
    stock = stock_rows(orders)
    made = ageing.history(orders)
    with runtime.store.transaction() as cur:
        load_stock(cur, stock)
    ageing.load(runtime.store, made)
    with runtime.store.transaction() as cur:
        load_finance(cur, made, registered)
    if runtime.store.dialect == "postgres":
        _vacuum(factory, runtime)  # what autovacuum does soon after such a load
    hot = sum(1 for m in stock.movements if m[2] == stock.hottest)
    return (
        f"{len(stock.items):,} stock items ({len(stock.alerts):,} below safety),"
        f" {len(stock.movements):,} movements ({hot:,} of the busiest SKU),"
        f" {len(made.invoices):,} invoices, {len(made.allocations):,} allocations,"
        f" {len(made.credits):,} credit notes"
    )


def _vacuum(factory: StoreFactory, runtime: Runtime) -> None:
    import psycopg

    settings = runtime.settings
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
        connection.execute(f'SET search_path TO "{settings.views_schema}"')
        connection.execute("VACUUM ANALYZE")


Asks = Callable[[random.Random], str]


def asks(stock_hot: str) -> dict[str, Asks]:
    """Per page, an address with varied parameters."""
    days = [ageing.FIRST_DAY + timedelta(days=n) for n in range(0, 1100, 7)]

    def inventory(rng: random.Random) -> str:
        return rng.choice(
            [
                "/console/inventory",
                "/console/inventory?warehouse=WH-3",
                f"/console/inventory?sku=SKU-0{rng.randrange(10)}",
                "/console/inventory?below=1",
                "/console/inventory?warehouse=WH-2&below=1",
                f"/console/inventory?after=SKU-{rng.randrange(SKUS):05d}/WH-1",
                f"/console/inventory?before=SKU-{rng.randrange(SKUS):05d}/WH-5",
            ]
        )

    def sku(rng: random.Random) -> str:
        one = stock_hot if rng.random() < 0.3 else sku_code(rng.randrange(SKUS))
        return rng.choice(
            [
                f"/console/inventory/{one}",
                f"/console/inventory/{one}?warehouse=WH-1",
                f"/console/inventory/{one}?before={rng.randrange(1, 400_000)}",
            ]
        )

    fresh = iter(random.Random(5).sample(days, len(days)))  # a day not asked before

    def ageing_page(rng: random.Random) -> str:
        day = next(fresh, days[0])
        return rng.choice(
            [f"/console/finance?as_of={day}", f"/console/finance?as_of={day}&sort=total"]
        )

    def same_day(rng: random.Random) -> str:
        sort, number = rng.choice(SORTS_ASKED), rng.randrange(1, 21)
        return f"/console/finance?as_of={days[-1]}&sort={sort}&page={number}"

    def unapplied(rng: random.Random) -> str:
        return rng.choice(
            [
                "/console/finance?view=unapplied",
                f"/console/finance?view=unapplied&after={rng.choice(days)}/BNK-00000",
                "/console/finance?view=unapplied&currency=USD",
            ]
        )

    def statement(rng: random.Random) -> str:
        end = rng.choice(days)
        return (
            f"/console/finance/customers/C-{rng.randrange(STATEMENT_CUSTOMERS):04d}/statement"
            f"?from={end - timedelta(days=89)}&to={end}"
        )

    return dict(
        zip(PAGES, (inventory, sku, ageing_page, same_day, unapplied, statement), strict=True)
    )


@dataclass(frozen=True)
class Times:
    server: list[float]  # ms, from Server-Timing
    whole: list[float]  # ms, the request in process
    cpu: list[float]  # ms of this process's CPU per request (SQLite: all of the work)

    def cell(self, values: list[float]) -> str:
        return f"{_p(values, 50):.0f} / {_p(values, 95):.0f}"


def _p(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def measure(client: TestClient, ask: Asks, requests: int, rng: random.Random) -> Times:
    server, whole, cpu = [], [], []
    for n in range(requests + 3):
        path = ask(rng)
        started, used = time.perf_counter(), time.process_time()
        answer = client.get(path, headers={"Authorization": "Bearer bench"})
        took = (time.perf_counter() - started) * 1000
        spent = (time.process_time() - used) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
        found = re.match(r"page;dur=([\d.]+)", answer.headers["server-timing"])
        assert found
        if n >= 3:  # the first few warm caches up
            server.append(float(found.group(1)))
            whole.append(took)
            cpu.append(spent)
    return Times(server, whole, cpu)


def check(client: TestClient) -> None:
    """The ageing page's totals are the API's, on a day inside the history."""
    day = "2025-06-30"
    page = client.get(f"/console/finance?as_of={day}", headers={"Authorization": "Bearer b"})
    totals = client.get(
        "/ar/ageing", params={"as_of": day}, headers={"Authorization": "Bearer b"}
    ).json()["totals"]
    for code, total in totals.items():
        shown = re.search(
            rf'<tr class="totals" data-currency="{code}">.*?data-field="total"'
            r' data-value="([^"]+)"',
            page.text,
            re.S,
        )
        if not shown or Decimal(shown.group(1)) != Decimal(total["total"]):
            raise SystemExit(f"the ageing page's {code} total is not the API's {total['total']}")


def run(factory: StoreFactory, orders: int, requests: int) -> tuple[str, dict[str, Times]]:
    settings = factory.settings("pages")
    runtime = open_runtime(settings, start_projections=False)
    try:
        registered = register_customers(runtime)
        head = runtime.ledger.head()
    finally:
        runtime.close()
    app = create_app(settings)
    app.state.authenticator = _manager
    with TestClient(app) as client:
        served: Runtime = app.state.runtime
        if not served.runner.wait_for(head, ["receivables"], timeout=120):
            raise SystemExit("the receivables projection did not catch up")
        started = time.perf_counter()
        loaded = fill(factory, served, orders, registered)
        print(
            f"[{factory.label}] loaded in {time.perf_counter() - started:.0f} s: {loaded}",
            file=sys.stderr,
        )
        check(client)
        rng = random.Random(11)
        timed = {
            name: measure(client, ask, requests, rng) for name, ask in asks(sku_code(0)).items()
        }
    return loaded, timed


def table(results: dict[str, dict[str, Times]]) -> Iterator[str]:
    stores = list(results)
    yield (
        "| page, p50 / p95 ms | "
        + " | ".join(f"{s} server | {s} whole request | {s} CPU here" for s in stores)
        + " |"
    )
    yield "|---" + "|--:|--:|--:" * len(stores) + "|"
    for name in PAGES:
        cells = []
        for store in stores:
            found = results[store][name]
            cells += [found.cell(found.server), found.cell(found.whole), found.cell(found.cpu)]
        yield f"| {name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    from bench.run import DEFAULT_POSTGRES_URL

    parser = argparse.ArgumentParser(
        prog="python -m bench.stock_finance_pages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="per page, after 3 warm-ups")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Times]] = {}
    loaded, load = "nothing", [_load()]
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            loaded, results[factory.label] = run(factory, args.orders, args.requests)
            load.append(_load())
    print(f"Read models at {args.orders:,} orders: {loaded}.")
    print(
        "CPU here: this process's CPU per request (on SQLite all of the page's work, on"
        " PostgreSQL not the server's)."
    )
    print(
        f"{args.requests} requests per page after 3 warm-ups: the page's Server-Timing, and"
        f" the whole request in process; load average {' → '.join(f'{x:.1f}' for x in load)}"
        f" on {os.cpu_count()} CPUs."
    )
    print("\n".join(table(results)))
    for store, pages in results.items():
        for name, found in pages.items():
            record("pages", f"{name}, {args.orders:,} orders, server time p95", store,
                   _p(found.server, 95), "ms", target=PAGE_TARGET_MS,
                   target_text=f"< {PAGE_TARGET_MS} ms p95", lower_is_better=True,
                   bench="python -m bench.stock_finance_pages")  # fmt: skip
    return 0


def _load() -> float:
    try:
        with open("/proc/loadavg") as found:
            return float(found.read().split()[0])
    except OSError:
        return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())

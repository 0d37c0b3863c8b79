"""AR ageing and open items as of a past date over 100,000 invoices.

    python -m bench.ageing                        # 100,000 invoices, both stores
    python -m bench.ageing --invoices 5000 --stores sqlite

This measures the queries, not the commands: the receivables read model (receivables,
invoices, allocations, invoice_credits) is filled with bulk INSERTs (COPY on PostgreSQL,
multi-row VALUES on SQLite) of a realistic history — two years of invoices for 2,000
customers, 60 % paid in one or two parts, some allocations reversed, a few credit notes —
and checked against a total computed here from the same rows before anything is timed.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.sla import _plan
from bench.stores import StoreFactory, postgres_problem
from projections import ar, queries
from projections.receivables import (
    ALLOCATION_COLUMNS,
    COLUMNS,
    INVOICE_COLUMNS,
    ReceivablesProjection,
)
from projections.store import ViewStore

CUSTOMERS = 2_000
FIRST_DAY, DAYS = date(2024, 1, 1), 730
AS_OF = date(2025, 6, 30)  # a past date inside the history
ONE_CUSTOMER = "C-0042"
RECEIVABLE_COLUMNS = [*COLUMNS, "invoice_number", "invoice_date", "due_date"]
CREDIT_COLUMNS = [
    "credit_id", "invoice_number", "kind", "amount", "effective_date", "reversed_date",
    "recorded_at",
]  # fmt: skip


@dataclass(frozen=True)
class Timed:
    """Medians of the repeats, in seconds: wall clock, and the CPU this process used (all
    of SQLite's work; PostgreSQL's server is not in it). On a machine other jobs share,
    the CPU figure moves less than the wall clock."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{_ms(self.wall)} (CPU {_ms(self.cpu)})"


@dataclass(frozen=True)
class AgeingTimes:
    invoices: int
    allocations: int
    reversed: int  # allocations reversed at some date
    credits: int
    open_items: int  # invoices open as of AS_OF
    customer_items: int  # of them ONE_CUSTOMER's
    ageing_all: Timed
    open_items_all: Timed
    ageing_customer: Timed
    open_items_customer: Timed
    metrics_month: Timed  # `ar.metrics` over the month that ends on AS_OF, every customer
    load: float  # seconds to bulk-load the rows (not a query figure)
    customer_plan: str


@dataclass
class History:
    receivables: list[tuple[Any, ...]]
    invoices: list[tuple[Any, ...]]
    allocations: list[tuple[Any, ...]]
    credits: list[tuple[Any, ...]]
    expected: dict[str, Decimal]  # open total per currency as of AS_OF, computed here


def history(count: int, seed: int = 20240101) -> History:
    rng, now = random.Random(seed), datetime.now(UTC)
    made = History([], [], [], [], defaultdict(Decimal))
    for n in range(count):
        number, who = f"INV-{n + 1:07d}", f"C-{rng.randrange(CUSTOMERS):04d}"
        dated = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        due = dated + timedelta(days=rng.choice((14, 30, 30, 45, 60)))
        total = Decimal(rng.randrange(100, 5_000_000)) / 100
        currency = "EUR" if rng.random() < 0.9 else "USD"
        made.invoices.append((number, n + 1, who, currency, total, Decimal(0), total,
                              dated.isoformat(), due.isoformat(), 1, now))  # fmt: skip
        made.receivables.append((str(uuid.UUID(int=n)), n + 1, f"SO-{n}", f"SH-{n}", who,
                                 currency, total, Decimal(0), total, "invoiced", now, now, 2,
                                 number, dated.isoformat(), due.isoformat()))  # fmt: skip
        less = _payments(rng, made, number, total, dated, now)
        less += _credit(rng, made, number, total, dated, now)
        if dated <= AS_OF and total - less > 0:
            made.expected[currency] += total - less
    return made


def _payments(
    rng: random.Random, made: History, number: str, total: Decimal, dated: date, now: datetime
) -> Decimal:
    """60 % of invoices are paid, 30 % of those in two parts; 5 % of allocations are
    reversed a few days later. Returns what stands as of AS_OF."""
    if rng.random() >= 0.6:
        return Decimal(0)
    first = total if rng.random() < 0.7 else (total / 2).quantize(Decimal("0.01"))
    standing = Decimal(0)
    for part, amount in enumerate((first, total - first), 1):
        if not amount:
            continue
        on = dated + timedelta(days=rng.randrange(0, 120))
        undone = on + timedelta(days=rng.randrange(1, 30)) if rng.random() < 0.05 else None
        reversal = None if undone is None else undone.isoformat()
        made.allocations.append((f"{number}-P-A{part}", f"{number}-P", number, amount, "manual",
                                 on.isoformat(), reversal, None, now))  # fmt: skip
        if on <= AS_OF and (undone is None or undone > AS_OF):
            standing += amount
    return standing


def _credit(
    rng: random.Random, made: History, number: str, total: Decimal, dated: date, now: datetime
) -> Decimal:
    """2 % of invoices get a credit note for a tenth of their total."""
    if rng.random() >= 0.02:
        return Decimal(0)
    amount, on = (total / 10).quantize(Decimal("0.01")), dated + timedelta(days=rng.randrange(30))
    made.credits.append((f"CN-{number}", number, "credit_note", amount, on.isoformat(), None, now))
    return amount if on <= AS_OF else Decimal(0)


def load(store: ViewStore, made: History) -> None:
    projection = ReceivablesProjection()
    with store.transaction() as cur:
        projection.create_tables(cur)
        cur.insert_rows("receivables", RECEIVABLE_COLUMNS, made.receivables)
        cur.insert_rows("invoices", INVOICE_COLUMNS, made.invoices)
        cur.insert_rows("allocations", ALLOCATION_COLUMNS, made.allocations)
        cur.insert_rows("invoice_credits", CREDIT_COLUMNS, made.credits)
        projection.respan(cur)  # what the projection derives from those rows
    if store.dialect == "postgres":
        # Autovacuum analyzes tables this size soon after a bulk load; do it now.
        with store.transaction() as cur:
            for table in projection.tables:
                cur.execute(f"ANALYZE {table}")


def measure_ageing(factory: StoreFactory, *, invoices: int, repeats: int) -> AgeingTimes:
    store = factory.view_store(factory.settings("ageing"), "ageing")
    try:
        loaded, counts, expected = _fill(store, invoices)
        report = _read(store, lambda cur: ar.ageing(cur, as_of=AS_OF))
        totals = {c: t["total"] for c, t in report["totals"].items()}
        if totals != expected or report["open_items_total"] != expected:
            raise RuntimeError(f"ageing {totals} is not the expected {expected}")
        mine = _read(store, lambda cur: _customer_items(cur))

        def timed(body: Callable[[Any], object]) -> Timed:
            return _median(lambda: _read(store, body), repeats)

        month = AS_OF.replace(day=1)
        invoiced, allocations, reversed_, credits = counts
        return AgeingTimes(
            invoices=invoiced,
            allocations=allocations,
            reversed=reversed_,
            credits=credits,
            open_items=sum(row["items"] for row in report["totals"].values()),
            customer_items=len(mine),
            ageing_all=timed(lambda cur: ar.ageing(cur, as_of=AS_OF)),
            open_items_all=timed(lambda cur: queries.open_items(cur, customer=None, as_of=AS_OF)),
            ageing_customer=timed(lambda cur: ar.ageing(cur, as_of=AS_OF, customer=ONE_CUSTOMER)),
            open_items_customer=timed(_customer_items),
            metrics_month=timed(lambda cur: ar.metrics(cur, start=month, end=AS_OF)),
            load=loaded,
            customer_plan=_plan(store, _customer_items),
        )
    finally:
        store.close()


Counts = tuple[int, int, int, int]  # invoices, allocations, reversed, credit notes


def _fill(store: ViewStore, invoices: int) -> tuple[float, Counts, dict[str, Decimal]]:
    """Load the history; keep only its counts and expected totals, so the hundreds of
    thousands of generated rows do not stay on the heap (and in every garbage collection)
    while the queries are timed."""
    made = history(invoices)
    started = time.perf_counter()
    load(store, made)
    loaded = time.perf_counter() - started
    reversed_ = sum(1 for row in made.allocations if row[6] is not None)
    counts = (len(made.invoices), len(made.allocations), reversed_, len(made.credits))
    expected = dict(made.expected)
    del made
    gc.collect()
    return loaded, counts, expected


def _customer_items(cur: Any) -> list[dict[str, Any]]:
    return queries.open_items(cur, customer=ONE_CUSTOMER, as_of=AS_OF)


def _read(store: ViewStore, body: Callable[[Any], Any]) -> Any:
    with store.read() as cur:
        return body(cur)


def _median(body: Callable[[], object], repeats: int) -> Timed:
    body()  # warm-up: pages cached, statement prepared
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        body()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timed(statistics.median(walls), statistics.median(cpus))


def ageing_table(results: dict[str, AgeingTimes]) -> str:
    """One column per store, milliseconds."""
    first = next(iter(results.values()), None)
    if first is None:
        return "(no store measured)"
    rows: list[tuple[str, Callable[[AgeingTimes], str]]] = [
        ("invoices / allocations (reversed) / credit notes, bulk-loaded",
         lambda t: f"{t.invoices:,} / {t.allocations:,} ({t.reversed:,}) / {t.credits:,}"),
        (f"ageing as of {AS_OF}, every customer (`ar.ageing`), ms",
         lambda t: f"{t.ageing_all}; {t.open_items:,} open items"),
        ("open items, every customer (`queries.open_items`), ms",
         lambda t: str(t.open_items_all)),
        (f"open items of one customer ({ONE_CUSTOMER}), ms",
         lambda t: f"{t.open_items_customer}; {t.customer_items} items"),
        ("ageing of one customer, ms", lambda t: str(t.ageing_customer)),
        (f"metrics for {AS_OF:%B %Y}, every customer (`ar.metrics`), ms",
         lambda t: str(t.metrics_month)),
    ]  # fmt: skip
    stores = list(results)
    lines = [
        f"| AR as of a past date | {' | '.join(stores)} |",
        "|---" + "|--:" * len(stores) + "|",
    ]
    for name, cell in rows:
        lines.append(f"| {name} | {' | '.join(cell(results[s]) for s in stores)} |")
    return "\n".join(lines)


def ageing_plans(results: dict[str, AgeingTimes]) -> list[str]:
    return [f"{store} plan of one customer's open items: `{t.customer_plan}`"
            for store, t in results.items()]  # fmt: skip


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def main(argv: list[str] | None = None) -> int:
    from bench.run import DEFAULT_POSTGRES_URL

    parser = argparse.ArgumentParser(prog="python -m bench.ageing", description=__doc__)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    results: dict[str, AgeingTimes] = {}
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            print(f"[{factory.label}] ageing over {args.invoices:,} invoices", file=sys.stderr)
            results[factory.label] = measure_ageing(
                factory, invoices=args.invoices, repeats=args.repeats
            )
    print(ageing_table(results))
    print("\n".join(ageing_plans(results)))
    print("Rows bulk-loaded into the read model (the queries are measured, not the commands);"
          " medians of repeated runs after a warm-up.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

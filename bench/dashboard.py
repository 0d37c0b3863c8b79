"""The console's dashboard and the KPI API over 100,000 orders, on SQLite and PostgreSQL.

    python -m bench.dashboard                               # 100,000 orders, both stores
    python -m bench.dashboard --orders 10000 --stores sqlite --requests 10

The read models are filled with a two-year history in bulk (`bench/dashboard_history.py`:
the rows the projections would have written), then the app is served in process and asked
for the dashboard page (`/console/dashboard`, twelve months by month, then by salesperson)
and the KPI API (`/kpis` for every KPI over the same twelve months, by all and by
salesperson; `/kpis/{kpi}/orders` for one month). Before anything is timed, the API's
figures are checked against totals computed from the generated rows, and last month's
period totals against the same figures folded from the facts.

Printed: p50 and p95 of the page's server time (its `Server-Timing`, from the signed-in
caller to the rendered page) and of each request's wall time in process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from api.app import create_app
from api.runtime import Runtime, open_runtime
from bench.dashboard_history import COLUMNS_OF, History, history
from bench.results import PAGE_TARGET_MS, record
from bench.stores import StoreFactory, postgres_problem
from domain.values import Meta
from projections.kpi_queries import KPIS, fold, kpi_figures
from projections.kpi_totals import TOTALLED
from projections.receivables import ReceivablesProjection

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette prefers the httpx2 fork; plain httpx works
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Quantiles:
    p50: float  # milliseconds
    p95: float
    samples: int

    def __str__(self) -> str:
        return f"{self.p50:,.0f} / {self.p95:,.0f}"


@dataclass(frozen=True)
class DashboardTimes:
    orders: int
    rows: int  # rows bulk-loaded into the read models
    load: float  # seconds
    page_server: Quantiles  # Server-Timing of /console/dashboard
    page_wall: Quantiles
    kpi_api: Quantiles  # /kpis, every KPI, twelve months, by all and by salesperson
    drill_api: Quantiles  # /kpis/{kpi}/orders for one month


def quantiles(samples: list[float]) -> Quantiles:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return Quantiles(statistics.median(ordered), p95, len(ordered))


def window(today: date) -> tuple[date, date]:
    """Twelve months to the end of this one: what the dashboard shows by default."""
    first = (today.replace(day=1) - timedelta(days=320)).replace(day=1)
    following = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def load(runtime: Runtime, made: History) -> tuple[int, float]:
    started = time.perf_counter()
    with runtime.store.transaction() as cur:
        for table, rows in made.rows.items():
            cur.insert_rows(table, COLUMNS_OF[table], rows)
        ReceivablesProjection().respan(cur)  # derived from the invoices and allocations
    if runtime.store.dialect == "postgres":
        # Autovacuum vacuums and analyzes tables this size soon after a bulk load (which sets
        # the visibility map index-only scans need); do it now.
        vacuum(runtime.settings.postgres_conninfo(), runtime.settings.views_schema, made.rows)
    return sum(len(rows) for rows in made.rows.values()), time.perf_counter() - started


def vacuum(conninfo: str, schema: str, tables: Iterable[str]) -> None:
    with psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={schema}") as db:
        for table in tables:
            db.execute(f"VACUUM ANALYZE {table}")


def manager_key(runtime: Runtime) -> dict[str, str]:
    meta = Meta(actor="bench", correlation_id="bench-setup", command="setup", at=datetime.now(UTC))
    runtime.access.create_user(meta, name="bench.manager", role="manager")
    _, key = runtime.access.issue_key(meta, name="bench.manager")
    return {"Authorization": f"Bearer {key}"}


def check_figures(client: TestClient, headers: dict[str, str], made: History) -> None:
    """The API's figures over the whole history equal totals made from the generated rows."""
    value = client.get("/kpis", params={"kpi": "order_value", "period": "month"}, headers=headers)
    value.raise_for_status()
    totals: dict[str, Decimal] = {}
    for row in value.json()["items"]:
        totals[row["key"]] = totals.get(row["key"], Decimal(0)) + Decimal(row["figure"])
    if totals != dict(made.value):
        raise RuntimeError(f"order value {totals} is not the generated {dict(made.value)}")
    cycle = client.get("/kpis", params={"kpi": "cycle_time", "period": "month"}, headers=headers)
    delivered = sum(int(Decimal(row["denominator"])) for row in cycle.json()["items"])
    if delivered != made.delivered:
        raise RuntimeError(f"{delivered} delivered orders, not the generated {made.delivered}")


def check_totals(runtime: Runtime, today: date) -> None:
    """The loaded totals of last month equal the figures folded from the loaded facts."""
    last = today.replace(day=1) - timedelta(days=1)
    with runtime.store.read() as cur:
        for kpi in TOTALLED:
            for by in ("all", "salesperson", "product_line"):
                asked: dict[str, Any] = {"period": "month", "by": by, "start": last.replace(day=1),
                                         "end": last, "as_of": today}  # fmt: skip
                if kpi_figures(cur, kpi, **asked) != fold(cur, kpi, **asked):
                    raise RuntimeError(f"the {kpi} totals by {by} are not the folded facts")


def timed(samples: int, call: Callable[[int], float | None]) -> tuple[list[float], list[float]]:
    """`call(i)` `samples` times after one warm-up; its own figure (if any) and wall ms."""
    call(-1)
    own, wall = [], []
    for i in range(samples):
        started = time.perf_counter()
        figure = call(i)
        wall.append((time.perf_counter() - started) * 1000)
        if figure is not None:
            own.append(figure)
    return own, wall


def measure(factory: StoreFactory, orders: int, requests: int) -> DashboardTimes:
    settings = factory.settings("dashboard")
    runtime = open_runtime(settings, start_projections=False)
    try:
        now = datetime.now(UTC)
        made = history(orders, now=now)
        rows, seconds = load(runtime, made)
        print(f"  {rows:,} rows loaded in {seconds:.1f} s", file=sys.stderr, flush=True)
        check_totals(runtime, now.date())
        headers = manager_key(runtime)
        with TestClient(create_app(settings, runtime=runtime)) as client:
            return _timings(client, headers, made, now, requests, rows, seconds)
    finally:
        runtime.close()


def _timings(client: TestClient, headers: dict[str, str], made: History, now: datetime,
             requests: int, rows: int, seconds: float) -> DashboardTimes:  # fmt: skip
    check_figures(client, headers, made)
    first, last = window(now.date())
    months = {"period": "month", "from": first.isoformat(), "to": last.isoformat()}
    pages = [dict(months), {**months, "by": "salesperson"}]

    def page(i: int) -> float:
        answer = client.get("/console/dashboard", params=pages[i % 2], headers=headers)
        answer.raise_for_status()
        return float(answer.headers["Server-Timing"].split("dur=")[1])

    server, page_wall = timed(requests, page)
    asks = [(kpi, by) for kpi in KPIS for by in ("all", "salesperson")]

    def kpi_api(i: int) -> None:
        kpi, by = asks[i % len(asks)]
        client.get("/kpis", params={"kpi": kpi, "by": by, **months},
                   headers=headers).raise_for_status()  # fmt: skip

    _, api_wall = timed(max(requests, len(asks)), kpi_api)
    month = last.replace(day=1).isoformat()

    def drill(i: int) -> None:
        kpi = list(KPIS)[i % len(KPIS)]
        client.get(f"/kpis/{kpi}/orders", params={"period": "month", "period_start": month},
                   headers=headers).raise_for_status()  # fmt: skip

    _, drill_wall = timed(max(requests, len(KPIS)), drill)
    return DashboardTimes(
        len(made.rows["kpi_orders"]), rows, seconds, quantiles(server), quantiles(page_wall),
        quantiles(api_wall), quantiles(drill_wall),
    )  # fmt: skip


def table(results: dict[str, DashboardTimes]) -> str:
    stores = list(results)
    rows: list[tuple[str, Callable[[DashboardTimes], str]]] = [
        ("orders (rows bulk-loaded)", lambda t: f"{t.orders:,} ({t.rows:,})"),
        ("dashboard page, server time (Server-Timing), p50 / p95 ms",
         lambda t: str(t.page_server)),
        ("dashboard page, request in process, p50 / p95 ms", lambda t: str(t.page_wall)),
        ("GET /kpis, every KPI by all and by salesperson, 12 months, p50 / p95 ms",
         lambda t: str(t.kpi_api)),
        ("GET /kpis/{kpi}/orders, one month, p50 / p95 ms", lambda t: str(t.drill_api)),
    ]  # fmt: skip
    lines = [f"| dashboard | {' | '.join(stores)} |", "|---" + "|--:" * len(stores) + "|"]
    lines += [f"| {name} | {' | '.join(cell(results[s]) for s in stores)} |" for name, cell in rows]
    return "\n".join(lines)


BENCH = "python -m bench.dashboard"


def main(argv: list[str] | None = None) -> int:
    from bench.run import DEFAULT_POSTGRES_URL

    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per figure")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    results: dict[str, DashboardTimes] = {}
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            print(f"[{factory.label}] dashboard over {args.orders:,} orders", file=sys.stderr)
            results[factory.label] = measure(factory, args.orders, args.requests)
    print(table(results))
    for store, times in results.items():
        record("pages", f"dashboard page, {args.orders:,} orders, server time p95", store,
               times.page_server.p95, "ms", target=PAGE_TARGET_MS,
               target_text=f"< {PAGE_TARGET_MS} ms p95", lower_is_better=True,
               bench=BENCH)  # fmt: skip
        # The API behind the drill-downs: figures without a target of their own.
        for name, found in (
            ("GET /kpis, every KPI, 12 months", times.kpi_api),
            ("GET /kpis/{kpi}/orders, one month", times.drill_api),
        ):
            record("pages", f"{name}, {args.orders:,} orders, server time p95", store, found.p95,
                   "ms", lower_is_better=True, bench=BENCH)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Spreadsheet import: a products XLSX of 50,000 rows read, validated and applied.

    python -m bench.imports                     # SQLite, 50,000 rows (the plan's import_rows)
    python -m bench.imports --quick             # 2,000 rows: a smoke run
    python -m bench.imports --stores sqlite postgres --rows 20000

For each store: write the workbook (openpyxl), import it (every row a new product), then the
same file again (every row unchanged, nothing stored). Rows per second, and the process's
peak resident size after each run (getrusage; tracemalloc would slow the import threefold).
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
import uuid
from datetime import UTC, datetime

from openpyxl import Workbook

from api.imports import ImportRequest, run_import
from api.runtime import open_runtime
from bench.plan import FULL, QUICK
from bench.results import record
from bench.stores import StoreFactory, postgres_problem
from domain.values import Meta

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
HEADER = ["sku", "name", "unit", "make_or_buy", "list_price", "standard_cost", "currency"]


def products_xlsx(rows: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append([f"SKU-{n:06d}", f"Product {n}", "pcs", "buy" if n % 3 else "make",
                      n % 500 + 1.25, n % 300 + 0.5, "EUR"])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _meta() -> Meta:
    return Meta(actor="bench", correlation_id=uuid.uuid4().hex, command="import_products",
                at=datetime.now(UTC))  # fmt: skip


def measure(factory: StoreFactory, data: bytes, rows: int) -> list[str]:
    runtime = open_runtime(factory.settings("imports"), start_projections=False)
    lines = []
    try:
        for label in ("first import", "same file again"):
            started = time.perf_counter()
            report = run_import(runtime.ledger, _meta(), ImportRequest("products", data))
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            assert report["created"] + report["unchanged"] == rows, report
            record(
                "imports",
                f"XLSX import of {rows:,} products, {label}",
                factory.label,
                rows / seconds,
                "rows/s",
                bench="python -m bench.imports",
            )
            record("imports", f"peak memory after the XLSX import of {rows:,} products, {label}",
                   factory.label, peak, "MB", lower_is_better=True,
                   bench="python -m bench.imports")  # fmt: skip
            lines.append(
                f"| {factory.label} | {label} | {rows:,} | {report['created']:,} |"
                f" {seconds:.1f} | {rows / seconds:,.0f} | {peak:.0f} |"
            )
    finally:
        runtime.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows: a smoke run")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--stores", nargs="+", default=["sqlite"])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    rows = args.rows or (QUICK if args.quick else FULL).import_rows
    started = time.perf_counter()
    data = products_xlsx(rows)
    print(f"workbook: {rows:,} rows, {len(data) / 2**20:.1f} MiB, written in"
          f" {time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    out = ["| store | run | rows | created | seconds | rows/s | peak RSS MiB |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            out += measure(factory, data, rows)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

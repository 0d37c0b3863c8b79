"""List exports: the products list of 10,000 rows as CSV and as XLSX over HTTP, in process.

    python -m bench.exports                     # SQLite, 10,000 rows
    python -m bench.exports --stores sqlite postgres --rows 20000

Products are imported (bench.imports' workbook), the projections catch up, then
`GET /products?format=csv` and `?format=xlsx` are timed end to end (query pages, cells,
file) by an in-process client. Rows per second and bytes sent.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from fastapi import Request

from api.access import Principal
from api.app import create_app
from api.imports import ImportRequest, run_import
from api.runtime import open_runtime
from bench.imports import DEFAULT_POSTGRES_URL, _meta, products_xlsx
from bench.results import record
from bench.stores import StoreFactory, postgres_problem

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _admin(_request: Request, *_credentials: object) -> Principal:
    return Principal("bench", "admin", None, "key", "bench")


def measure(factory: StoreFactory, rows: int) -> list[str]:
    settings = factory.settings("exports")
    runtime = open_runtime(settings, start_projections=False)
    try:
        run_import(runtime.ledger, _meta(), ImportRequest("products", products_xlsx(rows)))
        head = runtime.ledger.head()
    finally:
        runtime.close()
    app = create_app(settings)
    app.state.authenticator = _admin
    lines = []
    with TestClient(app) as client:
        deadline = time.monotonic() + 300
        while client.get("/products", params={"min_position": head}).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the catalog projection did not catch up")
        for fmt in ("csv", "xlsx"):
            started = time.perf_counter()
            answer = client.get("/products", params={"format": fmt})
            seconds = time.perf_counter() - started
            assert answer.status_code == 200, answer.text[:200]
            size = len(answer.content) / 2**20
            rate = rows / seconds
            record(
                "exports",
                f"{fmt.upper()} export of {rows:,} products",
                factory.label,
                rate,
                "rows/s",
                bench="python -m bench.exports",
            )
            lines.append(
                f"| {factory.label} | {fmt} | {rows:,} | {seconds:.2f} | {rate:,.0f} | {size:.1f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--stores", nargs="+", default=["sqlite"])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    out = ["| store | format | rows | seconds | rows/s | MiB |", "|---|---|---|---|---|---|"]
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            out += measure(factory, args.rows)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

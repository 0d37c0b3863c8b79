"""Bank statement import: a 10,000-line statement, parsed and recorded in one save.

    python -m bench.statements                          # SQLite and PostgreSQL, 10,000 lines
    python -m bench.statements --stores sqlite --lines 50000

For each store and format (CSV, camt.053): parse, import (every line a new payment), the
same file again (nothing stored), an overlapping file (one new line), and the read models
catching up. Every store is fresh and removed afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from api.runtime import open_runtime
from api.settings import Settings
from bench.stores import StoreFactory, postgres_problem
from domain.statements import ParsedStatement, file_sha256, parse_statement
from domain.values import Meta

T = TypeVar("T")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def csv_statement(lines: int, first: int = 0) -> bytes:
    rows = ["bank_ref,payer,amount,currency,value_date,remittance"]
    rows += [
        f"BNK-{n:07d},Customer {n % 700},{n % 900 + 1}.25,EUR,2026-03-{n % 28 + 1:02d},"
        f"INV-2026-{n:06d}"
        for n in range(first, first + lines)
    ]
    return ("\n".join(rows) + "\n").encode()


def camt_statement(lines: int, first: int = 0) -> bytes:
    entry = (
        '<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\n'
        "<BookgDt><Dt>2026-03-18</Dt></BookgDt><ValDt><Dt>2026-03-18</Dt></ValDt>\n"
        "<AcctSvcrRef>CAMT-{n:07d}</AcctSvcrRef><NtryDtls><TxDtls>\n"
        "<RltdPties><Dbtr><Nm>Customer {payer}</Nm></Dbtr></RltdPties>\n"
        "<RmtInf><Ustrd>INV-2026-{n:06d}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
    )
    entries = "".join(
        entry.format(n=n, amount=f"{n % 900 + 1}.25", payer=n % 700)
        for n in range(first, first + lines)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>\n'
        "<Stmt><Id>BENCH</Id><Acct><Id><IBAN>DE44500105175407324931</IBAN></Id></Acct>\n"
        f"{entries}</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def measure(settings: Settings, build: Callable[..., bytes], lines: int) -> dict[str, Any]:
    runtime = open_runtime(settings, start_projections=False)
    meta = Meta(actor="bench", correlation_id=uuid.uuid4().hex, command="import_statement",
                at=datetime.now(UTC))  # fmt: skip

    def record(data: bytes, parsed: ParsedStatement) -> dict[str, Any]:
        outcome = runtime.ledger.import_statement(
            meta, lines=parsed.lines, file_name="bench", file_sha256=file_sha256(data),
            format=parsed.format,
        )  # fmt: skip
        return outcome.result

    try:
        data = build(lines)
        parsed, parse_s = timed(lambda: parse_statement(data))
        first, import_s = timed(lambda: record(data, parsed))
        again, reimport_s = timed(lambda: record(data, parsed))
        overlap = build(lines, 1)  # all but one line already stored
        overlapped, overlap_s = timed(lambda: record(overlap, parse_statement(overlap)))
        names = list(runtime.runner.projections)
        _, project_s = timed(lambda: [runtime.runner.catch_up(name) for name in names])
    finally:
        runtime.close()
    assert (first["imported"], again["imported"], overlapped["imported"]) == (lines, 0, 1)
    return {"bytes": len(data), "parse": parse_s, "import": import_s, "reimport": reimport_s,
            "overlap": overlap_s, "project": project_s}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    print(f"{'store':<11}{'format':<9}{'lines':>7}{'MB':>6}{'parse s':>9}{'import s':>10}"
          f"{'same again s':>14}{'overlap s':>11}{'project s':>11}")  # fmt: skip
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            for label, build in (("csv", csv_statement), ("camt053", camt_statement)):
                got = measure(factory.settings(f"statements_{label}"), build, args.lines)
                print(f"{factory.label:<11}{label:<9}{args.lines:>7}{got['bytes'] / 1e6:>6.1f}"
                      f"{got['parse']:>9.2f}{got['import']:>10.2f}{got['reimport']:>14.3f}"
                      f"{got['overlap']:>11.2f}{got['project']:>11.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Running an import against the ledger: read the file, validate every row, then (only if
the whole file is valid, or bad rows are to be skipped) create what is new through the
ledger's own commands. Shared by `orderledger import` and `POST /imports/{kind}`.

Re-importing changes nothing: customers, products and orders are keyed by their natural
keys (a stored one is *unchanged*; a create that races another is refused `AlreadyExists`,
counted the same), and an opening balance is a stock count whose idempotency key is the
import reference × SKU × warehouse — a second import of it replays the first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from domain.application import IdempotencyClaim, Outcome
from domain.customers import customer_id
from domain.exceptions import AlreadyExists, DomainError
from domain.idempotency import idempotency_id
from domain.import_files import open_sheet
from domain.imports import Plan, Record, validate
from domain.ledger import Ledger
from domain.sales_orders import sales_order_id
from domain.stock_items import StockItem
from domain.values import Meta, stable_id

Progress = Callable[[str, int, int | None], None]  # stage, done, total


class ImportRefused(DomainError):
    """The file has bad rows and they were not to be skipped: nothing was applied."""

    def __init__(self, report: dict[str, Any]) -> None:
        rows = report["bad_rows"]
        super().__init__(
            f"{rows} bad row{'s' if rows != 1 else ''} in the {report['kind']} file; nothing"
            " imported (--skip-bad-rows imports the good rows)",
            rule="import-has-bad-rows",
        )
        self.report = report


class LedgerLookup:
    """Answers the validation's questions from the ledger, remembering each answer."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, aggregate_id: Any) -> Any:
        key = (kind, str(aggregate_id))
        if key not in self._seen:
            try:
                self._seen[key] = self.ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self._seen[key] = None
        return self._seen[key]

    def customer_status(self, code: str) -> str | None:
        found = self._get("customer", customer_id(code))
        return None if found is None else str(found.status)

    def has_product(self, sku: str) -> bool:
        return self._get("product", stable_id("product", sku)) is not None

    def has_warehouse(self, code: str) -> bool:
        return self._get("warehouse", stable_id("warehouse", code)) is not None

    def has_order(self, number: str) -> bool:
        return self._get("order", sales_order_id(number)) is not None

    def opening_hash(self, key: str) -> str | None:
        found = self._get("idempotency", idempotency_id(key))
        return None if found is None else str(found.request_hash)

    def locked(self, sku: str, warehouse: str) -> Decimal:
        found = self._get("stock", StockItem.create_id(sku, warehouse))
        return Decimal(0) if found is None else Decimal(found.locked)


@dataclass(frozen=True)
class ImportRequest:
    kind: str
    data: bytes
    file_name: str = ""
    format: str = "auto"
    skip_bad_rows: bool = False
    dry_run: bool = False


def run_import(
    ledger: Ledger, meta: Meta, request: ImportRequest, progress: Progress | None = None
) -> dict[str, Any]:
    """The report of an import; `ImportRefused` (nothing applied) for bad rows not skipped,
    `UnreadableFile` for a file that cannot be read as the kind's layout at all."""
    sheet = open_sheet(request.data, request.format)
    step = (lambda done: progress("validating", done, None)) if progress else None
    plan = validate(request.kind, sheet, LedgerLookup(ledger), step)
    report = _report(request, plan)
    if plan.bad and not request.skip_bad_rows and not request.dry_run:
        raise ImportRefused(report)
    if request.dry_run:
        return report
    meta = dataclasses.replace(meta, command=f"import_{request.kind}")
    created, position = 0, ledger.head()
    new = plan.new()
    for done, record in enumerate(new, start=1):
        try:
            outcome = _APPLY[request.kind](ledger, meta, record)
        except AlreadyExists:
            continue  # created since it was validated: the same record, unchanged
        except DomainError as error:  # a rule the validation could not foresee (a race)
            report["bad"].append({"row": record.rows[0], "errors": [error.message]})
            continue
        created += not outcome.replayed
        position = max(position, outcome.position)
        if progress is not None:
            progress("importing", done, len(new))
    failed = len(report["bad"]) - report["bad_rows"]
    report.update(created=created, unchanged=len(plan.records) - created - failed)
    report.update(bad_rows=len(report["bad"]), applied=True, position=position)
    return report


def _report(request: ImportRequest, plan: Plan) -> dict[str, Any]:
    return {
        "kind": request.kind,
        "file_name": request.file_name,
        "format": plan.format,
        "rows": plan.rows,
        "records": len(plan.records),
        "created": len(plan.new()),  # what would be created, until it is
        "unchanged": plan.unchanged(),
        "bad_rows": len(plan.bad),
        "bad": [bad.as_dict() for bad in plan.bad],
        "applied": False,
        "dry_run": request.dry_run,
    }


def _customer(ledger: Ledger, meta: Meta, record: Record) -> Outcome:
    return ledger.register_customer(meta, **record.args)


def _product(ledger: Ledger, meta: Meta, record: Record) -> Outcome:
    return ledger.register_product(meta, **record.args)


def _opening(ledger: Ledger, meta: Meta, record: Record) -> Outcome:
    args = record.args
    effective = args["effective_date"]
    return ledger.count_stock(
        meta, sku=args["sku"], warehouse=args["warehouse"], counted=args["counted"],
        reason=f"opening balance (import {args['count_ref']})", count_ref=args["count_ref"],
        effective_at=datetime.combine(effective, time(0), UTC) if effective else None,
        idempotency=IdempotencyClaim(record.key, args["request_hash"]),
    )  # fmt: skip


def _order(ledger: Ledger, meta: Meta, record: Record) -> Outcome:
    return ledger.create_sales_order(meta, number=record.key, channel="import", **record.args)


_APPLY: dict[str, Callable[[Ledger, Meta, Record], Outcome]] = {
    "customers": _customer,
    "products": _product,
    "stock": _opening,
    "orders": _order,
}

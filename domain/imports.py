"""Validating an import: every row of a file read into the records it would create, and
every bad row named with its number and why — before anything is applied.

Pure: what is already stored is asked through a `Lookup` (the API layer answers it from the
ledger). A record whose natural key is stored already (customer code, SKU, order number, or
an opening balance's reference × SKU × warehouse imported with the same quantity) is
*unchanged*: importing the same file again creates nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from domain.import_files import Sheet, SheetRow, UnreadableFile
from domain.import_layouts import KINDS, LAYOUTS, ORDER_HEADER, READERS, RowReader

NEW, UNCHANGED = "new", "unchanged"
MAX_ORDER_LINES = 500


class Lookup(Protocol):
    """What the validation needs to know about records already stored."""

    def customer_status(self, code: str) -> str | None: ...  # None: no such customer
    def has_product(self, sku: str) -> bool: ...
    def has_warehouse(self, code: str) -> bool: ...
    def has_order(self, number: str) -> bool: ...
    def opening_hash(self, key: str) -> str | None: ...  # an earlier import's request hash
    def locked(self, sku: str, warehouse: str) -> Decimal: ...


@dataclass
class BadRow:
    row: int
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "errors": list(self.errors)}


@dataclass
class Record:
    """One thing to create (a customer, a product, an opening balance, an order)."""

    key: str
    rows: list[int]
    args: dict[str, Any]
    state: str = NEW


@dataclass
class Plan:
    kind: str
    format: str
    rows: int = 0
    records: list[Record] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)

    def new(self) -> list[Record]:
        return [r for r in self.records if r.state == NEW]

    def unchanged(self) -> int:
        return sum(1 for r in self.records if r.state == UNCHANGED)


def opening_key(reference: str, sku: str, warehouse: str) -> str:
    return f"import:stock:{reference}:{sku}@{warehouse}"


def opening_hash(key: str, counted: Decimal, effective: Any) -> str:
    """The request an opening balance stands for: the same quantity (however written) and
    date give the same hash; a different one is a different request under the same key."""
    text = f"{key}\x00{format(counted.normalize(), 'f')}\x00{effective}"
    return hashlib.sha256(text.encode()).hexdigest()


def check_columns(kind: str, columns: Iterable[str]) -> None:
    """A file for `kind` names every required column and no unknown one."""
    if kind not in KINDS:
        raise UnreadableFile(f"unknown import kind {kind!r}; kinds: {', '.join(KINDS)}")
    known = {c.name for c in LAYOUTS[kind]}
    given = {c for c in columns if c}
    missing = [c.name for c in LAYOUTS[kind] if c.required and c.name not in given]
    if missing:
        raise UnreadableFile(f"a {kind} file needs the column(s) {', '.join(missing)}")
    unknown = sorted(given - known)
    if unknown:
        raise UnreadableFile(
            f"unknown column {unknown[0]!r} in a {kind} file; columns: {', '.join(sorted(known))}"
        )


def validate(
    kind: str, sheet: Sheet, lookup: Lookup, progress: Callable[[int], None] | None = None
) -> Plan:
    """Every row read and checked; the plan lists what to create and every bad row."""
    check_columns(kind, sheet.columns)
    plan = Plan(kind, sheet.format)
    judge = _JUDGES[kind]
    seen: dict[str, Record] = {}
    for row in sheet.rows:
        plan.rows += 1
        reader = RowReader(row.cells)
        args = READERS[kind](reader)
        if not reader.errors or kind == "orders":
            judge(plan, row, args, reader.errors, seen, lookup)
        if reader.errors:
            plan.bad.append(BadRow(row.number, reader.errors))
        if progress is not None and plan.rows % 500 == 0:
            progress(plan.rows)
    if kind == "orders":
        _drop_orders_with_bad_rows(plan)
    else:
        plan.records = list(seen.values())
    return plan


Judge = Callable[[Plan, SheetRow, dict[str, Any], list[str], dict[str, Record], Lookup], None]


def _once(key: str, what: str, row: SheetRow, errors: list[str], seen: dict[str, Record]) -> bool:
    if key in seen:
        errors.append(f"{what} is already on row {seen[key].rows[0]}")
        return False
    return True


def _customer(plan: Plan, row: SheetRow, args: dict[str, Any], errors: list[str],
              seen: dict[str, Record], lookup: Lookup) -> None:  # fmt: skip
    key = args["code_"]
    if _once(key, f"customer {key}", row, errors, seen):
        stored = lookup.customer_status(key) is not None
        seen[key] = Record(key, [row.number], args, UNCHANGED if stored else NEW)


def _product(plan: Plan, row: SheetRow, args: dict[str, Any], errors: list[str],
             seen: dict[str, Record], lookup: Lookup) -> None:  # fmt: skip
    key = args["sku"]
    if _once(key, f"product {key}", row, errors, seen):
        seen[key] = Record(key, [row.number], args, UNCHANGED if lookup.has_product(key) else NEW)


def _stock(plan: Plan, row: SheetRow, args: dict[str, Any], errors: list[str],
           seen: dict[str, Record], lookup: Lookup) -> None:  # fmt: skip
    sku, warehouse, counted = args["sku"], args["warehouse"], args["counted"]
    if not lookup.has_product(sku):
        errors.append(f"unknown sku {sku!r}")
    if not lookup.has_warehouse(warehouse):
        errors.append(f"unknown warehouse {warehouse!r}")
    key = opening_key(args["count_ref"], sku, warehouse)
    what = f"opening stock of {sku} in {warehouse} under {args['count_ref']}"
    if errors or not _once(key, what, row, errors, seen):
        return
    request = opening_hash(key, counted, args["effective_date"])
    earlier = lookup.opening_hash(key)
    if earlier is not None and earlier != request:
        errors.append(f"{what} was imported before with a different quantity or date")
        return
    reserved = lookup.locked(sku, warehouse)
    if earlier is None and counted < reserved:
        errors.append(f"quantity {counted} is below the {reserved} reserved for orders")
        return
    state = UNCHANGED if earlier == request else NEW
    seen[key] = Record(key, [row.number], {**args, "request_hash": request}, state)


def _order(plan: Plan, row: SheetRow, args: dict[str, Any], errors: list[str],
           seen: dict[str, Record], lookup: Lookup) -> None:  # fmt: skip
    """Rows with one order number are one order's lines, in file order. Called for rows
    with unreadable cells too, so the order they belong to is refused as a whole."""
    number, line, readable = args.pop("number"), args.pop("line"), not errors
    if number is None:
        return
    record = seen.get(number)
    if record is None:
        state = UNCHANGED if lookup.has_order(number) else NEW
        record = seen[number] = Record(number, [], {**args, "lines": [], "ok": readable}, state)
        plan.records.append(record)
        if readable:
            _order_header(args, errors, lookup)
    elif readable and record.args["ok"]:
        first = record.rows[0]
        for name in ORDER_HEADER:
            if _header_value(record.args, name) != _header_value(args, name):
                errors.append(f"{name} differs from row {first} of order {number}")
        if len(record.rows) >= MAX_ORDER_LINES:
            errors.append(f"order {number} has more than {MAX_ORDER_LINES} lines")
    if readable and not lookup.has_product(line["sku"]):
        errors.append(f"unknown sku {line['sku']!r}")
    record.rows.append(row.number)
    if errors:
        record.args["bad"] = True
    else:
        record.args["lines"].append(line)


def _order_header(args: dict[str, Any], errors: list[str], lookup: Lookup) -> None:
    status = lookup.customer_status(args["customer"])
    if status is None:
        errors.append(f"unknown customer {args['customer']!r}")
    elif status != "active":
        errors.append(f"customer {args['customer']!r} is {status}")
    if not lookup.has_warehouse(args["warehouse"]):
        errors.append(f"unknown warehouse {args['warehouse']!r}")


def _header_value(args: dict[str, Any], name: str) -> Any:
    if name in ("packaging", "carrier", "notes"):
        return args["requirements"].get(name)
    return args["currency_code" if name == "currency" else name]


def _drop_orders_with_bad_rows(plan: Plan) -> None:
    """An order is all its lines or nothing: a bad line makes its good lines bad too."""
    bad_rows = {bad.row for bad in plan.bad}
    keep = []
    for record in plan.records:
        record.args.pop("ok")
        if record.args.pop("bad", False):
            plan.bad.extend(
                BadRow(n, [f"order {record.key} has a bad row"])
                for n in record.rows
                if n not in bad_rows
            )
        else:
            keep.append(record)
    plan.records = keep
    plan.bad.sort(key=lambda bad: bad.row)


_JUDGES: dict[str, Judge] = {
    "customers": _customer,
    "products": _product,
    "stock": _stock,
    "orders": _order,
}

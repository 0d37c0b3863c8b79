"""Diff two moments: what changed between position A and position B, per SKU × warehouse,
per sales order and per invoice.

Each side is a replay of the read model to its moment by the live projection code, read by
the live queries (`list_inventory`, `list_sales_orders`, `list_invoices`, `open_rows`); the
two answers are compared here. Only what changed is listed: an item or order that did not
exist at A has no "before" (`None`); one that did not change is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput
from projections import queries
from projections.open_items import open_rows
from replay.answers import Progress
from replay.asof import replay_as_of
from replay.inventory import inventory_rows
from replay.moments import Moment
from replay.scratch import ScratchFactory

MODELS = ("inventory", "orders", "receivables")
DIMENSIONS = ("physical", "in_transit", "locked", "available", "projected")
PAGE = 500
ZERO = Decimal(0)
Snapshot = dict[Any, dict[str, Any]]


def diff(
    app: Any, scratch: ScratchFactory, a: Moment, b: Moment, *,
    models: tuple[str, ...] = MODELS, as_of: tuple[date, date] | None = None,
    on_page: Progress = None,
) -> dict[str, Any]:  # fmt: skip
    """The changes from moment `a` to moment `b` (a before b) in each of `models`.

    Receivables compare what each invoice owed on the day of each moment (its last recorded
    event's day), or on the business days `as_of` gives for A and B."""
    if a.position >= b.position:
        raise InvalidInput(
            f"the first moment (position {a.position}) must come before the second"
            f" (position {b.position})",
            rule="empty-range",
        )
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InvalidInput(
            f"unknown model {unknown[0]!r}; models are {', '.join(MODELS)}", rule="unknown-model"
        )
    days = as_of or (_day(a), _day(b))
    report: dict[str, Any] = {"from": a.as_dict(), "to": b.as_dict()}
    for model in models:
        before = _snapshot(app, scratch, model, a, days[0], on_page)
        after = _snapshot(app, scratch, model, b, days[1], on_page)
        report[model] = COMPARE[model](before, after)
    if "receivables" in models:
        report["receivables_as_of"] = {"from": days[0], "to": days[1]}
    return report


def _day(moment: Moment) -> date:
    return moment.recorded_at.date() if moment.recorded_at else date.today()


def _snapshot(
    app: Any, scratch: ScratchFactory, model: str, moment: Moment, day: date, on_page: Progress
) -> Snapshot:
    """The model's figures at `moment`, replayed and read by the live queries."""
    with (
        replay_as_of(app, scratch, model, moment, on_page=on_page) as replayed,
        replayed.read() as cur,
    ):
        return READERS[model](cur, day)


def _inventory(cur: Any, _: date) -> Snapshot:
    return {
        (row["sku"], row["warehouse"]): {d: Decimal(row[d]) for d in DIMENSIONS}
        for row in inventory_rows(cur)
    }


def _orders(cur: Any, _: date) -> Snapshot:
    found: Snapshot = {}
    after: str | None = None
    while True:
        page = queries.list_sales_orders(
            cur, status=None, customer=None, salesperson=None, after=after, limit=PAGE
        )
        found.update({row["number"]: {"status": row["status"], "stage": row["stage"]}
                      for row in page})  # fmt: skip
        if len(page) < PAGE:
            return found
        after = page[-1]["number"]


def _receivables(cur: Any, day: date) -> Snapshot:
    owing = {row.number: row.open for row in open_rows(cur, as_of=day)}
    found: Snapshot = {}
    after: int | None = None
    while True:
        page = queries.list_invoices(cur, customer=None, after=after, limit=PAGE)
        for row in page:
            found[row["number"]] = {
                "customer": row["customer"], "currency": row["currency"],
                "open": owing.get(row["number"], ZERO),
            }  # fmt: skip
        if len(page) < PAGE:
            return found
        after = page[-1]["position"]


def _compare_inventory(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    changes = []
    for key in sorted(after):
        old = before.get(key)
        new = after[key]
        if old == new:
            continue
        base = old or dict.fromkeys(DIMENSIONS, ZERO)
        changes.append({
            "sku": key[0], "warehouse": key[1], "before": old, "after": new,
            "delta": {d: new[d] - base[d] for d in DIMENSIONS},
        })  # fmt: skip
    return changes


def _compare_orders(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    return [
        {"number": number, "before": before.get(number), "after": after[number],
         "new": number not in before}
        for number in sorted(after)
        if before.get(number) != after[number]
    ]  # fmt: skip


def _compare_receivables(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    changes = []
    for number in sorted(after):
        old, new = before.get(number), after[number]
        if old is not None and old["open"] == new["open"]:
            continue
        was = ZERO if old is None else old["open"]
        changes.append({
            "number": number, "customer": new["customer"], "currency": new["currency"],
            "open_before": None if old is None else was, "open_after": new["open"],
            "delta": new["open"] - was, "new": old is None,
        })  # fmt: skip
    return changes


READERS: dict[str, Callable[[Any, date], Snapshot]] = {
    "inventory": _inventory, "orders": _orders, "receivables": _receivables,
}  # fmt: skip
COMPARE: dict[str, Callable[[Snapshot, Snapshot], list[dict[str, Any]]]] = {
    "inventory": _compare_inventory, "orders": _compare_orders,
    "receivables": _compare_receivables,
}  # fmt: skip

"""Explain a figure: the events that made a read-model value what it was at a moment.

The figure itself is never recomputed here: it is read from the read model replayed to the
moment by the live projection code (`replay_as_of`) and answered by the live query
(`list_inventory`, `invoice_as_of`, the `sales_orders` row). The explanation lists the
events behind it — each with its actor, role, command, correlation id, recorded and
effective times and its contribution — and its total is checked against the figure: a
difference is an error (`explanation-mismatch`), never shown as if it were an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.exceptions import Inconsistency, InvalidInput, NotFound
from domain.invoices import Invoice, invoice_id
from domain.sales_orders import SalesOrder, sales_order_id
from domain.stock_items import stock_item_id
from projections import queries
from projections.open_items import invoice_as_of
from replay.answers import Progress
from replay.asof import ReplayedModel, replay_as_of
from replay.history import aggregate_events, entry
from replay.inventory import inventory_effective, inventory_rows
from replay.moments import Moment
from replay.scratch import ScratchFactory

ZERO = Decimal(0)
# How each inventory figure moves with a movement's deltas (physical, in transit, locked).
FIGURES = {
    "available": lambda m: m["d_physical"] - m["d_locked"],
    "physical": lambda m: m["d_physical"],
    "locked": lambda m: m["d_locked"],
    "in_transit": lambda m: m["d_in_transit"],
}
PAGE = 500


class ExplanationMismatch(Inconsistency):
    """The events listed do not add up to the figure the read model gives."""


def _about(replayed: ReplayedModel) -> dict[str, Any]:
    return {
        "moment": replayed.moment.as_dict(),
        "replay": {"model": replayed.model, "events_read": replayed.events_read,
                   "seconds": round(replayed.seconds, 3)},
    }  # fmt: skip


def _check(total: Any, figure: Any, what: str) -> None:
    if total != figure:
        raise ExplanationMismatch(
            f"the events behind {what} give {_shown(total)}, the read model says {_shown(figure)}",
            rule="explanation-mismatch",
        )


def _shown(value: Any) -> Any:
    return value.normalize() + 0 if isinstance(value, Decimal) else value


# -- inventory ---------------------------------------------------------------------------


def explain_inventory(
    app: Any, scratch: ScratchFactory, moment: Moment, sku: str, warehouse: str, *,
    figure: str = "available", effective: datetime | None = None, on_page: Progress = None,
) -> dict[str, Any]:  # fmt: skip
    """One dimension of one SKU × warehouse as known at `moment` (and, with `effective`,
    only the movements effective by then): its movements with running totals."""
    if figure not in FIGURES:
        raise InvalidInput(
            f"unknown figure {figure!r}; figures are {', '.join(FIGURES)}", rule="unknown-figure"
        )
    item = stock_item_id(sku, warehouse)
    if not app.recorder.select_events(item, limit=1):
        raise NotFound(f"no stock of {sku} in warehouse {warehouse} is known")
    what = f"{figure} of {sku} in {warehouse}"
    with replay_as_of(app, scratch, "inventory", moment, on_page=on_page) as replayed:
        with replayed.read() as cur:
            value = _inventory_figure(cur, sku, warehouse, figure, effective, moment)
            moves = _movements(cur, sku, warehouse, effective)
        about = _about(replayed)
    meta = _events_by_version(app, item, max((m["version"] for m in moves), default=0))
    lines, running = [], ZERO
    for move in moves:
        change = FIGURES[figure](move)
        if change == 0:
            continue
        running += change
        line = entry(move["position"], meta[move["version"]], f"{sku}@{warehouse}").as_dict()
        lines.append({**line, "contribution": change, "running": running,
                      "detail": _movement_detail(move)})  # fmt: skip
    _check(running, value, what)
    return {**about, "subject": {"kind": "inventory", "sku": sku, "warehouse": warehouse},
            "figure": figure, "value": value, "effective": effective, "lines": lines,
            "unchanged": len(moves) - len(lines), "total": running}  # fmt: skip


def _inventory_figure(
    cur: Any, sku: str, warehouse: str, figure: str, effective: datetime | None, moment: Moment
) -> Decimal:
    rows = inventory_effective(cur, effective, sku) if effective else inventory_rows(cur, sku)
    found = [row for row in rows if row["warehouse"] == warehouse]
    if not found:
        raise NotFound(
            f"{sku} in {warehouse} did not exist as of {moment.asked} (position {moment.position})"
        )
    return Decimal(found[0][figure])


def _movements(
    cur: Any, sku: str, warehouse: str, effective: datetime | None
) -> list[dict[str, Any]]:
    """The item's rows of the replayed movement ledger, in log order (effective by
    `effective` when given, compared as instants like `inventory_effective`)."""
    found: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        page = queries.movements(cur, sku, warehouse, after=after, limit=PAGE)
        found += page
        if len(page) < PAGE:
            break
        after = page[-1]["position"]
    if effective is None:
        return found
    return [m for m in found if _instant(m["effective_at"]) <= effective]


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _movement_detail(move: dict[str, Any]) -> str:
    note = f" ({move['note']})" if move.get("note") else ""
    return f"{move['kind']} {move['quantity'].normalize():f} for {move['document_ref']}{note}"


def _events_by_version(app: Any, aggregate_id: Any, version: int) -> dict[int, Any]:
    """The aggregate's events up to `version`, decoded, by version (their metadata)."""
    if version == 0:
        return {}
    stored = app.recorder.select_events(aggregate_id, lte=version)
    return {s.originator_version: app.mapper.to_domain_event(s) for s in stored}


# -- invoices ----------------------------------------------------------------------------


@dataclass
class _Reductions:
    """Allocations and credits seen so far: a reversal counts only if what it reverses did."""

    day: date
    issued: bool = False
    counted: dict[str, bool] = field(default_factory=dict)  # reduction ref → it counted

    def contribution(self, kind: str, e: Any) -> tuple[Decimal, str]:
        counted = self.counted
        if kind == "Issued":
            self.issued = e.invoice_date <= self.day
            return (
                (Decimal(e.total), f"total, dated {e.invoice_date}")
                if self.issued
                else (ZERO, f"dated {e.invoice_date}, after {self.day}")
            )
        dated = getattr(e, "effective_date", None)
        ref = str(
            getattr(e, "allocation_id", None)
            or getattr(e, "credit_note_number", None)
            or getattr(e, "write_off_id", "")
        )
        in_time = self.issued and dated is not None and dated <= self.day
        if kind in ("PaymentApplied", "Credited", "WrittenOff"):
            counted[ref] = in_time
            sign, what = -1, {"PaymentApplied": "payment", "Credited": "credit note",
                              "WrittenOff": "write-off"}[kind]  # fmt: skip
        elif kind in ("PaymentReversed", "CreditReversed"):
            in_time = in_time and counted.get(ref, False)
            sign, what = 1, "reversal of"
        else:
            return ZERO, kind
        label = f"{what} {ref}, effective {dated}"
        if not in_time:
            return ZERO, label + f" (does not count on {self.day})"
        return sign * Decimal(e.amount), label


def explain_invoice(
    app: Any, scratch: ScratchFactory, moment: Moment, number: str, *,
    as_of: date | None = None, on_page: Progress = None,
) -> dict[str, Any]:  # fmt: skip
    """What one invoice still owed on business day `as_of` (default: the moment's day), as
    known at `moment`: its total less the payments, credit notes and write-offs that count."""
    events = aggregate_events(app, Invoice, invoice_id(number), moment.position)
    if not events:
        raise NotFound(
            f"invoice {number} did not exist as of {moment.asked} (position {moment.position})"
        )
    day = as_of or (moment.recorded_at.date() if moment.recorded_at else date.today())
    with replay_as_of(app, scratch, "receivables", moment, on_page=on_page) as replayed:
        with replayed.read() as cur:
            figure = invoice_as_of(cur, number, day)
        about = _about(replayed)
    if figure is None:
        raise ExplanationMismatch(
            f"invoice {number} is in the log but not in the replayed read model",
            rule="explanation-mismatch",
        )
    reductions, lines, running = _Reductions(day), [], ZERO
    for position, e in events:
        change, detail = reductions.contribution(type(e).__name__, e)
        running += change
        lines.append({**entry(position, e, number).as_dict(), "contribution": change,
                      "running": running, "detail": detail})  # fmt: skip
    _check(max(running, ZERO), figure["open"], f"the open amount of {number} on {day}")
    return {**about, "subject": {"kind": "invoice", "number": number}, "figure": "open",
            "value": figure["open"], "as_of": day, "status": figure["status"],
            "lines": lines, "total": running}  # fmt: skip


# -- sales orders ------------------------------------------------------------------------


def explain_order(
    app: Any, scratch: ScratchFactory, moment: Moment, number: str, *, on_page: Progress = None
) -> dict[str, Any]:
    """The status and stage of one sales order at `moment`: its events, each folded by the
    aggregate's own code, with the status and stage it left the order in."""
    events = aggregate_events(app, SalesOrder, sales_order_id(number), moment.position)
    if not events:
        raise NotFound(
            f"sales order {number} did not exist as of {moment.asked} (position {moment.position})"
        )
    lines, order = [], None
    for position, e in events:
        before = (getattr(order, "status", None), getattr(order, "stage", None))
        order = e.mutate(order)
        after = (order.status, order.stage)
        lines.append({**entry(position, e, number).as_dict(), "status": after[0],
                      "stage": after[1], "detail": _order_change(before, after)})  # fmt: skip
    with replay_as_of(app, scratch, "orders", moment, on_page=on_page) as replayed:
        with replayed.read() as cur:
            row = cur.execute(
                "SELECT status, stage FROM sales_orders WHERE number = ?", (number,)
            ).fetchone()
        about = _about(replayed)
    figure = None if row is None else (str(row[0]), str(row[1]))
    _check(after, figure, f"the status and stage of {number}")
    return {**about, "subject": {"kind": "sales_order", "number": number},
            "figure": "status, stage", "value": {"status": after[0], "stage": after[1]},
            "lines": lines, "total": {"status": after[0], "stage": after[1]}}  # fmt: skip


def _order_change(before: tuple[Any, Any], after: tuple[Any, Any]) -> str:
    changes = [
        f"{name} {old or '—'} → {new}"
        for name, old, new in zip(("status", "stage"), before, after, strict=True)
        if old != new
    ]
    return "; ".join(changes) or "no change of status or stage"

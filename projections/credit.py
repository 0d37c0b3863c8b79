"""Credit standing: a customer's exposure and credit score, from the read models.

Exposure, in the currency of the customer's credit limit:

    exposure = open AR + pending invoice + open orders (if counted) + extra

- open AR: what the customer's invoices still owe as of the date (`queries.open_items`);
- pending invoice: receivables of shipments not invoiced yet (or invoiced with a later date);
- open orders: net value not shipped yet of orders awaiting approval, approved or partly
  shipped (`ORDERLEDGER_CREDIT_INCLUDE_OPEN_ORDERS`, default true);
- extra: what the asking command adds (the order being judged, the shipment being released).

Amounts in other currencies are never converted (the ledger holds no exchange rates): they
are listed per currency in `other_currencies` and count against no limit.

The credit score (0–100) is `credit_score` below; docs/finance-credit.md has a worked example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from domain.credit import CreditStanding
from domain.exceptions import NotFound, Unavailable
from domain.values import MINOR_UNITS, ZERO
from projections import queries
from projections.runner import ProjectionRunner
from projections.store import Cursor, ViewStore

READ_MODELS = ("credit", "receivables")
WINDOW_DAYS = 365
UNKNOWN_SPEED_PENALTY = Decimal(30)  # no payment in the window: scored as 30 days late
CENT = Decimal("0.01")
PARTS = ("open_ar", "pending_invoice", "open_orders", "extra")


@dataclass(frozen=True)
class Paid:
    """One allocation in the score's window: amount, days after the due date, invoice."""

    amount: Decimal
    days_late: int
    invoice: str


def credit_score(
    paid: Iterable[Paid], overdue_items: int, overdue_amount: Decimal, open_ar: Decimal
) -> tuple[int, dict[str, Any]]:
    """100 less four penalties, rounded half-up and kept within 0–100:

    - payment speed: the amount-weighted average days late of the payments, capped at 40
      (30 when there was no payment in the window: neutral);
    - overdue items: 5 per invoice overdue now, capped at 20;
    - overdue share: 20 × overdue amount / open AR;
    - late invoices: 5 per invoice paid more than 30 days late in the window, capped at 20.
    """
    paid = list(paid)
    amount = sum((p.amount for p in paid), ZERO)
    average = (
        (sum((p.amount * p.days_late for p in paid), ZERO) / amount).quantize(CENT)
        if amount > 0
        else None
    )
    late_invoices = len({p.invoice for p in paid if p.days_late > 30})
    share = (20 * overdue_amount / open_ar).quantize(CENT) if open_ar > 0 else ZERO
    penalties = {
        "payment_speed": UNKNOWN_SPEED_PENALTY if average is None else min(Decimal(40), average),
        "overdue_items": Decimal(min(20, 5 * overdue_items)),
        "overdue_share": share,
        "late_invoices": Decimal(min(20, 5 * late_invoices)),
    }
    raw = Decimal(100) - sum(penalties.values(), ZERO)
    score = int(max(ZERO, min(Decimal(100), raw.quantize(Decimal(1), rounding=ROUND_HALF_UP))))
    inputs = {
        "payments": len(paid),
        "paid_amount": amount,
        "average_days_late": average,
        "invoices_paid_over_30_days_late": late_invoices,
        "overdue_items": overdue_items,
        "overdue_amount": overdue_amount,
        "open_ar": open_ar,
        "penalties": penalties,
        "neutral": average is None and overdue_items == 0,
    }
    return score, inputs


def credit_standing(
    cur: Cursor,
    customer: str,
    currency: str | None,
    extra: Decimal,
    *,
    as_of: date,
    include_open_orders: bool,
    exclude_order: str | None = None,
    order_open: Decimal = ZERO,
) -> CreditStanding:
    """The standing on the read models as they are in `cur` (catch them up first)."""
    position = _position(cur)
    found = cur.execute(
        "SELECT currency, credit_limit FROM credit_customers WHERE code = ?", (customer,)
    ).fetchone()
    if found is None:
        raise NotFound(f"customer {customer!r} not found")
    home = str(found[0])
    limit = amount_in(found[1], home)
    parts: dict[str, dict[str, Decimal]] = {}

    def add(money: str, part: str, amount: Decimal) -> None:
        figures = parts.setdefault(money, dict.fromkeys(PARTS, ZERO))
        figures[part] += amount

    items = queries.open_items(cur, customer=customer, as_of=as_of)
    for item in items:
        item["open"] = amount_in(item["open"], item["currency"])
        add(item["currency"], "open_ar", item["open"])
    for money, pending, open_orders in _balances(cur, customer):
        add(money, "pending_invoice", pending)
        if include_open_orders:
            add(money, "open_orders", open_orders)
    for money, total in _dated_later(cur, customer, as_of):
        add(money, "pending_invoice", total)
    if include_open_orders and exclude_order is not None:
        for money, counted in _counted(cur, customer, exclude_order):
            add(money, "open_orders", -counted)
        add(currency or home, "open_orders", order_open)
    if extra:
        add(currency or home, "extra", extra)
    parts = {money: {k: amount_in(v, money) for k, v in figures.items()}
             for money, figures in parts.items()}  # fmt: skip
    own = parts.pop(home, {part: amount_in(ZERO, home) for part in PARTS})
    overdue = [item for item in items if item["currency"] == home and item["days_past_due"] > 0]
    score, inputs = credit_score(
        _paid(cur, customer, home, as_of),
        len(overdue),
        sum((item["open"] for item in overdue), ZERO),
        own["open_ar"],
    )
    inputs["window"] = {"from": (as_of - timedelta(days=WINDOW_DAYS - 1)).isoformat(),
                        "to": as_of.isoformat()}  # fmt: skip
    return CreditStanding(
        customer=customer, currency=home, limit=limit, **own,
        include_open_orders=include_open_orders, score=score, score_inputs=inputs,
        as_of=as_of, position=position, other_currencies=parts,
    )  # fmt: skip


def amount_in(value: Any, currency: str) -> Decimal:
    """An amount as the store gives it (text on SQLite, NUMERIC(28,6) on PostgreSQL) at
    the currency's minor unit, or exactly when it has finer digits (a limit of 0.0005)."""
    exact = Decimal(str(value))
    unit = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    rounded = exact.quantize(unit)
    return rounded if rounded == exact else exact.normalize()


def _position(cur: Cursor) -> int:
    marks = ",".join("?" * len(READ_MODELS))
    rows = cur.execute(
        f"SELECT position FROM projection_tracking WHERE name IN ({marks})", READ_MODELS
    ).fetchall()
    return min((int(row[0]) for row in rows), default=0) if len(rows) == len(READ_MODELS) else 0


def _balances(cur: Cursor, customer: str) -> list[tuple[str, Decimal, Decimal]]:
    """Per currency: shipped and not invoiced, and the open orders' value not shipped."""
    rows = cur.execute(
        "SELECT currency, pending_invoice, open_orders FROM credit_balances WHERE customer = ?",
        (customer,),
    ).fetchall()
    return [
        (str(row[0]), amount_in(row[1], str(row[0])), amount_in(row[2], str(row[0])))
        for row in rows
    ]


def _dated_later(cur: Cursor, customer: str, as_of: date) -> list[tuple[str, Decimal]]:
    """Invoices dated after `as_of`: open items do not count them yet, so their shipments
    are still pending invoice on that date."""
    rows = cur.execute(
        "SELECT currency, total FROM invoices WHERE customer = ? AND invoice_date > ?",
        (customer, as_of.isoformat()),
    ).fetchall()
    return [(str(row[0]), amount_in(row[1], str(row[0]))) for row in rows]


def _counted(cur: Cursor, customer: str, number: str) -> list[tuple[str, Decimal]]:
    """What an order adds to its customer's open orders now (nothing if it does not count)."""
    rows = cur.execute(
        "SELECT currency, counted FROM credit_orders WHERE number = ? AND customer = ?",
        (number, customer),
    ).fetchall()
    return [(str(row[0]), amount_in(row[1], str(row[0]))) for row in rows]


def _paid(cur: Cursor, customer: str, currency: str, as_of: date) -> list[Paid]:
    """Allocations in force on `as_of`, effective within the window, on the customer's
    invoices in the credit currency, with how late each came."""
    start = (as_of - timedelta(days=WINDOW_DAYS)).isoformat()
    day = as_of.isoformat()
    rows = cur.execute(
        "SELECT a.amount, a.effective_date, i.due_date, i.number FROM allocations a"
        " JOIN invoices i ON i.number = a.invoice_number"
        " WHERE i.customer = ? AND i.currency = ? AND a.effective_date > ?"
        " AND a.effective_date <= ? AND (a.reversed_date IS NULL OR a.reversed_date > ?)",
        (customer, currency, start, day, day),
    ).fetchall()
    return [
        Paid(
            amount_in(row[0], currency),
            max(0, (date.fromisoformat(row[1]) - date.fromisoformat(row[2])).days),
            str(row[3]),
        )
        for row in rows
    ]


def credit_holds(cur: Cursor, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Orders on credit hold now, by number: customer, what is left to ship, since when,
    why, who, and the figures the hold was decided on."""
    sql = (
        "SELECT number, customer, currency, status, open_value, held_at, hold"
        " FROM credit_orders WHERE held_at IS NOT NULL AND status <> 'cancelled'"
    )
    params: list[Any] = []
    if after:
        sql += " AND number > ?"
        params.append(after)
    rows = cur.execute(sql + " ORDER BY number LIMIT ?", [*params, limit]).fetchdicts()
    for row in rows:
        row["amount"] = amount_in(row.pop("open_value"), row["currency"])
        row["since"] = row.pop("held_at")
        row.update(orjson.loads(row.pop("hold")))
    return rows


class ProjectionCreditCheck:
    """The ledger's `CreditCheck`: brings the credit and receivables read models up to the
    log head, then computes the standing on them, so every write before the call counts.

    A few events behind (the usual case: the command's own recent writes), it folds them
    itself — safe beside a background runner, whose tracking rows let only one apply a page.
    Further behind while the background runner works (a read model being built after an
    upgrade), it waits for the runner up to `timeout` seconds, then refuses with 503
    `credit-check-unavailable` rather than hold a request for the whole backlog.
    """

    def __init__(
        self,
        runner: ProjectionRunner,
        store: ViewStore,
        *,
        include_open_orders: bool = True,
        hold_score: int = 40,
        timeout: float = 5.0,
    ) -> None:
        self.runner, self.store = runner, store
        self.include_open_orders = include_open_orders
        self.hold_score = hold_score
        self.timeout = timeout

    def standing(
        self,
        customer_code: str,
        currency: str | None,
        extra_amount: Decimal,
        *,
        as_of: date,
        exclude_order: str | None = None,
        order_open: Decimal = ZERO,
    ) -> CreditStanding:
        self.catch_up()
        with self.store.read() as cur:
            return credit_standing(
                cur, customer_code, currency, extra_amount, as_of=as_of,
                include_open_orders=self.include_open_orders, exclude_order=exclude_order,
                order_open=order_open,
            )  # fmt: skip

    def catch_up(self) -> None:
        head = self.runner.head()
        with self.store.read() as cur:
            lowest = _position(cur)
        if lowest >= head:
            return
        if self.runner.running and head - lowest > self.runner.page_size:
            if not self.runner.wait_for(head, READ_MODELS, timeout=self.timeout):
                raise Unavailable(
                    f"credit read models have not reached log position {head} yet; nothing"
                    " was stored, retry shortly",
                    rule="credit-check-unavailable",
                )
            return
        for name in READ_MODELS:
            self.runner.catch_up(name, until=head)

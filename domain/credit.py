"""Credit control's port: what the order centre asks about a customer's credit, and the
rules it applies to the answer.

Exposure and scores come from the read models of receivables and orders, so the domain does
not compute them: it asks a `CreditCheck`, which the runtime plugs into the ledger
(`projections/credit.py`). A ledger without one (pure unit tests) checks no credit.

Credit control applies to customers with a credit limit above zero; a limit of 0 (what
registering without a limit gives) means "no credit limit set": nothing is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.customers import Customer
from domain.exceptions import RuleViolation, StoredRefusal
from domain.receivables import shipped_lines, tax_on
from domain.sales_orders import SalesOrder, line_amount
from domain.values import ZERO, Meta

CREDIT_ROLES = ("finance", "finance_manager", "manager")  # who may hold and release orders by hand


@dataclass(frozen=True)
class CreditStanding:
    """A customer's credit as of a date, in the currency of its credit limit.

    `extra` is what the asking command adds that the read models cannot know yet (the order
    being judged, the shipment being released). Amounts in other currencies are never
    converted: they are listed in `other_currencies` and count against no limit.
    """

    customer: str
    currency: str
    limit: Decimal  # 0: no limit set
    open_ar: Decimal
    pending_invoice: Decimal
    open_orders: Decimal
    extra: Decimal
    include_open_orders: bool
    score: int
    score_inputs: dict[str, Any]
    as_of: date
    position: int  # the read models had processed the log at least up to here
    other_currencies: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def exposure(self) -> Decimal:
        return self.open_ar + self.pending_invoice + self.open_orders + self.extra

    @property
    def available(self) -> Decimal | None:
        return self.limit - self.exposure if self.limit > 0 else None

    @property
    def over_limit(self) -> bool:
        return self.limit > 0 and self.exposure > self.limit

    def figures(self) -> dict[str, Any]:
        """What an event records of the standing it was decided on (for audit)."""
        return {
            "currency": self.currency,
            "limit": self.limit,
            "open_ar": self.open_ar,
            "pending_invoice": self.pending_invoice,
            "open_orders": self.open_orders,
            "extra": self.extra,
            "exposure": self.exposure,
            "available": self.available,
            "over_limit": self.over_limit,
            "score": self.score,
            "include_open_orders": self.include_open_orders,
            "as_of": self.as_of.isoformat(),
            "position": self.position,
        }


class CreditCheck(Protocol):
    """The customer's standing, computed on read models that include every event written
    before the call. `exclude_order`'s own open-order value is left out and `order_open`
    counted instead (as an open order, so only when open orders count)."""

    hold_score: int  # at shipment, a score below this puts the order on credit hold

    def standing(
        self,
        customer_code: str,
        currency: str | None,
        extra_amount: Decimal,
        *,
        as_of: date,
        exclude_order: str | None = None,
        order_open: Decimal = ZERO,
    ) -> CreditStanding: ...


class CreditHoldRefusal(StoredRefusal):
    """The shipment is refused and the order stays on the credit hold just recorded."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, rule="credit-hold", details=details)


def controlled(customer: Customer) -> bool:
    return customer.credit_limit > 0


def open_value(lines: list[dict[str, Any]], shipped: dict[str, Decimal], currency: str) -> Decimal:
    """Net value of what is ordered and not shipped yet (short lines included)."""
    total = ZERO
    for line in lines:
        rest = Decimal(line["quantity"]) - Decimal(shipped.get(str(line["line_no"]), ZERO))
        if rest > 0:
            total += line_amount({**line, "quantity": rest}, currency)
    return total


def at_submission(
    check: CreditCheck | None, customer: Customer, order: SalesOrder, now: datetime
) -> CreditStanding | None:
    """The standing the approval rules judge: with the order's own amount, whatever the
    read models say of it (an amended order is counted at its new value, once)."""
    if check is None or not controlled(customer):
        return None
    return check.standing(
        order.customer, order.currency, order.total, as_of=now.date(), exclude_order=order.number
    )


def require_credit_role(role: str | None, verb: str) -> None:
    if role not in CREDIT_ROLES:
        raise RuleViolation(
            f"credit {verb} are for {', '.join(CREDIT_ROLES)}; this request acts as"
            f" {role or 'no role'}",
            rule="credit-role",
        )


def review_shipment(
    check: CreditCheck | None,
    customer: Customer,
    order: SalesOrder,
    quantities: dict[int, Decimal],
    tax_rate: Decimal,
    meta: Meta,
    shipment_ref: str,
    when: datetime,
) -> CreditHoldRefusal | None:
    """At shipment release: over the limit or under the hold score, and not released by
    finance, the order goes on credit hold (recorded on it) and the shipment is refused."""
    if check is None or order.credit_release is not None or not controlled(customer):
        return None
    lines = shipped_lines(order.lines, quantities, order.currency)
    billed = sum((line["amount"] for line in lines), ZERO)
    after = dict(order.shipped)
    for line_no, qty in quantities.items():
        after[str(line_no)] = after.get(str(line_no), ZERO) + qty
    standing = check.standing(
        order.customer, order.currency, billed + tax_on(billed, tax_rate, order.currency),
        as_of=meta.at.date(), exclude_order=order.number,
        order_open=open_value(order.lines, after, order.currency),
    )  # fmt: skip
    reasons = hold_reasons(standing, check.hold_score)
    if not reasons:
        return None
    why = "; ".join(reasons)
    figures = standing.figures()
    order.hold_credit(why, "shipment", meta.actor, meta.role, figures, shipment_ref, when)
    return CreditHoldRefusal(
        f"shipment {shipment_ref} of {order.number} is not released: the order is now on"
        f" credit hold ({why}); finance or a manager can release it",
        {"number": order.number, "shipment_ref": shipment_ref, "figures": figures},
    )


def hold_reasons(standing: CreditStanding, hold_score: int) -> list[str]:
    reasons = []
    if standing.over_limit:
        reasons.append(
            f"exposure {standing.exposure} {standing.currency} is over the credit limit of"
            f" {standing.limit}"
        )
    if standing.score < hold_score:
        reasons.append(f"credit score {standing.score} is below {hold_score}")
    return reasons

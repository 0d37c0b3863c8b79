"""Commands of credit control: finance holds an order by hand or releases it.

The automatic checks sit where the order centre decides (`SalesCommands._submit` judges
credit facts at approval, `ship_sales_order` reviews credit at shipment release); these are
the people's side of it, each an event on the order with actor and role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.application import Decision, IdempotencyClaim, Outcome, check_version
from domain.commands_sales import SalesCommands, _order_result
from domain.credit import require_credit_role
from domain.sales_orders import SalesOrder
from domain.values import ZERO, Meta, money, text


class CreditControlCommands(SalesCommands):
    def hold_order_credit(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Put an order on credit hold (finance or manager): nothing ships until released.
        The customer's standing at that moment is recorded with the hold."""
        require_credit_role(meta.role, "holds")
        why = text(reason, "reason", max_length=500)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            figures = self._figures(order, meta)
            order.hold_credit(why, "manual", meta.actor, meta.role, figures, None, when)
            return Decision([order], credit_result(order))

        return self.execute(meta, decide, idempotency)

    def release_order_credit(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Release an order (finance or manager): its shipments pass the credit review until
        it is fully shipped or held again."""
        require_credit_role(meta.role, "releases")
        why = text(reason, "reason", max_length=500)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            order.release_credit(why, meta.actor, meta.role, when)
            return Decision([order], credit_result(order))

        return self.execute(meta, decide, idempotency)

    def change_credit_limit(
        self,
        meta: Meta,
        *,
        customer: str,
        credit_limit: Any,
        reason: str,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Set a customer's credit limit (finance or manager; 0 = no limit), with a reason.
        The old and new limits are both in the event."""
        require_credit_role(meta.role, "limits")
        limit = money(credit_limit, "credit_limit")
        why = text(reason, "reason", max_length=500)

        def decide() -> Decision:
            account = self.customer(customer)
            check_version(account, expected_version, f"customer {customer!r}")
            previous = account.credit_limit
            account.change_credit_limit(limit, why)
            result = {
                "code": account.code, "credit_limit": limit, "previous_credit_limit": previous,
                "currency": account.currency, "version": account.version,
            }  # fmt: skip
            return Decision([account], result)

        return self.execute(meta, decide, idempotency)

    def _figures(self, order: SalesOrder, meta: Meta) -> dict[str, Any]:
        if self.credit is None:
            return {}
        standing = self.credit.standing(order.customer, None, ZERO, as_of=meta.at.date())
        return standing.figures()


def credit_result(order: SalesOrder) -> dict[str, Any]:
    return {
        **_order_result(order),
        "credit_hold": order.credit_hold,
        "credit_release": order.credit_release,
    }

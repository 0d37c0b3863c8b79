"""Payments received, their allocations to invoices (and reversals), and open items."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from api.auth import CustomerScope, allow, scoped
from api.deps import (
    IdempotencyDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    to_json_ready,
    wait_for_position,
)
from api.exports import ListingDep
from api.responses import json_response
from api.routes.models import Body
from api.types import Code, CodePath, CodeQuery, ExactDecimal
from domain.commands_finance import payment_result
from projections import queries

router = APIRouter(tags=["payments"])


class PaymentIn(Body):
    bank_ref: Code
    payer: str = Field(min_length=1, max_length=200)
    amount: ExactDecimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    value_date: date
    remittance: str = Field("", max_length=2000)


class AllocationIn(Body):
    invoice_number: Code
    amount: ExactDecimal
    effective_date: date | None = None


class ReversalIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_date: date | None = None


@router.post("/payments", status_code=201, dependencies=[allow("finance:write")])
def record_payment(
    body: PaymentIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Record money received (entered by hand; statement import comes later)."""
    outcome = rt.ledger.record_payment(
        meta, bank_ref=body.bank_ref, payer=body.payer, amount=body.amount,
        currency_code=body.currency, value_date=body.value_date, remittance=body.remittance,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/payments/{body.bank_ref}")


@router.get("/payments/{bank_ref}", dependencies=[allow("finance:read")])
def get_payment(bank_ref: CodePath, rt: RuntimeDep) -> Response:
    """One payment with what is unapplied and every allocation (reversed ones inactive)."""
    payment = rt.ledger.payment(bank_ref)
    return json_response(payment_result(payment), headers={"ETag": f'"{payment.version}"'})


@router.post(
    "/payments/{bank_ref}/allocations", status_code=201, dependencies=[allow("finance:write")]
)
def allocate_payment(
    bank_ref: CodePath, body: AllocationIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Apply (part of) the payment to an invoice, by hand; never beyond what is unapplied
    or what the invoice still owes."""
    outcome = rt.ledger.allocate_payment(
        meta, bank_ref=bank_ref, invoice_number=body.invoice_number, amount=body.amount,
        effective_date=body.effective_date, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201)


@router.post(
    "/payments/{bank_ref}/allocations/{allocation_id}/reverse",
    dependencies=[allow("finance:write")],
)
def unallocate_payment(
    bank_ref: CodePath, allocation_id: CodePath, body: ReversalIn, rt: RuntimeDep,
    meta: MetaDep, idem: IdempotencyDep,
) -> Response:  # fmt: skip
    """Undo an allocation with a reversing event on the payment and the invoice."""
    outcome = rt.ledger.unallocate_payment(
        meta, bank_ref=bank_ref, allocation_id=allocation_id, reason=body.reason,
        effective_date=body.effective_date, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.get("/open-items", dependencies=[allow("finance:read", customers=True)])
def open_items(
    rt: RuntimeDep,
    scope: CustomerScope,
    listing: ListingDep,
    customer: CodeQuery = None,
    as_of: date | None = None,
    min_position: MinPosition = None,
) -> Response:
    """What customers owe invoice by invoice as of a date (default today): total, paid,
    open, and status (open, partially paid, overdue with days past due) derived for that
    date from the invoices and the allocations effective by then."""
    wait_for_position(rt, min_position, "receivables")
    day = as_of or datetime.now(UTC).date()

    def read() -> dict[str, Any]:
        with rt.store.read() as cur:
            items = queries.open_items(cur, customer=scoped(scope, customer), as_of=day)
        totals: dict[str, Decimal] = {}
        for item in items:  # one total per currency: amounts in two currencies do not add up
            totals[item["currency"]] = totals.get(item["currency"], Decimal(0)) + item["open"]
        return {"as_of": day, "items": [to_json_ready(i) for i in items], "total_open": totals}

    return listing.whole("open-items", read)

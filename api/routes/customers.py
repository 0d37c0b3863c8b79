"""Customers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import CustomerScope, allow, require_own
from api.deps import (
    IdempotencyDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    wait_for_position,
)
from api.errors import ApiError
from api.exports import ListingDep
from api.responses import json_response
from api.routes.models import Body
from api.runtime import Runtime
from api.types import Code, CodePath, ExactDecimal
from domain.application import IdempotencyClaim
from domain.values import Meta
from projections import customer_statements

router = APIRouter(prefix="/customers", tags=["customers"])


class ContactIn(Body):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field("", max_length=200)
    phone: str = Field("", max_length=40)


class CustomerIn(Body):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    billing_address: str = Field(min_length=1, max_length=500)
    shipping_address: str = Field(min_length=1, max_length=500)
    region: str = Field(min_length=1, max_length=64)
    payment_terms_days: int = Field(30, ge=0, le=365)
    credit_limit: ExactDecimal = Decimal(0)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")


@router.post("", status_code=201, dependencies=[allow("customers:write")])
def register_customer(
    body: CustomerIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Open a customer account."""
    outcome = rt.ledger.register_customer(
        meta, code_=body.code, name=body.name,
        contacts=[contact.model_dump() for contact in body.contacts],
        billing_address=body.billing_address, shipping_address=body.shipping_address,
        region=body.region, payment_terms_days=body.payment_terms_days,
        credit_limit=body.credit_limit, currency_code=body.currency, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/customers/{body.code}")


class StatusIn(Body):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{code}/block", dependencies=[allow("customers:write")])
def block_customer(
    code: CodePath, body: StatusIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Block a customer: no new orders are taken for it until the block is lifted."""
    return _set_status(rt, meta, idem, code, body, blocked=True)


@router.post("/{code}/unblock", dependencies=[allow("customers:write")])
def unblock_customer(
    code: CodePath, body: StatusIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Lift a customer's block."""
    return _set_status(rt, meta, idem, code, body, blocked=False)


class FlagsIn(Body):
    flags: list[Code] = Field(max_length=20)
    reason: str = Field(min_length=1, max_length=500)


@router.put("/{code}/flags", dependencies=[allow("customers:write")])
def set_customer_flags(
    code: CodePath, body: FlagsIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Replace the customer's flags (e.g. `credit_watch`), which approval rules can test."""
    outcome = rt.ledger.set_customer_flags(
        meta, code_=code, flags=body.flags, reason=body.reason, idempotency=idem
    )
    return command_response(outcome)


def _set_status(
    rt: Runtime, meta: Meta, idem: IdempotencyClaim | None, code: str, body: StatusIn, *,
    blocked: bool,
) -> Response:  # fmt: skip
    outcome = rt.ledger.set_customer_status(
        meta, code_=code, blocked=blocked, reason=body.reason, idempotency=idem
    )
    return command_response(outcome)


@router.get("/{code}", dependencies=[allow("customers:read", customers=True)])
def get_customer(code: CodePath, rt: RuntimeDep, scope: CustomerScope) -> Response:
    """One customer as recorded now, with its version as ETag."""
    require_own(scope, code, f"customer {code!r} not found")
    customer = rt.ledger.customer(code)
    body = {
        "code": customer.code, "name": customer.name, "contacts": customer.contacts,
        "billing_address": customer.billing_address,
        "shipping_address": customer.shipping_address, "region": customer.region,
        "payment_terms_days": customer.payment_terms_days,
        "credit_limit": customer.credit_limit, "currency": customer.currency,
        "status": customer.status, "flags": customer.flags, "version": customer.version,
    }  # fmt: skip
    return json_response(body, headers={"ETag": f'"{customer.version}"'})


@router.get("/{code}/statement", dependencies=[allow("finance:read", customers=True)])
def customer_statement(
    code: CodePath,
    rt: RuntimeDep,
    scope: CustomerScope,
    listing: ListingDep,
    start: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD")],
    end: Annotated[date | None, Query(alias="to", description="Last day (default today)")] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    min_position: MinPosition = None,
) -> Response:
    """The customer's statement for a period in one currency (default the account's):
    opening balance, each invoice, credit note, write-off, payment and reversal dated in the
    period with a running balance, the closing balance (the open-items total on the last
    day) and the customer's unapplied cash. As a file (staff only), one row per line."""
    require_own(scope, code, f"customer {code!r} not found")
    account = rt.ledger.customer(code)
    last = end or datetime.now(UTC).date()
    if start > last:
        raise ApiError(422, f"from ({start}) is after to ({last})", "invalid-period")
    wait_for_position(rt, min_position, "receivables")

    def read() -> dict[str, Any]:
        with rt.store.read() as cur:
            return customer_statements.customer_statement(
                cur, customer=account.code, currency=currency or account.currency,
                start=start, end=last,
            )  # fmt: skip

    return listing.whole("statement", read, items="lines", shape=_statement_line)


STATEMENT_COLUMNS = ("date", "kind", "reference", "invoice_number", "due_date", "bank_ref",
                     "amount", "balance")  # fmt: skip


def _statement_line(line: dict[str, Any]) -> dict[str, Any]:
    """Every line with the same columns (an invoice has a due date, a payment a bank
    reference), so a file's header names them all."""
    return {name: line.get(name) for name in STATEMENT_COLUMNS}

"""Credit control: a customer's standing, the orders on credit hold, holds and releases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    IdempotencyDep,
    IfMatchDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    wait_for_position,
)
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import AwareDatetime, CodePath, CodeQuery, ExactDecimal
from domain.credit import CreditStanding
from projections.credit import credit_holds

router = APIRouter(tags=["credit"])


class CreditDecisionIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime | None = None


class CreditLimitIn(Body):
    credit_limit: ExactDecimal = Field(
        description="The new limit in the account's currency; 0 = none"
    )
    reason: str = Field(min_length=1, max_length=500)


def standing_view(standing: CreditStanding) -> dict[str, Any]:
    return {
        "customer": standing.customer,
        "as_of": standing.as_of.isoformat(),
        "position": standing.position,
        "currency": standing.currency,
        "limit": standing.limit,
        "limit_set": standing.limit > 0,
        "exposure": standing.exposure,
        "parts": {
            "open_ar": standing.open_ar,
            "pending_invoice": standing.pending_invoice,
            "open_orders": standing.open_orders,
        },
        "include_open_orders": standing.include_open_orders,
        "available": standing.available,
        "over_limit": standing.over_limit,
        "score": standing.score,
        "score_inputs": standing.score_inputs,
        "other_currencies": standing.other_currencies,
    }


@router.get("/customers/{code}/credit", dependencies=[allow("finance:read")])
def customer_credit(code: CodePath, rt: RuntimeDep) -> Response:
    """The customer's credit standing now: limit, exposure (open AR, shipped but not
    invoiced, open orders), what is available, whether it is over the limit, and the credit
    score with every input it was computed from. Includes every write made before the call."""
    rt.ledger.customer_view(code)  # 404 for an unknown customer, before any waiting
    check = rt.ledger.credit
    if check is None:
        raise ApiError(503, "credit control is not running", "credit-check-unavailable")
    standing = check.standing(code, None, Decimal(0), as_of=datetime.now(UTC).date())
    return json_response(standing_view(standing))


@router.get("/credit/holds", dependencies=[allow("finance:read")])
def list_credit_holds(
    rt: RuntimeDep,
    listing: ListingDep,
    after: CodeQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Orders on credit hold now, by number: customer, amount left to ship, since when, why,
    who put it on hold, and the credit figures the hold was decided on."""
    wait_for_position(rt, min_position, "credit")
    return listing.page("credit-holds", reader(rt, credit_holds), after=after, limit=limit,
                        cursor_of=lambda row: row["number"])  # fmt: skip


@router.post("/sales-orders/{number}/credit-hold", dependencies=[allow("finance:approve")])
def hold_order_credit(
    number: CodePath, body: CreditDecisionIn, rt: RuntimeDep, meta: MetaDep,
    idem: IdempotencyDep, version: IfMatchDep,
) -> Response:  # fmt: skip
    """Put the order on credit hold (finance or a manager): it cannot ship until
    released. The customer's standing at that moment is recorded with the hold."""
    outcome = rt.ledger.hold_order_credit(
        meta, number=number, reason=body.reason, expected_version=version,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/sales-orders/{number}/credit-release", dependencies=[allow("finance:approve")])
def release_order_credit(
    number: CodePath, body: CreditDecisionIn, rt: RuntimeDep, meta: MetaDep,
    idem: IdempotencyDep, version: IfMatchDep,
) -> Response:  # fmt: skip
    """Release the order (finance or a manager): its shipments pass the credit review
    until it is fully shipped or put on hold again."""
    outcome = rt.ledger.release_order_credit(
        meta, number=number, reason=body.reason, expected_version=version,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.put("/customers/{code}/credit-limit", dependencies=[allow("finance:approve")])
def change_credit_limit(
    code: CodePath, body: CreditLimitIn, rt: RuntimeDep, meta: MetaDep,
    idem: IdempotencyDep, version: IfMatchDep,
) -> Response:  # fmt: skip
    """Set the customer's credit limit (finance or a manager; 0 = no limit). Decisions
    already taken stand; the next approval and shipment review judge against the new limit."""
    outcome = rt.ledger.change_credit_limit(
        meta, customer=code, credit_limit=body.credit_limit, reason=body.reason,
        expected_version=version, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

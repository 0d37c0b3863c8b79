"""Write-offs: a request to stop chasing (part of) an invoice, decided by someone else in an
approver role (settings: WRITE_OFF_APPROVER_ROLES)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    IdempotencyDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    to_json_ready,
    wait_for_position,
)
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import CodePath, CodeQuery, ExactDecimal, PositionCursor
from projections import credits

router = APIRouter(tags=["write-offs"])


class WriteOffIn(Body):
    amount: ExactDecimal
    reason: str = Field(min_length=1, max_length=500)


class ApprovalIn(Body):
    effective_date: date | None = None


class RejectionIn(Body):
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/invoices/{number}/write-offs", status_code=201, dependencies=[allow("finance:write")]
)
def request_write_off(
    number: CodePath, body: WriteOffIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Ask to write off (part of) what an invoice owes; it stays owed until approved."""
    outcome = rt.ledger.request_write_off(
        meta, invoice_number=number, amount=body.amount, reason=body.reason, idempotency=idem
    )
    return command_response(outcome, 201, f"/write-offs/{outcome.result['write_off_id']}")


@router.post("/write-offs/{write_off_id}/approve", dependencies=[allow("finance:approve")])
def approve_write_off(
    write_off_id: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    body: ApprovalIn | None = None,
) -> Response:  # fmt: skip
    """Approve a pending write-off (an approver role, not the requester): the
    invoice stops owing the amount from the approval date, or the date given."""
    outcome = rt.ledger.approve_write_off(
        meta, write_off_id=write_off_id, effective_date=body.effective_date if body else None,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/write-offs/{write_off_id}/reject", dependencies=[allow("finance:approve")])
def reject_write_off(
    write_off_id: CodePath, body: RejectionIn, rt: RuntimeDep, meta: MetaDep,
    idem: IdempotencyDep,
) -> Response:  # fmt: skip
    """Turn a pending write-off down, with the reason (same roles as approving)."""
    outcome = rt.ledger.reject_write_off(
        meta, write_off_id=write_off_id, reason=body.reason, idempotency=idem
    )
    return command_response(outcome)


@router.get("/write-offs", dependencies=[allow("finance:read")])
def list_write_offs(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Literal["pending", "approved", "rejected"] | None = None,
    customer: CodeQuery = None,
    after: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Write-offs in the order they were requested; `status=pending` is the approvers' queue."""
    wait_for_position(rt, min_position, "receivables")
    fetch = reader(rt, credits.list_write_offs, status=status, customer=customer)
    return listing.page("write-offs", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["position"])  # fmt: skip


@router.get("/write-offs/{write_off_id}", dependencies=[allow("finance:read")])
def get_write_off(
    write_off_id: CodePath, rt: RuntimeDep, min_position: MinPosition = None
) -> Response:
    """One write-off: amount, reason, who asked, who decided and when."""
    wait_for_position(rt, min_position, "receivables")
    with rt.store.read() as cur:
        row = credits.write_off(cur, write_off_id)
    if row is None:
        raise ApiError(404, f"write-off {write_off_id!r} not found", "not-found")
    return json_response(to_json_ready(row))

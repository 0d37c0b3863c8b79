"""Credit notes: money taken off an invoice for goods returned or a price corrected."""

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
    wait_for_position,
)
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import Code, CodePath, CodeQuery, ExactDecimal, PositionCursor
from domain.commands_credits import credit_note_result
from projections import credits

router = APIRouter(tags=["credit notes"])


class ReturnLineIn(Body):
    order_number: Code | None = None
    line_no: int | None = Field(None, ge=1, le=10_000)
    sku: Code | None = None
    quantity: ExactDecimal


class CreditNoteIn(Body):
    kind: Literal["return", "price_correction"]
    reason: str = Field(min_length=1, max_length=500)
    lines: list[ReturnLineIn] | None = Field(None, max_length=500)
    amount: ExactDecimal | None = None
    credit_note_date: date | None = None


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_date: date | None = None


@router.post(
    "/invoices/{number}/credit-notes", status_code=201, dependencies=[allow("finance:write")]
)
def issue_credit_note(
    number: CodePath, body: CreditNoteIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Credit an invoice: a return (order lines and quantities, priced at the invoice's
    lines with tax) or a price correction (a net amount, taxed at the invoice's rate); never
    more than the invoice owes, nor more goods than it billed."""
    lines = None if body.lines is None else [
        line.model_dump(exclude_none=True) for line in body.lines
    ]  # fmt: skip
    outcome = rt.ledger.issue_credit_note(
        meta, invoice_number=number, kind=body.kind, reason=body.reason, lines=lines,
        amount=body.amount, credit_note_date=body.credit_note_date, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/credit-notes/{outcome.result['number']}")


@router.post("/credit-notes/{number}/cancel", dependencies=[allow("finance:write")])
def cancel_credit_note(
    number: CodePath, body: CancelIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Cancel a mistaken credit note: its invoice owes the amount again from the date given
    (default today). Credit notes are never edited."""
    outcome = rt.ledger.cancel_credit_note(
        meta, number=number, reason=body.reason, effective_date=body.effective_date,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.get("/credit-notes", dependencies=[allow("finance:read")])
def list_credit_notes(
    rt: RuntimeDep,
    listing: ListingDep,
    customer: CodeQuery = None,
    invoice_number: CodeQuery = None,
    after: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Credit notes in the order they were issued, by customer or invoice."""
    wait_for_position(rt, min_position, "receivables")
    fetch = reader(rt, credits.list_credit_notes, customer=customer,
                   invoice_number=invoice_number)  # fmt: skip
    return listing.page("credit-notes", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["position"])  # fmt: skip


@router.get("/credit-notes/{number}", dependencies=[allow("finance:read")])
def get_credit_note(number: CodePath, rt: RuntimeDep) -> Response:
    """One credit note as issued: its invoice, lines, net, tax, total, and status."""
    note = rt.ledger.credit_note(number)
    return json_response(credit_note_result(note), headers={"ETag": f'"{note.version}"'})

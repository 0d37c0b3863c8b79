"""Invoices: shipments' receivables billed under a gapless number, due by payment terms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import CustomerScope, allow, require_own, scoped
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
from api.types import Code, CodePath, CodeQuery, PositionCursor
from domain.commands_finance import invoice_result
from projections import queries
from projections.open_items import invoice_as_of

router = APIRouter(prefix="/invoices", tags=["invoices"])


class ShipmentRef(Body):
    order_number: Code
    shipment_ref: Code


class InvoiceIn(Body):
    customer: Code
    shipments: list[ShipmentRef] = Field(min_length=1, max_length=500)
    invoice_date: date | None = None


@router.post("", status_code=201, dependencies=[allow("finance:write")])
def issue_invoice(body: InvoiceIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep) -> Response:
    """Bill one or several shipments of one customer (each once) under the next number of
    the year's series; the due date is the invoice date plus the customer's payment terms."""
    outcome = rt.ledger.issue_invoice(
        meta, customer=body.customer, shipments=[s.model_dump() for s in body.shipments],
        invoice_date=body.invoice_date, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/invoices/{outcome.result['number']}")


@router.get("", dependencies=[allow("finance:read", customers=True)])
def list_invoices(
    rt: RuntimeDep,
    scope: CustomerScope,
    listing: ListingDep,
    customer: CodeQuery = None,
    after: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Invoices in the order they were issued, by customer."""
    wait_for_position(rt, min_position, "receivables")
    fetch = reader(rt, queries.list_invoices, customer=scoped(scope, customer))
    return listing.page("invoices", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["position"])  # fmt: skip


@router.get("/{number}", dependencies=[allow("finance:read", customers=True)])
def get_invoice(number: CodePath, rt: RuntimeDep, scope: CustomerScope) -> Response:
    """One invoice as issued: the shipments it bills, totals, dates."""
    invoice = rt.ledger.invoice(number)
    require_own(scope, invoice.customer, f"invoice {number!r} not found")
    return json_response(invoice_result(invoice), headers={"ETag": f'"{invoice.version}"'})


@router.get("/{number}/status", dependencies=[allow("finance:read", customers=True)])
def invoice_status(
    number: CodePath,
    rt: RuntimeDep,
    scope: CustomerScope,
    as_of: date | None = None,
    min_position: MinPosition = None,
) -> Response:
    """The invoice at the end of a business day (default today): paid, credited and open
    by then, and its status then — not issued yet, open, partially paid, overdue (days past
    due) or paid. Derived for that date from the allocations, credit notes and write-offs
    effective by then; never a stored flag."""
    wait_for_position(rt, min_position, "receivables")
    with rt.store.read() as cur:
        found = invoice_as_of(cur, number, as_of or datetime.now(UTC).date())
    if found is None:
        raise ApiError(404, f"invoice {number!r} not found", "not-found")
    require_own(scope, found["customer"], f"invoice {number!r} not found")
    return json_response(to_json_ready(found))

"""Invoices: shipments' receivables billed under a gapless number, due by payment terms."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.deps import (
    IdempotencyDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    position_page,
    wait_for_position,
)
from api.responses import json_response
from api.routes.models import Body
from api.types import Code, CodePath, CodeQuery
from domain.commands_finance import invoice_result
from projections import queries

router = APIRouter(prefix="/invoices", tags=["invoices"])


class ShipmentRef(Body):
    order_number: Code
    shipment_ref: Code


class InvoiceIn(Body):
    customer: Code
    shipments: list[ShipmentRef] = Field(min_length=1, max_length=500)
    invoice_date: date | None = None


@router.post("", status_code=201)
def issue_invoice(body: InvoiceIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep) -> Response:
    """Bill one or several shipments of one customer (each once) under the next number of
    the year's series; the due date is the invoice date plus the customer's payment terms."""
    outcome = rt.ledger.issue_invoice(
        meta, customer=body.customer, shipments=[s.model_dump() for s in body.shipments],
        invoice_date=body.invoice_date, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/invoices/{outcome.result['number']}")


@router.get("")
def list_invoices(
    rt: RuntimeDep,
    customer: CodeQuery = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Invoices in the order they were issued, by customer."""
    wait_for_position(rt, min_position, "receivables")
    with rt.store.read() as cur:
        rows = queries.list_invoices(cur, customer=customer, after=after, limit=limit)
    return position_page(rows, limit)


@router.get("/{number}")
def get_invoice(number: CodePath, rt: RuntimeDep) -> Response:
    """One invoice as issued: the shipments it bills, totals, dates."""
    invoice = rt.ledger.invoice(number)
    return json_response(invoice_result(invoice), headers={"ETag": f'"{invoice.version}"'})

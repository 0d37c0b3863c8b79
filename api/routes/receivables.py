"""Receivables: what customers owe, one per shipment, from the moment the goods leave."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import CustomerScope, allow, require_own, scoped
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.types import CodeQuery, PositionCursor
from domain.exceptions import NotFound
from domain.receivables import Receivable
from projections import queries

router = APIRouter(prefix="/receivables", tags=["receivables"])


@router.get("", dependencies=[allow("finance:read", customers=True)])
def list_receivables(
    rt: RuntimeDep,
    scope: CustomerScope,
    listing: ListingDep,
    customer: CodeQuery = None,
    order_number: CodeQuery = None,
    status: Literal["pending_invoice", "invoiced"] | None = None,
    after: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Receivables in the order they were recognised, by customer, order or status; pass
    a shipment's `position` as `min_position` to see its receivable at once."""
    wait_for_position(rt, min_position, "receivables")
    fetch = reader(rt, queries.list_receivables, customer=scoped(scope, customer),
                   order_number=order_number, status=status)  # fmt: skip
    return listing.page("receivables", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["position"])  # fmt: skip


@router.get("/{receivable_id}", dependencies=[allow("finance:read", customers=True)])
def get_receivable(receivable_id: UUID, rt: RuntimeDep, scope: CustomerScope) -> Response:
    """One receivable as recorded now: lines billed, net, tax, total."""
    try:
        owed = rt.ledger.load(Receivable, receivable_id, f"receivable {receivable_id}")
    except NotFound as error:
        raise ApiError(404, error.message, "not-found") from None
    require_own(scope, owed.customer, f"receivable {receivable_id} not found")
    body = {
        "id": str(owed.id), "order_number": owed.order_number,
        "shipment_ref": owed.shipment_ref, "customer": owed.customer,
        "currency": owed.currency, "lines": [to_json_ready(line) for line in owed.lines],
        "net": owed.net, "tax_rate": owed.tax_rate, "tax": owed.tax, "total": owed.total,
        "status": owed.status, "recognised_at": owed.recognised_at, "version": owed.version,
        "invoice_number": owed.invoice_number, "invoice_date": owed.invoice_date,
        "due_date": owed.due_date,
    }  # fmt: skip
    return json_response(to_json_ready(body), headers={"ETag": f'"{owed.version}"'})

"""Purchase orders: create, approve (stock goes in transit), receive, cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

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
)  # fmt: skip
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import CODE_PATTERN, AwareDatetime, Code, CodePath, ExactDecimal
from domain.purchase_orders import PurchaseOrder
from projections import queries

router = APIRouter(prefix="/purchase-orders", tags=["purchase orders"])


class LineIn(Body):
    sku: Code
    quantity: ExactDecimal
    unit_cost: ExactDecimal = Decimal(0)


class PurchaseOrderIn(Body):
    number: Code | None = None
    supplier: str = Field(min_length=1, max_length=200)
    warehouse: Code
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    receipt_tolerance: ExactDecimal | None = None
    expected_at: AwareDatetime | None = None


class ApproveIn(Body):
    effective_at: AwareDatetime | None = None


class ReceiptLineIn(Body):
    line_no: int = Field(ge=1, le=500)
    quantity: ExactDecimal


class ReceiptIn(Body):
    receipt_ref: Code | None = None
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime | None = None


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime | None = None


def _view(order: PurchaseOrder) -> dict[str, object]:
    return {
        "number": order.number, "supplier": order.supplier, "warehouse": order.warehouse,
        "status": order.status, "currency": order.currency,
        "receipt_tolerance": order.receipt_tolerance, "version": order.version,
        "expected_at": order.expected_at.isoformat() if order.expected_at else None,
        "lines": [
            {**line, "received": order.received[str(line["line_no"])],
             "open": order.open_quantity(line["line_no"])}
            for line in order.lines
        ],
        "receipts": list(order.receipt_refs),
    }  # fmt: skip


@router.post("", status_code=201, dependencies=[allow("purchasing:write")])
def create_purchase_order(
    body: PurchaseOrderIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Draft a purchase order for one warehouse."""
    outcome = rt.ledger.create_purchase_order(
        meta, number=body.number, supplier=body.supplier, warehouse=body.warehouse,
        lines=[line.model_dump() for line in body.lines], currency_code=body.currency,
        receipt_tolerance=body.receipt_tolerance, expected_at=body.expected_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/purchase-orders/{outcome.result['number']}")


@router.get("", dependencies=[allow("purchasing:read")])
def list_purchase_orders(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Literal["draft", "approved", "partially_received", "received", "cancelled"]
    | None = None,
    after: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=CODE_PATTERN,
            description="Cursor: last number of the previous page",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """List purchase orders, optionally by status."""
    wait_for_position(rt, min_position, "purchasing")
    return listing.page("purchase-orders", reader(rt, queries.list_purchase_orders, status=status),
                        after=after, limit=limit, cursor_of=lambda row: row["number"])  # fmt: skip


@router.get("/{number}", dependencies=[allow("purchasing:read")])
def get_purchase_order(number: CodePath, rt: RuntimeDep) -> Response:
    """One purchase order as recorded now, with its version as ETag."""
    order = rt.ledger.purchase_order(number)
    return json_response(_view(order), headers={"ETag": f'"{order.version}"'})


@router.post("/{number}/approve", dependencies=[allow("purchasing:write")])
def approve_purchase_order(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep, version: IfMatchDep,
    body: ApproveIn | None = None,
) -> Response:  # fmt: skip
    """Approve: each line's quantity goes in transit on its stock item, atomically."""
    outcome = rt.ledger.approve_purchase_order(
        meta, number=number, expected_version=version,
        effective_at=body.effective_at if body else None, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/receipts", dependencies=[allow("purchasing:receive")])
def receive_purchase_order(
    number: CodePath, body: ReceiptIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Record a goods receipt: quantities move from in transit to physical."""
    lines: dict[int, object] = {}
    for line in body.lines:
        lines[line.line_no] = line.quantity if line.line_no not in lines else None
    if None in lines.values():
        raise ApiError(422, "each line_no may appear once per receipt", "duplicate-line")
    outcome = rt.ledger.receive_purchase_order(
        meta, number=number, lines=lines, receipt_ref=body.receipt_ref,
        expected_version=version, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/cancel", dependencies=[allow("purchasing:write")])
def cancel_purchase_order(
    number: CodePath, body: CancelIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Cancel the order, or the unreceived rest of it."""
    outcome = rt.ledger.cancel_purchase_order(
        meta, number=number, reason=body.reason, expected_version=version,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

"""Stock movements that are not purchase receipts: counts, transfers, production, shipment
issues and safety-stock levels; and one stock item as recorded now."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import IdempotencyDep, IfMatchDep, MetaDep, RuntimeDep, command_response
from api.responses import json_response
from api.routes.models import Body
from api.types import AwareDatetime, Code, CodePath, ExactDecimal

router = APIRouter(tags=["stock"])


class ItemIn(Body):
    sku: Code
    warehouse: Code
    effective_at: AwareDatetime | None = None


class CountIn(ItemIn):
    counted: ExactDecimal
    reason: str = Field(min_length=1, max_length=500)
    count_ref: Code | None = None


class TransferIn(Body):
    sku: Code
    from_warehouse: Code
    to_warehouse: Code
    quantity: ExactDecimal
    transfer_ref: Code | None = None
    effective_at: AwareDatetime | None = None


class TransferReceiptIn(ItemIn):
    quantity: ExactDecimal | None = None


class SafetyLevelIn(ItemIn):
    level: ExactDecimal


class ProductionMoveIn(ItemIn):
    production_ref: Code
    quantity: ExactDecimal


class ShipmentIssueIn(ItemIn):
    order_ref: Code
    shipment_ref: Code
    quantity: ExactDecimal


@router.get("/stock-items/{sku}/{warehouse}", dependencies=[allow("stock:read")])
def get_stock_item(sku: CodePath, warehouse: CodePath, rt: RuntimeDep) -> Response:
    """One SKU in one warehouse as recorded now (strongly consistent), version as ETag."""
    item = rt.ledger.stock_item(sku, warehouse, open_if_missing=False)
    body = {
        "sku": item.sku, "warehouse": item.warehouse, "version": item.version,
        "physical": item.physical, "in_transit": item.in_transit, "locked": item.locked,
        "available": item.available, "safety_stock": item.safety_stock,
        "reservations": dict(item.reservations), "inbound": dict(item.inbound),
    }  # fmt: skip
    return json_response(body, headers={"ETag": f'"{item.version}"'})


@router.post("/stock/counts", dependencies=[allow("stock:write")])
def count_stock(
    body: CountIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """Record a physical count; the difference adjusts physical stock (If-Match: item version)."""
    outcome = rt.ledger.count_stock(
        meta, sku=body.sku, warehouse=body.warehouse, counted=body.counted, reason=body.reason,
        count_ref=body.count_ref, expected_version=version, effective_at=body.effective_at,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/stock/transfers", status_code=201, dependencies=[allow("stock:write")])
def transfer_stock(
    body: TransferIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Send stock to another warehouse: it leaves here and is in transit there, atomically."""
    outcome = rt.ledger.transfer(
        meta, sku=body.sku, from_warehouse=body.from_warehouse, to_warehouse=body.to_warehouse,
        quantity_=body.quantity, transfer_ref=body.transfer_ref, effective_at=body.effective_at,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201)


@router.post("/stock/transfers/{transfer_ref}/receipts", dependencies=[allow("stock:write")])
def receive_transfer(
    transfer_ref: CodePath,
    body: TransferReceiptIn,
    rt: RuntimeDep,
    meta: MetaDep,
    idem: IdempotencyDep,
) -> Response:
    """Land a transfer (or part of it; all that is open when quantity is omitted)."""
    outcome = rt.ledger.receive_transfer(
        meta, sku=body.sku, warehouse=body.warehouse, transfer_ref=transfer_ref,
        quantity_=body.quantity, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/stock/safety-levels", dependencies=[allow("stock:write")])
def set_safety_stock(
    body: SafetyLevelIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Set the safety-stock level of a SKU in a warehouse."""
    outcome = rt.ledger.set_safety_stock(
        meta, sku=body.sku, warehouse=body.warehouse, level=body.level,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/stock/material-issues", dependencies=[allow("stock:write")])
def issue_material(
    body: ProductionMoveIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Issue components to a production order (never out of reserved stock)."""
    outcome = rt.ledger.issue_material(
        meta, sku=body.sku, warehouse=body.warehouse, production_ref=body.production_ref,
        quantity_=body.quantity, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/stock/finished-goods-receipts", dependencies=[allow("stock:write")])
def receive_finished_goods(
    body: ProductionMoveIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Put finished goods from a production order into stock."""
    outcome = rt.ledger.receive_finished_goods(
        meta, sku=body.sku, warehouse=body.warehouse, production_ref=body.production_ref,
        quantity_=body.quantity, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/stock/shipment-issues", dependencies=[allow("stock:write")])
def issue_for_shipment(
    body: ShipmentIssueIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Ship goods out of an order's reservation."""
    outcome = rt.ledger.issue_for_shipment(
        meta, sku=body.sku, warehouse=body.warehouse, order_ref=body.order_ref,
        quantity_=body.quantity, shipment_ref=body.shipment_ref, effective_at=body.effective_at,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

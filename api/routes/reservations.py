"""Reservations: lock stock for an order, or give it back."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import allow
from api.deps import IdempotencyDep, MetaDep, RuntimeDep, command_response
from api.routes.models import Body
from api.types import AwareDatetime, Code, ExactDecimal

router = APIRouter(prefix="/reservations", tags=["reservations"])


class ReserveIn(Body):
    sku: Code
    warehouse: Code
    order_ref: Code
    quantity: ExactDecimal
    effective_at: AwareDatetime | None = None


class ReleaseIn(Body):
    sku: Code
    warehouse: Code
    order_ref: Code
    quantity: ExactDecimal | None = None
    effective_at: AwareDatetime | None = None


@router.post("", dependencies=[allow("stock:write")])
def reserve_stock(body: ReserveIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep) -> Response:
    """Reserve stock for an order; refused (409) beyond what is available."""
    outcome = rt.ledger.reserve(
        meta, sku=body.sku, warehouse=body.warehouse, order_ref=body.order_ref,
        quantity_=body.quantity, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/release", dependencies=[allow("stock:write")])
def release_stock(body: ReleaseIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep) -> Response:
    """Release some (or, without quantity, all) of an order's reservation."""
    outcome = rt.ledger.release(
        meta, sku=body.sku, warehouse=body.warehouse, order_ref=body.order_ref,
        quantity_=body.quantity, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

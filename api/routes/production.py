"""Production orders: made for stock or for a sales order's short line."""

from __future__ import annotations

from decimal import Decimal
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
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import AwareDatetime, Code, CodePath, CodeQuery, ExactDecimal
from projections import queries

router = APIRouter(prefix="/production-orders", tags=["production"])


class ProductionIn(Body):
    number: Code | None = None
    sku: Code
    warehouse: Code
    quantity: ExactDecimal
    effective_at: AwareDatetime | None = None


class MaterialsIn(Body):
    components: dict[Code, ExactDecimal] = Field(min_length=1, max_length=200)
    effective_at: AwareDatetime | None = None


class CompletionIn(Body):
    produced: ExactDecimal | None = None
    effective_at: AwareDatetime | None = None


class QcIn(Body):
    passed: bool
    notes: str = Field("", max_length=2000)
    effective_at: AwareDatetime | None = None


class ReasonIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime | None = None


class WhenIn(Body):
    effective_at: AwareDatetime | None = None


@router.post("", status_code=201, dependencies=[allow("production:write")])
def create_production_order(
    body: ProductionIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Schedule production of a make item for stock."""
    outcome = rt.ledger.create_production_order(
        meta, sku=body.sku, warehouse=body.warehouse, quantity_=body.quantity,
        number=body.number, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/production-orders/{outcome.result['number']}")


@router.get("", dependencies=[allow("production:read")])
def list_production_orders(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Literal[
        "scheduled", "materials_issued", "completed", "qc_passed", "qc_failed", "received",
        "cancelled",
    ] | None = None,
    sales_order: CodeQuery = None,
    after: CodeQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:  # fmt: skip
    """Production orders (read model), by status or by the sales order they are for."""
    wait_for_position(rt, min_position, "production")
    fetch = reader(rt, queries.list_production_orders, status=status, sales_order=sales_order)
    return listing.page("production-orders", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["number"])  # fmt: skip


@router.get("/{number}", dependencies=[allow("production:read")])
def get_production_order(number: CodePath, rt: RuntimeDep) -> Response:
    """One production order as recorded now, with its version as ETag."""
    made = rt.ledger.production_order(number)
    body = {
        "number": made.number, "sku": made.sku, "warehouse": made.warehouse,
        "quantity": made.quantity, "produced": made.produced, "status": made.status,
        "sales_order": made.sales_order, "line_no": made.line_no,
        "materials": made.materials, "version": made.version,
    }  # fmt: skip
    return json_response(to_json_ready(body), headers={"ETag": f'"{made.version}"'})


@router.post("/{number}/materials", dependencies=[allow("production:write")])
def issue_materials(
    number: CodePath, body: MaterialsIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Components leave stock for this production order (available stock only)."""
    outcome = rt.ledger.issue_production_materials(
        meta, number=number, components=dict(body.components),
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/complete", dependencies=[allow("production:write")])
def complete_production(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    body: CompletionIn | None = None,
) -> Response:  # fmt: skip
    """Production finished; `produced` defaults to the planned quantity."""
    produced: Decimal | None = body.produced if body else None
    outcome = rt.ledger.complete_production(
        meta, number=number, produced=produced,
        effective_at=body.effective_at if body else None, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/qc", dependencies=[allow("production:write")])
def record_qc(
    number: CodePath, body: QcIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Quality control's verdict (notes required when it fails)."""
    outcome = rt.ledger.record_production_qc(
        meta, number=number, passed=body.passed, notes=body.notes,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/rework", dependencies=[allow("production:write")])
def rework_production(
    number: CodePath, body: ReasonIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Send goods that failed QC back for rework (then complete and QC again)."""
    outcome = rt.ledger.rework_production(
        meta, number=number, reason=body.reason, effective_at=body.effective_at,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/receive", dependencies=[allow("production:write")])
def receive_production(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    body: WhenIn | None = None,
) -> Response:  # fmt: skip
    """Passed goods into stock, reserved at once for the order line waiting on them."""
    outcome = rt.ledger.receive_production(
        meta, number=number, effective_at=body.effective_at if body else None, idempotency=idem
    )
    return command_response(outcome)


@router.post("/{number}/cancel", dependencies=[allow("production:write")])
def cancel_production(
    number: CodePath, body: ReasonIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Cancel production that has not started."""
    outcome = rt.ledger.cancel_production_order(
        meta, number=number, reason=body.reason, effective_at=body.effective_at,
        idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

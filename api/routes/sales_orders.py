"""Sales orders: take, amend, submit, approve or reject, move, cancel, ship, sign off."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import CustomerScope, allow, require_own, scoped
from api.deps import (
    IdempotencyDep,
    IfMatchDep,
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
from api.types import AwareDatetime, Code, CodePath, CodeQuery, ExactDecimal
from domain.sales_orders import SalesOrder, line_amount
from projections import queries

router = APIRouter(prefix="/sales-orders", tags=["sales orders"])

# Free text in a filter: no control characters (PostgreSQL refuses NUL in text: a 500).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
TextQuery = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]


class OrderLineIn(Body):
    sku: Code
    quantity: ExactDecimal
    unit_price: ExactDecimal
    discount: ExactDecimal = Decimal(0)


class RequirementsIn(Body):
    packaging: str | None = Field(None, max_length=2000)
    craft: str | None = Field(None, max_length=2000)
    carrier: str | None = Field(None, max_length=2000)
    notes: str | None = Field(None, max_length=2000)


class SalesOrderIn(Body):
    number: Code | None = None
    customer: Code
    warehouse: Code
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    requirements: RequirementsIn = Field(default_factory=RequirementsIn)
    requested_delivery: date | None = None
    promised_date: date | None = None
    salesperson: str = Field(min_length=1, max_length=64)
    region: str | None = Field(None, min_length=1, max_length=64)
    channel: Code = "api"
    external_ref: Code | None = None
    effective_at: AwareDatetime | None = None  # when the customer placed it (default: now)


class AmendIn(Body):
    lines: list[OrderLineIn] | None = Field(None, min_length=1, max_length=500)
    requested_delivery: date | None = None
    promised_date: date | None = None
    effective_at: AwareDatetime | None = None


class DecisionIn(Body):
    effective_at: AwareDatetime | None = None


class ApprovalIn(Body):
    comment: str = Field("", max_length=2000)
    effective_at: AwareDatetime | None = None


class RejectionIn(Body):
    comment: str = Field(min_length=1, max_length=2000)
    effective_at: AwareDatetime | None = None


class TransitionIn(Body):
    to_stage: Code
    comment: str = Field("", max_length=2000)
    effective_at: AwareDatetime | None = None


class ShipmentLineIn(Body):
    line_no: int = Field(ge=1, le=500)
    quantity: ExactDecimal


class ShipmentIn(Body):
    shipment_ref: Code | None = None
    lines: list[ShipmentLineIn] = Field(min_length=1, max_length=500)
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=64)
    effective_at: AwareDatetime | None = None


class DeliveryIn(Body):
    signed_by: str = Field(min_length=1, max_length=200)
    proof_ref: str = Field("", max_length=200)
    effective_at: AwareDatetime | None = None


class NoteIn(Body):
    note: str = Field(min_length=1, max_length=2000)


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime | None = None


def _view(order: SalesOrder, costs: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
    """The order; with `costs` (SKU → standard cost now), each line's cost and margin too."""
    lines = [
        {**line, "amount": line_amount(line, order.currency),
         "reserved": order.reserved.get(str(line["line_no"]), Decimal(0)),
         "short": order.short.get(str(line["line_no"]), Decimal(0)),
         "shipped": order.shipped.get(str(line["line_no"]), Decimal(0))}
        for line in order.lines
    ]  # fmt: skip
    margins: dict[str, Any] = {}
    if costs is not None:
        for line in lines:
            line["standard_cost"] = costs[line["sku"]]
            line["margin"] = line["amount"] - costs[line["sku"]] * Decimal(line["quantity"])
        margins["margin"] = sum((line["margin"] for line in lines), Decimal(0))
    return {
        "number": order.number, "customer": order.customer, "warehouse": order.warehouse,
        "status": order.status, "currency": order.currency, "total": order.total,
        **margins,
        "lines": lines,
        "internal_notes": order.internal_notes,
        "shipments": [{"shipment_ref": ref, **sent} for ref, sent in order.shipments.items()],
        "requirements": order.requirements,
        # orjson writes dates as ISO text
        "requested_delivery": order.requested_delivery, "promised_date": order.promised_date,
        "salesperson": order.salesperson, "region": order.region, "channel": order.channel,
        "external_ref": order.external_ref, "version": order.version,
        "stage": order.stage, "stage_role": order.stage_role, "sla_due_at": order.sla_due_at,
        "workflow": {"name": order.workflow, "version": order.workflow_version},
        "approval": {
            "submitted": order.submitted, "levels": order.levels, "approvals": order.approvals,
            "awaiting_role": order.current_level("approve")[1]["role"]
            if order.awaiting_approval else None,
        },
        "credit_hold": order.credit_hold, "credit_release": order.credit_release,
        "production": [{"number": n, **made} for n, made in sorted(order.production.items())],
        "requisitions": [
            {"number": n, "line_no": line} for n, line in sorted(order.requisitions.items())
        ],
        **order.progress(),
    }  # fmt: skip


@router.post("", status_code=201, dependencies=[allow("orders:write")])
def create_sales_order(
    body: SalesOrderIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Take an order; the same channel + external_ref again returns the first order (200)."""
    outcome = rt.ledger.create_sales_order(
        meta, customer=body.customer, warehouse=body.warehouse,
        lines=[line.model_dump() for line in body.lines], currency_code=body.currency,
        salesperson=body.salesperson, region=body.region, channel=body.channel,
        external_ref=body.external_ref, number=body.number,
        requirements=body.requirements.model_dump(exclude_none=True),
        requested_delivery=body.requested_delivery, promised_date=body.promised_date,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    status = 200 if "duplicate_of_external_ref" in outcome.result else 201
    return command_response(outcome, status, f"/sales-orders/{outcome.result['number']}")


@router.get("", dependencies=[allow("orders:read", customers=True)])
def list_sales_orders(
    rt: RuntimeDep,
    scope: CustomerScope,
    listing: ListingDep,
    status: Literal["created", "approved", "partially_shipped", "shipped", "delivered", "cancelled"]
    | None = None,
    stage: CodeQuery = None,
    customer: CodeQuery = None,
    salesperson: TextQuery = None,
    region: TextQuery = None,
    ordered_from: Annotated[date | None, Query(description="Recorded on or after this day")] = None,
    ordered_to: Annotated[date | None, Query(description="Recorded on or before this day")] = None,
    search: Annotated[
        str | None,
        Query(max_length=64, pattern=PRINTABLE, description="Part of the number or customer code"),
    ] = None,
    after: CodeQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """List orders (from the orders read model), by status, stage, customer, salesperson,
    region, day taken (UTC) or a piece of the number or customer code; each with its stage,
    SLA due time and shipped/delivered percentages."""
    wait_for_position(rt, min_position, "orders")
    fetch = reader(rt, queries.list_sales_orders, status=status, customer=scoped(scope, customer),
                   salesperson=salesperson, stage=stage, region=region,
                   ordered_from=ordered_from, ordered_to=ordered_to, search=search)  # fmt: skip
    return listing.page("sales-orders", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["number"])  # fmt: skip


@router.get("/{number}/timeline", dependencies=[allow("orders:read", customers=True)])
def sales_order_timeline(
    number: CodePath, rt: RuntimeDep, scope: CustomerScope, min_position: MinPosition = None
) -> Response:
    """Every event of the order: stage before → after, status, who (actor and role), when,
    and time spent in the stage left; with the current stage, how long the order has been in
    it, its SLA, and the total time spent in each stage it has left."""
    if scope is not None:
        owner = rt.ledger.sales_order(number).customer
        require_own(scope, owner, f"no timeline for sales order {number!r}")
    wait_for_position(rt, min_position, "orders")
    with rt.store.read() as cur:
        rows = queries.order_timeline(cur, number)
        current = queries.order_stages(cur, number, rows, datetime.now(UTC))
    if not rows or current is None:
        raise ApiError(404, f"no timeline for sales order {number!r}", "not-found")
    body = {"number": number, "current": to_json_ready(current)}
    return json_response({**body, "items": [to_json_ready(r) for r in rows]})


@router.get("/{number}/status", dependencies=[allow("orders:read", customers=True)])
def sales_order_status(
    number: CodePath, rt: RuntimeDep, scope: CustomerScope, min_position: MinPosition = None
) -> Response:
    """Where the order stands, for sales and for the customer: stage, promised date,
    shipped/delivered percentages, shipments with tracking, and the stage history (from the
    timeline: pass `min_position` to see it include a change just made)."""
    wait_for_position(rt, min_position, "orders")
    order = rt.ledger.sales_order(number)
    require_own(scope, order.customer, f"sales order {number!r} not found")
    flow = rt.ledger.workflow_definition(order.workflow).workflow(order.workflow_version)
    with rt.store.read() as cur:
        history = [
            {"stage": row["to_stage"], "from_stage": row["from_stage"],
             "at": row["recorded_at"], "actor": row["actor"],
             "seconds_in_previous_stage": row["seconds_in_previous_stage"]}
            for row in queries.order_timeline(cur, number)
            if row["kind"] in ("Created", "StageChanged")
        ]  # fmt: skip
    view = {
        "number": order.number, "customer": order.customer, "status": order.status,
        "stage": order.stage, "stage_label": flow.stage(order.stage)["label"],
        "promised_date": order.promised_date, "requested_delivery": order.requested_delivery,
        **order.progress(),
        "credit_hold": order.credit_hold, "credit_release": order.credit_release,
        "shipments": [
            {"shipment_ref": ref, "carrier": sent["carrier"],
             "tracking_number": sent["tracking_number"], "shipped_at": sent["shipped_at"],
             "delivered": sent["delivered"]}
            for ref, sent in order.shipments.items()
        ],
        "history": [to_json_ready(step) for step in history],
    }  # fmt: skip
    return json_response(view, headers={"ETag": f'"{order.version}"'})


@router.get("/{number}", dependencies=[allow("orders:read", customers=True)])
def get_sales_order(number: CodePath, rt: RuntimeDep, scope: CustomerScope) -> Response:
    """One order as recorded now: lines with reserved and short quantities; version as ETag."""
    order = rt.ledger.sales_order(number)
    require_own(scope, order.customer, f"sales order {number!r} not found")
    # Margin at today's standard costs (shown only to roles holding fields:cost).
    costs = {line["sku"]: rt.ledger.product(line["sku"]).standard_cost for line in order.lines}
    return json_response(_view(order, costs), headers={"ETag": f'"{order.version}"'})


@router.post("/{number}/amend", dependencies=[allow("orders:write")])
def amend_sales_order(
    number: CodePath, body: AmendIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Change lines or dates; an approved order releases its stock and awaits approval again."""
    outcome = rt.ledger.amend_sales_order(
        meta, number=number,
        lines=None if body.lines is None else [line.model_dump() for line in body.lines],
        requested_delivery=body.requested_delivery, promised_date=body.promised_date,
        expected_version=version, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/submit", dependencies=[allow("orders:write")])
def submit_sales_order(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep, version: IfMatchDep,
    body: DecisionIn | None = None,
) -> Response:  # fmt: skip
    """Send for approval: the approval rules decide the levels; with none, the order is
    approved at once and every line reserved in full or routed to production/purchase."""
    outcome = rt.ledger.submit_sales_order(
        meta, number=number, expected_version=version,
        effective_at=body.effective_at if body else None, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/approve", dependencies=[allow("orders:approve")])
def approve_sales_order(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep, version: IfMatchDep,
    body: ApprovalIn | None = None,
) -> Response:  # fmt: skip
    """Approve the level waiting on the caller's role; the last level reserves
    every line in full or routes it, atomically."""
    outcome = rt.ledger.approve_sales_order(
        meta, number=number, comment=body.comment if body else "", expected_version=version,
        effective_at=body.effective_at if body else None, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/reject", dependencies=[allow("orders:approve")])
def reject_sales_order(
    number: CodePath, body: RejectionIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Send the order back to its salesperson with a comment."""
    outcome = rt.ledger.reject_sales_order(
        meta, number=number, comment=body.comment, expected_version=version,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/transitions", dependencies=[allow("orders:transition")])
def transition_sales_order(
    number: CodePath, body: TransitionIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Move the order by hand along a manual transition of its workflow (e.g. delivered →
    completed), as one of the transition's roles."""
    outcome = rt.ledger.transition_sales_order(
        meta, number=number, to_stage=body.to_stage, comment=body.comment,
        expected_version=version, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/internal-notes", status_code=201, dependencies=[allow("orders:write")])
def add_internal_note(number: CodePath, body: NoteIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """A remark for staff only: shown with the order to roles holding `fields:internal`,
    never to a customer."""
    return command_response(rt.ledger.add_internal_note(meta, number=number, note=body.note), 201)


@router.post("/{number}/cancel", dependencies=[allow("orders:write")])
def cancel_sales_order(
    number: CodePath, body: CancelIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Cancel before shipment; every reservation is released in the same save."""
    outcome = rt.ledger.cancel_sales_order(
        meta, number=number, reason=body.reason, expected_version=version,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)


@router.post("/{number}/reserve-shortages", dependencies=[allow("orders:write")])
def reserve_shortages(
    number: CodePath, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    body: DecisionIn | None = None,
) -> Response:  # fmt: skip
    """Reserve the order's short lines that stock now covers (409 if none is covered yet)."""
    outcome = rt.ledger.reserve_shortages(
        meta, number=number, effective_at=body.effective_at if body else None, idempotency=idem
    )
    return command_response(outcome)


@router.post("/{number}/shipments", status_code=201, dependencies=[allow("orders:ship")])
def ship_sales_order(
    number: CodePath, body: ShipmentIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:  # fmt: skip
    """Ship (part of) the order with carrier and tracking number, out of its reservation."""
    lines: dict[int, object] = {}
    for line in body.lines:
        if line.line_no in lines:
            raise ApiError(422, "each line_no may appear once per shipment", "duplicate-line")
        lines[line.line_no] = line.quantity
    outcome = rt.ledger.ship_sales_order(
        meta, number=number, lines=lines, carrier=body.carrier,
        tracking_number=body.tracking_number, shipment_ref=body.shipment_ref,
        expected_version=version, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201)


@router.post("/{number}/shipments/{shipment_ref}/delivery", dependencies=[allow("orders:ship")])
def confirm_delivery(
    number: CodePath, shipment_ref: CodePath, body: DeliveryIn, rt: RuntimeDep, meta: MetaDep,
    idem: IdempotencyDep,
) -> Response:  # fmt: skip
    """Record the customer's sign-off for a shipment (who signed, proof reference, when)."""
    outcome = rt.ledger.confirm_delivery(
        meta, number=number, shipment_ref=shipment_ref, signed_by=body.signed_by,
        proof_ref=body.proof_ref, effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

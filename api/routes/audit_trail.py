"""Read-only audit questions: who did what (`/audit/trail`), why a figure is what it is
(`/audit/explain/…`), what changed between two moments (`/audit/diff`), and a stock item
effective at a business time (`/audit/effective/stock-items/…`).

Every figure is read from a replay by the live projection code; an explanation that does not
add up to it is refused (`explanation-mismatch`), never shown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import RuntimeDep, to_json_ready
from api.responses import json_response
from api.routes.replay import AtQuery, PositionQuery, _moment, _scratch
from api.types import AwareDatetime, CodePath
from domain.exceptions import InvalidInput
from replay import diff as diffs
from replay import explain as explanations
from replay import trail as trails
from replay.effective import stock_item_effective
from replay.moments import at_position, at_time

router = APIRouter(prefix="/audit", tags=["audit"])
TimeQuery = Annotated[AwareDatetime | None, Query(description="Recorded time, with offset")]


def _ready(report: dict[str, Any]) -> dict[str, Any]:
    ready = {key: to_json_ready(value) if isinstance(value, dict) else value
             for key, value in report.items()}  # fmt: skip
    ready["lines"] = [to_json_ready(line) for line in report["lines"]]
    return to_json_ready(ready)


TRAIL_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No aggregate is known by the name given in `aggregate`"}
}


@router.get("/trail", responses=TRAIL_REFUSALS, dependencies=[allow("audit:read")])
def audit_trail(
    rt: RuntimeDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    aggregate: Annotated[str | None, Query(max_length=200, description=(
        "A type (SalesOrder), a key (SO-1, SKU-1@WH1, INV-…), or TYPE:KEY"))] = None,
    type: Annotated[list[str] | None, Query(description="Event types (SalesOrder.Shipped)")] = None,
    from_position: PositionQuery = None, to_position: PositionQuery = None,
    from_time: TimeQuery = None, to_time: TimeQuery = None,
    after: Annotated[int, Query(ge=0, description="Cursor: the `next` of the last page")] = 0,
    limit: Annotated[int, Query(ge=1, le=trails.MAX_LIMIT)] = 100,
) -> Response:  # fmt: skip
    """Who did what, when: stored events filtered by actor, role, aggregate, type and range."""
    found = trails.resolve_filter(
        rt.ledger, now=datetime.now(UTC), actor=actor, role=role, aggregate=aggregate,
        types=type, from_position=from_position, to_position=to_position,
        from_time=from_time, to_time=to_time,
    )  # fmt: skip
    result = trails.page(rt.ledger, found, after=after, limit=limit)
    result["entries"] = [to_json_ready(e) for e in result["entries"]]
    return json_response(result)


@router.get("/explain/inventory/{sku}/{warehouse}", dependencies=[allow("audit:read")])
def explain_inventory(
    sku: CodePath, warehouse: CodePath, rt: RuntimeDep, position: PositionQuery = None,
    at: AtQuery = None, figure: str = "available",
    effective: Annotated[AwareDatetime | None, Query(
        description="Only movements effective by then")] = None,
) -> Response:  # fmt: skip
    """One figure of one SKU × warehouse, movement by movement, as known at a moment."""
    report = explanations.explain_inventory(
        rt.ledger, _scratch(rt), _moment(rt, position, at), sku, warehouse, figure=figure,
        effective=effective,
    )  # fmt: skip
    return json_response(_ready(report))


@router.get("/explain/invoices/{number}", dependencies=[allow("audit:read")])
def explain_invoice(
    number: CodePath, rt: RuntimeDep, position: PositionQuery = None, at: AtQuery = None,
    as_of: Annotated[date | None, Query(description="Business day (default: the moment's)")] = (
        None),
) -> Response:  # fmt: skip
    """What one invoice still owed, as its total less each payment, credit and write-off."""
    report = explanations.explain_invoice(
        rt.ledger, _scratch(rt), _moment(rt, position, at), number, as_of=as_of
    )
    return json_response(_ready(report))


@router.get("/explain/sales-orders/{number}", dependencies=[allow("audit:read")])
def explain_sales_order(
    number: CodePath, rt: RuntimeDep, position: PositionQuery = None, at: AtQuery = None
) -> Response:
    """A sales order's status and stage at a moment, event by event."""
    report = explanations.explain_order(rt.ledger, _scratch(rt), _moment(rt, position, at), number)
    return json_response(_ready(report))


@router.get("/diff", dependencies=[allow("audit:read")])
def diff(
    rt: RuntimeDep,
    from_position: PositionQuery = None, to_position: PositionQuery = None,
    from_time: TimeQuery = None, to_time: TimeQuery = None,
    model: Annotated[list[str] | None, Query(description="inventory, orders, receivables")] = (
        None),
) -> Response:  # fmt: skip
    """What changed from one moment to a later one, per SKU × warehouse, order and invoice."""
    now = datetime.now(UTC)
    a = _point(rt, from_position, from_time, now, "from")
    b = _point(rt, to_position, to_time, now, "to")
    models = tuple(model) if model else diffs.MODELS
    return json_response(to_json_ready(diffs.diff(rt.ledger, _scratch(rt), a, b, models=models)))


def _point(rt: Any, position: int | None, when: datetime | None, now: datetime, what: str) -> Any:
    if (position is None) == (when is None):
        raise InvalidInput(f"give {what}_position or {what}_time (one of them)", rule="two-moments")
    if position is not None:
        return at_position(rt.ledger, position)
    assert when is not None
    return at_time(rt.ledger, when, now)


@router.get("/effective/stock-items/{sku}/{warehouse}", dependencies=[allow("audit:read")])
def stock_item_effective_at(
    sku: CodePath, warehouse: CodePath, rt: RuntimeDep,
    effective: Annotated[AwareDatetime, Query(description="Business time, with offset")],
    position: PositionQuery = None, at: AtQuery = None,
) -> Response:  # fmt: skip
    """A stock item effective at a business time as known at a moment (bitemporal)."""
    report = stock_item_effective(rt.ledger, _moment(rt, position, at), sku, warehouse, effective)
    return json_response(to_json_ready(report))

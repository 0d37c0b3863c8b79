"""Read-only audit views: read models and aggregates as of a past moment (`/audit/as-of`).

A moment is a log position (`position`, 1 … head) or a recorded time (`at`, with offset);
neither means the log as it is now. Each answer is replayed by the live projection code
into a scratch store that is removed afterwards, and says which moment it answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from starlette.responses import Response

from api.auth import allow
from api.deps import RuntimeDep, to_json_ready
from api.responses import json_response
from api.routes.sales_orders import _view as sales_order_view
from api.runtime import Runtime
from api.types import CodePath, CodeQuery
from replay import answers
from replay.moments import Moment, resolve
from replay.scratch import ScratchFactory, scratch_factory

router = APIRouter(prefix="/audit/as-of", tags=["audit"])

PositionQuery = Annotated[int | None, Query(description="Log position, 1 … head")]
AtQuery = Annotated[
    AwareDatetime | None, Query(description="Recorded time (as known then), with offset")
]


def _moment(rt: Runtime, position: int | None, at: datetime | None) -> Moment:
    return resolve(rt.ledger, position=position, at=at, now=datetime.now(UTC))


def _scratch(rt: Runtime) -> ScratchFactory:
    settings = rt.settings
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


def _ready(report: dict[str, Any], *lists: str) -> dict[str, Any]:
    ready = {**report, "moment": to_json_ready(report["moment"])}
    for name in lists:
        ready[name] = [to_json_ready(row) for row in report[name]]
    return ready


@router.get("/inventory", dependencies=[allow("audit:read")])
def inventory_as_of(
    rt: RuntimeDep,
    position: PositionQuery = None,
    at: AtQuery = None,
    effective: Annotated[
        AwareDatetime | None, Query(description="Only movements effective by then")
    ] = None,
    sku: CodeQuery = None,
) -> Response:
    """Inventory per SKU × warehouse as known at a moment; with `effective`, bitemporally:
    the movements known by then that had taken effect by `effective`."""
    moment = _moment(rt, position, at)
    report = answers.inventory_as_of(
        rt.ledger, _scratch(rt), moment, effective=effective, sku=sku, checkpoints=rt.checkpoints
    )
    return json_response(_ready(report, "items"))


@router.get("/ageing", dependencies=[allow("audit:read")])
def ageing_as_of(
    rt: RuntimeDep,
    position: PositionQuery = None,
    at: AtQuery = None,
    as_of: Annotated[date | None, Query(description="Business day (default: the moment's)")] = None,
    customer: CodeQuery = None,
) -> Response:
    """AR ageing for a business day, as the receivables stood at a moment."""
    moment = _moment(rt, position, at)
    report = answers.ageing_as_of(
        rt.ledger, _scratch(rt), moment, as_of=as_of, customer=customer, checkpoints=rt.checkpoints
    )
    return json_response(_ready(report))


@router.get("/sales-orders/{number}", dependencies=[allow("audit:read")])
def sales_order_as_of(
    number: CodePath, rt: RuntimeDep, position: PositionQuery = None, at: AtQuery = None
) -> Response:
    """One sales order as it was at a moment: the aggregate at the version it had then."""
    moment = _moment(rt, position, at)
    order = answers.sales_order_as_of(rt.ledger, moment, number)
    body = {"moment": to_json_ready(moment.as_dict()), "order": sales_order_view(order)}
    return json_response(body, headers={"ETag": f'"{order.version}"'})

"""SLA: orders late in their stage, and those about to be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.responses import json_response
from projections import queries

router = APIRouter(prefix="/sla", tags=["sla"])


@router.get("/orders", dependencies=[allow("process:read")])
def sla_orders(
    rt: RuntimeDep,
    state: Literal["late", "at_risk", "all"] = "all",
    within_hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    min_position: MinPosition = None,
) -> Response:
    """The "at risk / late" list: orders past their stage's SLA (most overdue first), and
    those due within `within_hours`, with the responsible role and whether the breach has
    been recorded (and the role alerted)."""
    wait_for_position(rt, min_position, "orders")
    now = datetime.now(UTC)
    with rt.store.read() as cur:
        rows = queries.sla_orders(
            cur, now=now, at_risk_within=timedelta(hours=within_hours), limit=limit
        )
    items = [r for r in rows if state == "all" or r["sla_state"] == state]
    return json_response({"as_of": now, "items": [to_json_ready(r) for r in items]})


@router.post("/scan", dependencies=[allow("process:write")])
def scan(rt: RuntimeDep) -> Response:
    """Run the SLA monitor now (it also runs every `sla_scan_seconds`)."""
    result = rt.sla.scan()
    body = {"due": result.due, "recorded": result.recorded, "seconds": result.seconds}
    head = rt.ledger.head()
    return json_response({**body, "position": head}, headers={"X-Log-Position": str(head)})

"""Shareable tracking links: an order's tracking page for someone without a sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.access import now
from api.auth import allow
from api.deps import RuntimeDep
from api.responses import json_response
from api.tracking_links import issue
from api.types import CodePath

router = APIRouter(prefix="/sales-orders", tags=["sales orders"])


@router.post("/{number}/tracking-link", dependencies=[allow("orders:read")])
def share_tracking_link(number: CodePath, request: Request, rt: RuntimeDep) -> Response:
    """A signed link to the order's read-only tracking page (stage, promised date,
    shipments, history; never costs or notes) that opens without signing in, for this
    order only, until `expires_at` (`ORDERLEDGER_TRACKING_LINK_DAYS`). Nothing is stored."""
    order = rt.ledger.sales_order(number)  # an unknown order is a 404, as everywhere
    link = issue(rt.access, order.number, now(), rt.settings.tracking_link_days)
    path = f"/console/track/{order.number}?link={link.token}"
    body = {
        "number": order.number,
        "path": path,
        "url": str(request.base_url).rstrip("/") + path,
        "expires_at": link.expires_at,
    }
    return json_response(body, headers={"Cache-Control": "no-store"})

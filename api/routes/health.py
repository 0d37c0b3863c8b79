"""Health and projection status."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import allow
from api.deps import RuntimeDep
from api.responses import json_response
from domain.permissions import PUBLIC

router = APIRouter(tags=["operations"])


@router.get("/healthz", dependencies=[allow(PUBLIC)])
def health(rt: RuntimeDep) -> Response:
    """Is the event store reachable, and how far behind is each projection?"""
    try:
        head = rt.ledger.head()
        projections = [
            {"name": s.name, "position": s.position, "lag": s.lag} for s in rt.runner.status()
        ]
    except Exception as error:  # the store is down: say so, do not crash the probe
        down = {"status": "unavailable", "detail": type(error).__name__}
        return json_response(down, status=503)
    failure = rt.runner.last_error
    body: dict[str, object] = {
        "status": "degraded" if failure else "ok",
        "store": "postgresql" if rt.settings.is_postgres else "sqlite",
        "head": head,
        "projections": projections,
        "projection_error": repr(failure) if failure else None,
    }
    return json_response(body)

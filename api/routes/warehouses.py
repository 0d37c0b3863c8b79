"""Warehouses."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    IdempotencyDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    wait_for_position,
)
from api.responses import json_response
from api.routes.models import Body
from api.types import Code
from projections import queries

router = APIRouter(prefix="/warehouses", tags=["warehouses"])


class WarehouseIn(Body):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=500)


@router.post("", status_code=201, dependencies=[allow("catalog:write")])
def register_warehouse(
    body: WarehouseIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Register a warehouse."""
    outcome = rt.ledger.register_warehouse(
        meta, code_=body.code, name=body.name, address=body.address, idempotency=idem
    )
    return command_response(outcome, 201, f"/warehouses/{body.code}")


@router.get("", dependencies=[allow("catalog:read")])
def list_warehouses(rt: RuntimeDep, min_position: MinPosition = None) -> Response:
    """List every warehouse."""
    wait_for_position(rt, min_position, "catalog")
    with rt.store.read() as cur:
        return json_response({"items": queries.list_warehouses(cur)})

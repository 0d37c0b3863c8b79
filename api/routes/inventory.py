"""Inventory queries on the read model: the four dimensions, movements, alerts, requisitions."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.runtime import Runtime
from api.types import MAX_POSITION, CodePath, CodeQuery
from projections import queries

router = APIRouter(tags=["inventory"])

Limit = Annotated[int, Query(ge=1, le=500)]


def _encode(key: list[str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def _decode(cursor: str) -> tuple[str, str]:
    try:
        sku, warehouse = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(sku), str(warehouse)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ApiError(422, "cursor is not one this API returned", "invalid-cursor") from None


@router.get("/inventory", dependencies=[allow("stock:read")])
def list_inventory(
    rt: RuntimeDep,
    listing: ListingDep,
    warehouse: CodeQuery = None,
    sku_prefix: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._\-]*$")] = None,
    below_safety: bool | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Every SKU × warehouse: physical, in transit, locked, available, projected, safety."""
    wait_for_position(rt, min_position, "inventory")
    after = _decode(cursor) if cursor else None
    fetch = reader(rt, queries.list_inventory, warehouse=warehouse, sku_prefix=sku_prefix,
                   below_safety=below_safety)  # fmt: skip
    return listing.page("inventory", fetch, after=after, limit=limit,
                        cursor_of=lambda row: (row["sku"], row["warehouse"]),
                        encode=lambda key: _encode(list(key)))  # fmt: skip


@router.get("/inventory/{sku}", dependencies=[allow("stock:read")])
def sku_inventory(sku: CodePath, rt: RuntimeDep, min_position: MinPosition = None) -> Response:
    """One SKU across warehouses, with totals."""
    wait_for_position(rt, min_position, "inventory")
    with rt.store.read() as cur:
        found = queries.sku_inventory(cur, sku)
    if found is None:
        raise ApiError(404, f"no inventory for SKU {sku!r}", "not-found")
    found["warehouses"] = [to_json_ready(r) for r in found["warehouses"]]
    return json_response(found)


@router.get("/inventory/{sku}/{warehouse}/movements", dependencies=[allow("stock:read")])
def stock_movements(
    sku: CodePath,
    warehouse: CodePath,
    rt: RuntimeDep,
    listing: ListingDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Cursor: last position seen")
    ] = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """The movement ledger of one item: each movement with running balances."""
    wait_for_position(rt, min_position, "inventory")
    fetch = reader(rt, queries.movements, sku=sku, warehouse=warehouse)
    return listing.page("movements", fetch, after=after, limit=limit,
                        cursor_of=lambda row: row["position"])  # fmt: skip


@router.get("/safety-alerts", dependencies=[allow("stock:read")])
def safety_alerts(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Literal["open", "cleared"] | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Items whose projected stock fell below safety stock, and what was requisitioned."""
    wait_for_position(rt, min_position, "safety_stock")
    return listing.whole("safety-alerts", lambda: _items(rt, queries.list_safety_alerts, status))


@router.get("/purchase-requisitions", dependencies=[allow("stock:read")])
def purchase_requisitions(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Literal["open", "closed"] | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Requests to purchase, raised automatically for safety-stock gaps."""
    wait_for_position(rt, min_position, "purchasing")
    return listing.whole(
        "purchase-requisitions", lambda: _items(rt, queries.list_requisitions, status)
    )


def _items(rt: Runtime, query: Callable[..., list[dict[str, Any]]], status: str | None
           ) -> dict[str, Any]:  # fmt: skip
    with rt.store.read() as cur:
        return {"items": [to_json_ready(r) for r in query(cur, status=status)]}

"""Products: the SKU master."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    IdempotencyDep,
    IfMatchDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    wait_for_position,
)
from api.exports import ListingDep, reader
from api.responses import json_response
from api.routes.models import Body
from api.types import CODE_PATTERN, Code, CodePath, ExactDecimal
from projections import queries

router = APIRouter(prefix="/products", tags=["products"])


class ProductIn(Body):
    sku: Code
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field("pcs", min_length=1, max_length=16)
    make_or_buy: Literal["make", "buy"]
    standard: bool = True
    list_price: ExactDecimal
    standard_cost: ExactDecimal
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")


class RepriceIn(Body):
    list_price: ExactDecimal
    standard_cost: ExactDecimal


@router.post("", status_code=201, dependencies=[allow("catalog:write")])
def register_product(
    body: ProductIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Register a SKU in the product master."""
    outcome = rt.ledger.register_product(
        meta, sku=body.sku, name=body.name, unit=body.unit, make_or_buy=body.make_or_buy,
        standard=body.standard, list_price=body.list_price, standard_cost=body.standard_cost,
        currency_code=body.currency, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201, f"/products/{body.sku}")


@router.get("", dependencies=[allow("catalog:read")])
def list_products(
    rt: RuntimeDep,
    listing: ListingDep,
    after: Annotated[
        str | None,
        Query(
            max_length=64, pattern=CODE_PATTERN, description="Cursor: last SKU of the previous page"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """List products in SKU order, a page at a time."""
    wait_for_position(rt, min_position, "catalog")
    return listing.page("products", reader(rt, queries.list_products), after=after, limit=limit,
                        cursor_of=lambda row: row["sku"])  # fmt: skip


@router.get("/{sku}", dependencies=[allow("catalog:read")])
def get_product(sku: CodePath, rt: RuntimeDep) -> Response:
    """One product as recorded now, with its version as ETag."""
    product = rt.ledger.product(sku)
    body = {
        "sku": product.sku, "name": product.name, "unit": product.unit,
        "make_or_buy": product.make_or_buy, "standard": product.standard,
        "list_price": product.list_price, "standard_cost": product.standard_cost,
        "currency": product.currency, "version": product.version,
    }  # fmt: skip
    return json_response(body, headers={"ETag": f'"{product.version}"'})


@router.post("/{sku}/reprice", dependencies=[allow("catalog:write")])
def reprice_product(
    sku: CodePath,
    body: RepriceIn,
    rt: RuntimeDep,
    meta: MetaDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:
    """Change a product's list price and standard cost."""
    outcome = rt.ledger.reprice_product(
        meta, sku=sku, list_price=body.list_price, standard_cost=body.standard_cost,
        expected_version=version, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome)

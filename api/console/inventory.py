"""The inventory pages: every SKU × warehouse in four dimensions, and one SKU whole.

The list applies the API's own filters (`GET /inventory`: warehouse, SKU prefix, below
safety) in the same (SKU, warehouse) order, a page of at most 100 rows at a time either way
from a key, so its export links are the API's CSV and XLSX of exactly that list. A SKU's
page shows it per warehouse (`GET /inventory/{sku}`), its movements in every warehouse
newest first, and its safety-stock alerts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.console import amounts
from api.console.web import PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from api.types import CODE_PATTERN, CodePath
from projections import queries, stock_queries
from projections.stock_queries import Key

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_ROWS = 100
MOVEMENT_ROWS = 50
ALERT_ROWS = 20
DIMENSIONS = ("physical", "in_transit", "locked", "available")
Text = Annotated[str | None, Query(max_length=200)]
_CODE = re.compile(CODE_PATTERN)
_PREFIX = re.compile(r"^[A-Za-z0-9._\-]+$")


@router.get("/inventory")
def inventory_page(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("stock:read")],
    warehouse: Text = None,
    sku: Text = None,
    below: Text = None,
    after: Text = None,
    before: Text = None,
) -> Response:
    """Every SKU × warehouse: physical, in transit, locked, available; below safety marked."""
    t = viewer.t
    problems: list[str] = []
    chosen = _code(warehouse)
    if warehouse and chosen is None:
        problems.append(t("Not a warehouse code: {value}", value=warehouse))
    prefix = sku.strip() if sku and sku.strip() else None
    if prefix is not None and not _PREFIX.match(prefix):
        problems.append(t("A SKU has only letters, digits, dots, dashes and underscores."))
        prefix = None
    below_only = below in ("1", "on", "true")
    with rt.store.read() as cur:
        rows, earlier, later = stock_queries.inventory_page(
            cur, warehouse=chosen, sku_prefix=prefix, below_safety=below_only,
            after=_key(after), before=_key(before), limit=PAGE_ROWS,
        )  # fmt: skip
        warehouses = stock_queries.warehouse_codes(cur)
    filters = {"warehouse": chosen, "sku": prefix, "below": "1" if below_only else None}
    api = {"warehouse": chosen, "sku_prefix": prefix,
           "below_safety": "true" if below_only else None}  # fmt: skip
    return render(
        viewer, "inventory/list.html", rows=rows, show=amounts, warehouses=warehouses,
        filters=filters, problems=problems, totals=_totals(rows),
        previous=_link("/console/inventory", filters, before=_key_text(rows[0])) if earlier
        else None,
        next=_link("/console/inventory", filters, after=_key_text(rows[-1])) if later else None,
        exports={kind: _link("/inventory", api, format=kind) for kind in ("csv", "xlsx")},
    )  # fmt: skip


@router.get("/inventory/{sku}")
def sku_page(
    sku: CodePath,
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("stock:read")],
    warehouse: Text = None,
    before: Annotated[int | None, Query(ge=0)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """One SKU per warehouse, its movements newest first, and its safety alerts."""
    t = viewer.t
    chosen = _code(warehouse)
    with rt.store.read() as cur:
        found = queries.sku_inventory(cur, sku)
        if found is None:
            raise PageRefused(404, t("Not found"), t("No stock of SKU {sku}.", sku=sku))
        moves, newer, older = stock_queries.sku_movements(
            cur, sku, warehouse=chosen, before=before, after=after, limit=MOVEMENT_ROWS
        )
        alerts = stock_queries.sku_alerts(cur, sku, limit=ALERT_ROWS)
        product = stock_queries.product(cur, sku)
    here = f"/console/inventory/{sku}"
    filters = {"warehouse": chosen}
    return render(
        viewer, "inventory/sku.html", sku=sku, items=found["warehouses"], total=found["total"],
        moves=moves, alerts=alerts, show=amounts, filters=filters, product=product,
        newer=_link(here, filters, after=str(moves[0]["position"])) if newer and moves
        else None,
        older=_link(here, filters, before=str(moves[-1]["position"])) if older and moves
        else None,
        exports={row["warehouse"]: {kind: _link(f"/inventory/{sku}/{row['warehouse']}/movements",
                                                {}, format=kind) for kind in ("csv", "xlsx")}
                 for row in found["warehouses"]},
    )  # fmt: skip


def _code(value: str | None) -> str | None:
    value = value.strip() if value else None
    return value if value and len(value) <= 64 and _CODE.match(value) else None


def _key(value: str | None) -> Key | None:
    """A page's edge as the links write it: SKU/warehouse (neither holds a slash)."""
    if not value or value.count("/") != 1:
        return None
    sku, warehouse = value.split("/")
    return (sku, warehouse) if _code(sku) and _code(warehouse) else None


def _key_text(row: dict[str, Any]) -> str:
    return f"{row['sku']}/{row['warehouse']}"


def _link(path: str, filters: Mapping[str, str | None], **more: str) -> str:
    query = {name: value for name, value in {**filters, **more}.items() if value}
    return f"{path}?{urlencode(query)}" if query else path


def _totals(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {name: sum((row[name] for row in rows), Decimal(0)) for name in DIMENSIONS}

"""The inventory pages' questions: a page of items either way from a key, a SKU's movements
in every warehouse newest first, and its safety alerts. Every answer is one indexed range
read with a LIMIT, whatever the number of items or movements."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.queries import DIMENSIONS, ITEM_FIELDS
from projections.store import Cursor

Key = tuple[str, str]  # (sku, warehouse)
MOVEMENT_FIELDS = (
    "position, sku, warehouse, kind, document_type, document_ref, quantity, d_physical,"
    " d_in_transit, d_locked, available_after, note, effective_at, recorded_at, actor"
)
MOVEMENT_AMOUNTS = ("quantity", "d_physical", "d_in_transit", "d_locked", "available_after")
ALERT_FIELDS = (
    "sku, warehouse, safety_stock, projected, gap, status, requisition_number, raised_position,"
    " raised_at, cleared_position, cleared_at"
)


def _item(row: dict[str, Any]) -> dict[str, Any]:
    for name in DIMENSIONS:
        row[name] = Decimal(row[name])
    row["below_safety"] = bool(row["below_safety"])
    return row


def _filters(
    warehouse: str | None, sku_prefix: str | None, below_safety: bool
) -> tuple[list[str], list[Any]]:
    """The API's list filters (`queries.list_inventory`), written the same way."""
    where: list[str] = []
    params: list[Any] = []
    if warehouse:
        where.append("warehouse = ?")
        params.append(warehouse)
    if sku_prefix:
        where.append("substr(sku, 1, ?) = ?")  # literal and case-sensitive on both stores
        params += [len(sku_prefix), sku_prefix]
    if below_safety:
        where.append("below_safety = ?")
        params.append(True)
    return where, params


def inventory_page(
    cur: Cursor,
    *,
    warehouse: str | None,
    sku_prefix: str | None,
    below_safety: bool,
    after: Key | None = None,
    before: Key | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, bool]:
    """Up to `limit` items in (sku, warehouse) order, after `after` or else just before
    `before`; with whether rows come before the page and after it under the same filters."""
    where, params = _filters(warehouse, sku_prefix, below_safety)
    backwards = before is not None and after is None
    edge = before if backwards else after
    rows = _read(cur, where, params, edge, backwards, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards and not rows:  # nothing before that key (any more): the first page
        return inventory_page(cur, warehouse=warehouse, sku_prefix=sku_prefix,
                              below_safety=below_safety, limit=limit)  # fmt: skip
    if backwards:
        rows.reverse()
        earlier, later = more, True
    else:
        earlier = bool(rows) and _exists(cur, where, params, (rows[0]["sku"], rows[0]["warehouse"]))
        later = more
    return [_item(row) for row in rows], earlier, later


def _read(
    cur: Cursor, where: list[str], params: list[Any], edge: Key | None, backwards: bool,
    limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    where, params = list(where), list(params)
    if edge is not None:
        side = "<" if backwards else ">"
        where.append(f"(sku {side} ? OR (sku = ? AND warehouse {side} ?))")
        params += [edge[0], edge[0], edge[1]]
    order = "sku DESC, warehouse DESC" if backwards else "sku, warehouse"
    sql = f"SELECT {ITEM_FIELDS} FROM inventory_items"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return cur.execute(f"{sql} ORDER BY {order} LIMIT ?", [*params, limit]).fetchdicts()


def _exists(cur: Cursor, where: list[str], params: list[Any], first: Key) -> bool:
    """Whether any item under the filters comes before `first` (one index probe)."""
    clauses = [*where, "(sku < ? OR (sku = ? AND warehouse < ?))"]
    sql = f"SELECT 1 FROM inventory_items WHERE {' AND '.join(clauses)} LIMIT 1"
    return cur.execute(sql, [*params, first[0], first[0], first[1]]).fetchone() is not None


def sku_movements(
    cur: Cursor,
    sku: str,
    *,
    warehouse: str | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, bool]:
    """A SKU's movements newest first (in one warehouse, or all), older than position
    `before` or else just newer than `after`; with whether newer and older ones exist."""
    where: list[str] = ["sku = ?"]
    params: list[Any] = [sku]
    if warehouse:
        where.append("warehouse = ?")
        params.append(warehouse)
    newer_first = after is None
    if before is not None and newer_first:
        where.append("position < ?")
        params.append(before)
    if not newer_first:
        where.append("position > ?")
        params.append(after)
    order = "DESC" if newer_first else "ASC"
    rows = cur.execute(
        f"SELECT {MOVEMENT_FIELDS} FROM stock_movements WHERE {' AND '.join(where)}"
        f" ORDER BY position {order} LIMIT ?",
        [*params, limit + 1],
    ).fetchdicts()
    more = len(rows) > limit
    rows = rows[:limit]
    if newer_first:
        newer, older = before is not None, more
    else:
        rows.reverse()
        newer, older = more, True
    for row in rows:
        for name in MOVEMENT_AMOUNTS:
            row[name] = Decimal(row[name])
    return rows, newer, older


def sku_alerts(cur: Cursor, sku: str, *, limit: int) -> list[dict[str, Any]]:
    """The SKU's safety-stock alerts in every warehouse, open ones first, newest first."""
    rows = cur.execute(
        f"SELECT {ALERT_FIELDS} FROM safety_alerts WHERE stock_item_id IN"
        " (SELECT stock_item_id FROM inventory_items WHERE sku = ?)"
        " ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, raised_position DESC LIMIT ?",
        [sku, limit],
    ).fetchdicts()
    for row in rows:
        for name in ("safety_stock", "projected", "gap"):
            row[name] = Decimal(row[name])
    return rows


def product(cur: Cursor, sku: str) -> dict[str, Any] | None:
    """The SKU's name and unit from the catalogue, if it is registered there."""
    found = cur.execute("SELECT name, unit FROM products WHERE sku = ?", [sku]).fetchdicts()
    return found[0] if found else None


def warehouse_codes(cur: Cursor) -> list[str]:
    """The registered warehouses, for the filter."""
    return [row[0] for row in cur.execute("SELECT code FROM warehouses ORDER BY code").fetchall()]

"""Questions asked of the read models, portable across SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from projections import open_items as as_of_date
from projections.store import Cursor

ITEM_FIELDS = (
    "sku, warehouse, physical, in_transit, locked, available, planned_production,"
    " unreserved_demand, projected, safety_stock, below_safety, version, last_position,"
    " updated_at"
)
DIMENSIONS = (
    "physical", "in_transit", "locked", "available", "planned_production",
    "unreserved_demand", "projected", "safety_stock",
)  # fmt: skip


def _item(row: dict[str, Any]) -> dict[str, Any]:
    for name in DIMENSIONS:
        row[name] = Decimal(row[name])
    row["below_safety"] = bool(row["below_safety"])
    return row


def list_inventory(
    cur: Cursor,
    *,
    warehouse: str | None,
    sku_prefix: str | None,
    below_safety: bool | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Items ordered by (sku, warehouse); `after` is the last key of the previous page."""
    where: list[str] = []
    params: list[Any] = []
    if warehouse:
        where.append("warehouse = ?")
        params.append(warehouse)
    if sku_prefix:
        # substr, not LIKE: SQLite's LIKE ignores case, PostgreSQL's does not.
        where.append("substr(sku, 1, ?) = ?")
        params += [len(sku_prefix), sku_prefix]
    if below_safety is not None:
        where.append("below_safety = ?")
        params.append(below_safety)
    if after:
        where.append("(sku > ? OR (sku = ? AND warehouse > ?))")
        params += [after[0], after[0], after[1]]
    sql = f"SELECT {ITEM_FIELDS} FROM inventory_items"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY sku, warehouse LIMIT ?"
    params.append(limit)
    return [_item(row) for row in cur.execute(sql, params).fetchdicts()]


def sku_inventory(cur: Cursor, sku: str) -> dict[str, Any] | None:
    """One SKU in every warehouse, and its totals (summed here, exactly, in Python)."""
    rows = [
        _item(row)
        for row in cur.execute(
            f"SELECT {ITEM_FIELDS} FROM inventory_items WHERE sku = ? ORDER BY warehouse", (sku,)
        ).fetchdicts()
    ]
    if not rows:
        return None
    totals = {name: sum((row[name] for row in rows), Decimal(0)) for name in DIMENSIONS}
    totals["below_safety"] = totals["projected"] < totals["safety_stock"]
    return {"sku": sku, "warehouses": rows, "total": totals}


def movements(
    cur: Cursor, sku: str, warehouse: str, *, after: int | None, limit: int
) -> list[dict[str, Any]]:
    sql = (
        "SELECT position, version, kind, document_type, document_ref, quantity, d_physical,"
        " d_in_transit, d_locked, physical_after, in_transit_after, locked_after,"
        " available_after, note, effective_at, recorded_at, actor, correlation_id"
        " FROM stock_movements WHERE sku = ? AND warehouse = ?"
    )
    params: list[Any] = [sku, warehouse]
    if after is not None:
        sql += " AND position > ?"
        params.append(after)
    sql += " ORDER BY position LIMIT ?"
    params.append(limit)
    rows = cur.execute(sql, params).fetchdicts()
    for row in rows:
        for name in ("quantity", "d_physical", "d_in_transit", "d_locked", "physical_after",
                     "in_transit_after", "locked_after", "available_after"):  # fmt: skip
            row[name] = Decimal(row[name])
    return rows


def list_products(cur: Cursor, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    sql = (
        "SELECT sku, name, unit, make_or_buy, standard, list_price, standard_cost, currency,"
        " version FROM products"
    )
    params: list[Any] = []
    if after:
        sql += " WHERE sku > ?"
        params.append(after)
    rows = cur.execute(sql + " ORDER BY sku LIMIT ?", [*params, limit]).fetchdicts()
    for row in rows:
        row["standard"] = bool(row["standard"])
        row["list_price"] = Decimal(row["list_price"])
        row["standard_cost"] = Decimal(row["standard_cost"])
    return rows


def list_warehouses(cur: Cursor) -> list[dict[str, Any]]:
    return cur.execute("SELECT code, name, address FROM warehouses ORDER BY code").fetchdicts()


def _page(
    cur: Cursor,
    select: str,
    filters: dict[str, Any],
    key: str,
    after: Any,
    limit: int,
    conditions: Sequence[tuple[str, Sequence[Any]]] = (),
) -> list[dict[str, Any]]:
    """A keyset page: `select` narrowed by the equality `filters` that are set (and any
    other `conditions`, SQL with its parameters), after the cursor value of `key`, in `key`
    order."""
    where = [f"{column} = ?" for column, value in filters.items() if value]
    params: list[Any] = [value for value in filters.values() if value]
    for condition, values in conditions:
        where.append(condition)
        params += values
    if after is not None and after != "":
        where.append(f"{key} > ?")
        params.append(after)
    sql = select + (" WHERE " + " AND ".join(where) if where else "")
    return cur.execute(f"{sql} ORDER BY {key} LIMIT ?", [*params, limit]).fetchdicts()


def _decimals(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    """Exact decimals back from the store (SQLite keeps them as text)."""
    for row in rows:
        for name in names:
            if row[name] is not None:
                row[name] = Decimal(row[name])
    return rows


def list_purchase_orders(
    cur: Cursor, *, status: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    select = (
        "SELECT number, supplier, warehouse, status, currency, version, created_at, updated_at"
        " FROM purchase_orders"
    )
    return _page(cur, select, {"status": status}, "number", after, limit)


def list_requisitions(cur: Cursor, *, status: str | None) -> list[dict[str, Any]]:
    sql = (
        "SELECT number, sku, warehouse, quantity, reason, status, purchase_order,"
        " trigger_position, raised_at, closed_at FROM purchase_requisitions"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    rows = cur.execute(sql + " ORDER BY trigger_position", params).fetchdicts()
    for row in rows:
        row["quantity"] = Decimal(row["quantity"])
    return rows


def list_safety_alerts(cur: Cursor, *, status: str | None) -> list[dict[str, Any]]:
    sql = (
        "SELECT sku, warehouse, safety_stock, projected, gap, status, requisition_number,"
        " raised_position, raised_at, cleared_position, cleared_at FROM safety_alerts"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    rows = cur.execute(sql + " ORDER BY raised_position", params).fetchdicts()
    for row in rows:
        for name in ("safety_stock", "projected", "gap"):
            row[name] = Decimal(row[name])
    return rows


ORDER_LIST_COLUMNS = (
    "number, customer, warehouse, status, stage, stage_role, awaiting_role, workflow,"
    " workflow_version, sla_due_at, sla_breached_at, currency, total, ordered_qty, shipped_qty,"
    " delivered_qty, salesperson, region, channel, external_ref, requested_delivery,"
    " promised_date, version, created_at, updated_at, stage_entered_at"
)


def list_sales_orders(
    cur: Cursor,
    *,
    status: str | None,
    customer: str | None,
    salesperson: str | None,
    after: str | None,
    limit: int,
    stage: str | None = None,
    region: str | None = None,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
    search: str | None = None,
) -> list[dict[str, Any]]:
    """Orders by number, narrowed by any of the filters: `ordered_from`/`ordered_to` are
    days (UTC) of the order's recording, both included; `search` is a piece of the order's
    number or customer code, in any case."""
    filters = {"status": status, "stage": stage, "customer": customer,
               "salesperson": salesperson, "region": region}  # fmt: skip
    conditions: list[tuple[str, Sequence[Any]]] = []
    if ordered_from:
        conditions.append(("created_at >= ?", [_start_of(ordered_from)]))
    if ordered_to:
        conditions.append(("created_at < ?", [_start_of(ordered_to + timedelta(days=1))]))
    if search:
        conditions.append(_contains(cur, ("number", "customer"), search))
    rows = _page(cur, f"SELECT {ORDER_LIST_COLUMNS} FROM sales_orders", filters, "number",
                 after, limit, conditions)  # fmt: skip
    return [_order_row(row) for row in rows]


def _contains(cur: Cursor, columns: Sequence[str], piece: str) -> tuple[str, list[Any]]:
    """SQL: any of `columns` holds `piece`, ignoring ASCII case, with the same answer on
    both stores. No index serves it: a scan along the list's own order, stopped by its
    LIMIT, so each store gets its fastest test (SQLite's LIKE already ignores ASCII case;
    on PostgreSQL strpos of the upper-cased text is three times as fast as ILIKE)."""
    if cur.dialect == "postgres":
        tests = [f"strpos(upper({column}), ?) > 0" for column in columns]
        return "(" + " OR ".join(tests) + ")", [piece.upper()] * len(columns)
    pattern = "%" + re.sub(r"([!%_])", r"!\1", piece) + "%"
    tests = [f"{column} LIKE ? ESCAPE '!'" for column in columns]
    return "(" + " OR ".join(tests) + ")", [pattern] * len(columns)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _order_row(row: dict[str, Any]) -> dict[str, Any]:
    """Decimals back from text (SQLite) and the status percentages."""
    for name in ("total", "ordered_qty", "shipped_qty", "delivered_qty"):
        row[name] = Decimal(row[name])
    ordered = row["ordered_qty"]
    for name in ("shipped", "delivered"):
        part = row[f"{name}_qty"]
        row[f"{name}_pct"] = (part * 100 / ordered).quantize(Decimal("0.01")) if ordered else 0
    return row


def sla_orders(
    cur: Cursor, *, now: datetime, at_risk_within: timedelta, limit: int
) -> list[dict[str, Any]]:
    """Orders late in their stage, and those due within `at_risk_within`, most overdue
    first. One range scan of the SLA index: the cost follows the orders listed, not the
    orders open."""
    rows = cur.execute(
        f"SELECT {ORDER_LIST_COLUMNS} FROM sales_orders WHERE sla_due_at <= ?"
        " ORDER BY sla_due_at, number LIMIT ?",
        [now + at_risk_within, limit],
    ).fetchdicts()
    listed = []
    for row in rows:
        due = _aware(row["sla_due_at"])
        row = _order_row(row)
        row["sla_state"] = "late" if due <= now else "at_risk"
        row["overdue_seconds"] = max(0, int((now - due).total_seconds()))
        listed.append(row)
    return listed


def _aware(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def order_timeline(cur: Cursor, number: str) -> list[dict[str, Any]]:
    rows = cur.execute(
        "SELECT position, kind, from_stage, to_stage, status, actor, role, correlation_id,"
        " recorded_at, effective_at, seconds_in_previous_stage, detail FROM order_timeline"
        " WHERE number = ? ORDER BY position",
        (number,),
    ).fetchdicts()
    for row in rows:
        seconds = row["seconds_in_previous_stage"]
        row["seconds_in_previous_stage"] = None if seconds is None else Decimal(seconds)
    return rows


def list_production_orders(
    cur: Cursor, *, status: str | None, sales_order: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    select = (
        "SELECT number, sku, warehouse, quantity, produced, status, sales_order, line_no,"
        " version, created_at, updated_at FROM production_orders"
    )
    filters = {"status": status, "sales_order": sales_order}
    return _decimals(_page(cur, select, filters, "number", after, limit), "quantity", "produced")


def order_changes(cur: Cursor, number: str, *, after: int, limit: int) -> list[dict[str, Any]]:
    """The order's timeline rows after `after`, every column: live pages show whatever the
    read model records, including columns added to it later."""
    rows = cur.execute(
        "SELECT * FROM order_timeline WHERE number = ? AND position > ? ORDER BY position LIMIT ?",
        (number, after, limit),
    ).fetchdicts()
    return [_timeline_step(row) for row in rows]


def order_status(cur: Cursor, number: str) -> str | None:
    found = cur.execute("SELECT status FROM sales_orders WHERE number = ?", (number,)).fetchone()
    return None if found is None else str(found[0])


def _timeline_step(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite keeps the stage time as text: the same exact decimal on both stores."""
    seconds = row.get("seconds_in_previous_stage")
    if seconds is not None:
        row["seconds_in_previous_stage"] = Decimal(seconds)
    return row


def order_stages(
    cur: Cursor, number: str, steps: list[dict[str, Any]], now: datetime
) -> dict[str, Any] | None:
    """The current stage and how long the order has been in it, and the time spent in each
    stage it has left (summed over visits), from the timeline and the order's row."""
    row = cur.execute(
        "SELECT stage, stage_role, stage_entered_at, sla_due_at, sla_breached_at"
        " FROM sales_orders WHERE number = ?",
        (number,),
    ).fetchone()
    if row is None:
        return None
    stage, role, entered, due, breached = row
    spent: dict[str, Decimal] = {}
    for step in steps:
        if step["kind"] == "StageChanged" and step["seconds_in_previous_stage"] is not None:
            left = step["from_stage"]
            spent[left] = spent.get(left, Decimal(0)) + step["seconds_in_previous_stage"]
    entered_at = _aware(entered)
    return {
        "stage": stage,
        "responsible_role": role,
        "entered_at": entered_at,
        "seconds_in_stage": Decimal(str(max(0.0, (now - entered_at).total_seconds()))),
        "sla_due_at": None if due is None else _aware(due),
        "sla_breached_at": None if breached is None else _aware(breached),
        "seconds_in_each_stage_left": spent,
    }


def list_receivables(
    cur: Cursor,
    *,
    customer: str | None,
    order_number: str | None,
    status: str | None,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Receivables in the order they were recognised (cursor: the log position)."""
    select = (
        "SELECT receivable_id, position, order_number, shipment_ref, customer, currency, net,"
        " tax, total, status, recognised_at, recorded_at, version, invoice_number,"
        " invoice_date, due_date FROM receivables"
    )
    filters = {"customer": customer, "order_number": order_number, "status": status}
    rows = _page(cur, select, filters, "position", after, limit)
    return _decimals(rows, "net", "tax", "total")


def list_invoices(
    cur: Cursor, *, customer: str | None, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Invoices in the order they were issued (cursor: the log position)."""
    select = (
        "SELECT number, position, customer, currency, net, tax, total, invoice_date, due_date,"
        " shipments, recorded_at FROM invoices"
    )
    rows = _page(cur, select, {"customer": customer}, "position", after, limit)
    return _decimals(rows, "net", "tax", "total")


def open_items(
    cur: Cursor, *, customer: str | None, as_of: date, currency: str | None = None
) -> list[dict[str, Any]]:
    """Invoices with money still owed as of the end of `as_of` (business dates: invoice date,
    allocation, credit and reversal dates), oldest due first, each with its derived status —
    open, partially paid, overdue — days past due and ageing bucket. See
    `projections.open_items`: the database sums and filters, exactly on both stores."""
    return as_of_date.open_items(cur, customer=customer, as_of=as_of, currency=currency)


def users(cur: Cursor) -> list[dict[str, Any]]:
    """Every user with their keys (ids, labels, dates; never a secret)."""
    found = cur.execute(
        "SELECT username, role, customer, display_name, status, has_password, created_at,"
        " last_sign_in_at, version FROM users ORDER BY username"
    ).fetchdicts()
    keys: dict[str, list[dict[str, Any]]] = {}
    for key in cur.execute(
        "SELECT key_id, username, label, issued_at, expires_at, revoked_at FROM api_keys"
        " ORDER BY issued_at, key_id"
    ).fetchdicts():
        keys.setdefault(key.pop("username"), []).append(
            {name: _iso(value) for name, value in key.items()}
        )
    return [
        {**{name: _iso(value) for name, value in user.items()},
         "has_password": bool(user["has_password"]), "keys": keys.get(user["username"], [])}
        for user in found
    ]  # fmt: skip


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

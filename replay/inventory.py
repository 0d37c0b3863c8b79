"""Inventory answers from a replayed read model: as known at a moment, and bitemporally.

*Effective at E as known at R*: replay the log as known at R (every event recorded by
then), then sum, per SKU × warehouse, the deltas of the `stock_movements` whose effective
time is at or before E. A goods receipt keyed in on the 3rd for goods that arrived on the
1st is recorded on the 3rd, effective the 1st: it counts in "effective 2nd as known 4th"
(it is known by the 4th and took effect by the 2nd), not in "effective 2nd as known 2nd"
(on the 2nd nobody knew of it yet).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from projections import queries
from projections.store import Cursor

ZERO = Decimal(0)
PAGE = 500


def inventory_rows(cur: Cursor, sku: str | None = None) -> list[dict[str, Any]]:
    """Every SKU × warehouse row (of one SKU if given), by the live system's own query."""
    rows: list[dict[str, Any]] = []
    after: tuple[str, str] | None = None
    while True:
        page = queries.list_inventory(
            cur, warehouse=None, sku_prefix=sku, below_safety=None, after=after, limit=PAGE
        )
        rows += [row for row in page if sku is None or row["sku"] == sku]
        if len(page) < PAGE:
            return rows
        after = (page[-1]["sku"], page[-1]["warehouse"])


def inventory_effective(
    cur: Cursor, effective: datetime, sku: str | None = None
) -> list[dict[str, Any]]:
    """Physical, in transit, locked and available per SKU × warehouse from the movements
    effective at or before `effective`; every item the replay knows is listed, at zero when
    nothing of it had taken effect yet.

    Summed here rather than in SQL: SQLite keeps times as text with the offset they were
    given, so comparing them as text would misorder times written with different offsets."""
    where, params = ("WHERE sku = ?", [sku]) if sku else ("", [])
    totals: dict[tuple[str, str], dict[str, Any]] = {
        (row["sku"], row["warehouse"]): _empty(row["sku"], row["warehouse"])
        for row in inventory_rows(cur, sku)
    }
    cur.execute(
        "SELECT sku, warehouse, d_physical, d_in_transit, d_locked, effective_at, position"
        f" FROM stock_movements {where} ORDER BY position",
        params,
    )
    for name, warehouse, physical, in_transit, locked, when, position in cur.fetchall():
        if _as_datetime(when) > effective:
            continue
        row = totals.setdefault((name, warehouse), _empty(name, warehouse))
        row["physical"] += Decimal(physical)
        row["in_transit"] += Decimal(in_transit)
        row["locked"] += Decimal(locked)
        row["movements"] += 1
        row["last_position"] = position
    for row in totals.values():
        row["available"] = row["physical"] - row["locked"]
    return [totals[key] for key in sorted(totals)]


def _empty(sku: str, warehouse: str) -> dict[str, Any]:
    return {
        "sku": sku, "warehouse": warehouse, "physical": ZERO, "in_transit": ZERO,
        "locked": ZERO, "available": ZERO, "movements": 0, "last_position": None,
    }  # fmt: skip


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)

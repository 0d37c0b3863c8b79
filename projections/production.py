"""Production read model: one row per production order, for the shop floor's lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.production import ProductionOrder
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

COLUMNS = [
    "production_id", "number", "sku", "warehouse", "quantity", "produced", "status",
    "sales_order", "line_no", "version", "created_at", "updated_at",
]  # fmt: skip
STATUS_AFTER = {
    "MaterialsIssued": "materials_issued",
    "Completed": "completed",
    "Reworked": "materials_issued",
    "Received": "received",
    "Cancelled": "cancelled",
}


class ProductionProjection(Projection):
    name = "production"
    event_classes = events_of(
        ProductionOrder, "Scheduled", "MaterialsIssued", "Completed", "QcRecorded", "Reworked",
        "Received", "Cancelled",
    )  # fmt: skip
    tables = {
        "production_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " production_id TEXT PRIMARY KEY, number TEXT NOT NULL, sku TEXT NOT NULL,"
            " warehouse TEXT NOT NULL, quantity {dec} NOT NULL, produced {dec},"
            " status TEXT NOT NULL, sales_order TEXT, line_no INTEGER,"
            " version INTEGER NOT NULL, created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
        )
    }
    indexes = (
        Index("ix_production_number", "production_orders", "number", unique=True),
        Index("ix_production_status", "production_orders", "status, number"),
        Index("ix_production_order", "production_orders", "sales_order, number"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        rows = self._load(cur, sorted({str(e.originator_id) for _, e in events}))
        for _, e in events:
            kind = type(e).__name__
            key = str(e.originator_id)
            if kind == "Scheduled":
                rows[key] = {
                    "production_id": key, "number": e.number, "sku": e.sku,
                    "warehouse": e.warehouse, "quantity": e.quantity, "produced": None,
                    "status": "scheduled", "sales_order": e.sales_order, "line_no": e.line_no,
                    "created_at": e.timestamp,
                }  # fmt: skip
            row = rows[key]
            if kind == "Completed":
                row["produced"] = e.produced
            if kind == "Reworked":
                row["produced"] = None
            if kind == "QcRecorded":
                row["status"] = "qc_passed" if e.passed else "qc_failed"
            elif kind in STATUS_AFTER:
                row["status"] = STATUS_AFTER[kind]
            row.update(version=e.originator_version, updated_at=e.timestamp)
        values = [tuple(row[c] for c in COLUMNS) for row in rows.values()]
        cur.upsert_rows(self.t("production_orders"), COLUMNS, "production_id", values)

    def _load(self, cur: Cursor, ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM {self.t('production_orders')}"
                f" WHERE production_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({row["production_id"]: row for row in cur.fetchdicts()})
        return found

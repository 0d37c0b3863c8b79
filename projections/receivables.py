"""Receivables read model: one row per receivable, the start of accounts receivable.

A row appears with the shipment that created it (pending invoice). Invoices, payments and
ageing as of a date build on these rows as finance's commands land.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.receivables import Receivable
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

COLUMNS = [
    "receivable_id", "position", "order_number", "shipment_ref", "customer", "currency",
    "net", "tax", "total", "status", "recognised_at", "recorded_at", "version",
]  # fmt: skip


class ReceivablesProjection(Projection):
    name = "receivables"
    event_classes = events_of(Receivable, "Recognised")
    tables = {
        "receivables": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " receivable_id TEXT PRIMARY KEY, position {bigint} NOT NULL,"
            " order_number TEXT NOT NULL, shipment_ref TEXT NOT NULL, customer TEXT NOT NULL,"
            " currency TEXT NOT NULL, net {dec} NOT NULL, tax {dec} NOT NULL,"
            " total {dec} NOT NULL, status TEXT NOT NULL, recognised_at {ts} NOT NULL,"
            " recorded_at {ts} NOT NULL, version INTEGER NOT NULL)"
        )
    }
    indexes = (
        Index("ix_receivables_position", "receivables", "position", unique=True),
        Index("ix_receivables_customer", "receivables", "customer, position"),
        Index("ix_receivables_order", "receivables", "order_number, position"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        rows: list[tuple[Any, ...]] = []
        for position, e in events:
            rows.append((
                str(e.originator_id), position, e.order_number, e.shipment_ref, e.customer,
                e.currency, e.net, e.tax, e.total, "pending_invoice", e.effective_at,
                e.timestamp, e.originator_version,
            ))  # fmt: skip
        cur.insert_rows(self.t("receivables"), COLUMNS, rows)

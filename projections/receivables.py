"""Receivables and invoices read model: one row per receivable and per invoice.

A receivable row appears with the shipment that created it (pending invoice) and takes its
invoice's number, date and due date when billed. Payments and ageing as of a date build on
these rows as finance's commands land.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.invoices import Invoice
from domain.receivables import Receivable
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

COLUMNS = [
    "receivable_id", "position", "order_number", "shipment_ref", "customer", "currency",
    "net", "tax", "total", "status", "recognised_at", "recorded_at", "version",
]  # fmt: skip
INVOICE_COLUMNS = [
    "number", "position", "customer", "currency", "net", "tax", "total", "invoice_date",
    "due_date", "shipments", "recorded_at",
]  # fmt: skip


class ReceivablesProjection(Projection):
    name = "receivables"
    event_classes = (
        *events_of(Receivable, "Recognised", "Invoiced"),
        *events_of(Invoice, "Issued"),
    )
    tables = {
        "receivables": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " receivable_id TEXT PRIMARY KEY, position {bigint} NOT NULL,"
            " order_number TEXT NOT NULL, shipment_ref TEXT NOT NULL, customer TEXT NOT NULL,"
            " currency TEXT NOT NULL, net {dec} NOT NULL, tax {dec} NOT NULL,"
            " total {dec} NOT NULL, status TEXT NOT NULL, recognised_at {ts} NOT NULL,"
            " recorded_at {ts} NOT NULL, version INTEGER NOT NULL, invoice_number TEXT,"
            " invoice_date TEXT, due_date TEXT)"
        ),
        "invoices": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT PRIMARY KEY, position {bigint} NOT NULL, customer TEXT NOT NULL,"
            " currency TEXT NOT NULL, net {dec} NOT NULL, tax {dec} NOT NULL,"
            " total {dec} NOT NULL, invoice_date TEXT NOT NULL, due_date TEXT NOT NULL,"
            " shipments INTEGER NOT NULL, recorded_at {ts} NOT NULL)"
        ),
    }
    indexes = (
        Index("ix_receivables_position", "receivables", "position", unique=True),
        Index("ix_receivables_customer", "receivables", "customer, position"),
        Index("ix_receivables_order", "receivables", "order_number, position"),
        Index("ix_receivables_invoice", "receivables", "invoice_number"),
        Index("ix_invoices_customer", "invoices", "customer, position"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        recognised: list[tuple[Any, ...]] = []
        invoices: list[tuple[Any, ...]] = []
        billed: list[tuple[Any, ...]] = []
        for position, e in events:
            kind = type(e).__name__
            if kind == "Recognised":
                recognised.append((
                    str(e.originator_id), position, e.order_number, e.shipment_ref, e.customer,
                    e.currency, e.net, e.tax, e.total, "pending_invoice", e.effective_at,
                    e.timestamp, e.originator_version,
                ))  # fmt: skip
            elif kind == "Invoiced":
                billed.append((
                    e.invoice_number, e.invoice_date.isoformat(), e.due_date.isoformat(),
                    e.originator_version, str(e.originator_id),
                ))  # fmt: skip
            else:
                invoices.append((
                    e.number, position, e.customer, e.currency, e.net, e.tax, e.total,
                    e.invoice_date.isoformat(), e.due_date.isoformat(), len(e.receivables),
                    e.timestamp,
                ))  # fmt: skip
        # Rows first: a receivable recognised and billed within one page is updated after.
        cur.insert_rows(self.t("receivables"), COLUMNS, recognised)
        cur.insert_rows(self.t("invoices"), INVOICE_COLUMNS, invoices)
        for row in billed:
            cur.execute(
                f"UPDATE {self.t('receivables')} SET status = 'invoiced', invoice_number = ?,"
                " invoice_date = ?, due_date = ?, version = ? WHERE receivable_id = ?",
                row,
            )

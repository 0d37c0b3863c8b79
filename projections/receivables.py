"""Receivables and invoices read model: one row per receivable and per invoice.

A receivable row appears with the shipment that created it (pending invoice) and takes its
invoice's number, date and due date when billed. Payments and ageing as of a date build on
these rows as finance's commands land.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.invoices import Invoice
from domain.payments import Payment
from domain.receivables import Receivable
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

COLUMNS = [
    "receivable_id", "position", "order_number", "shipment_ref", "customer", "currency",
    "net", "tax", "total", "status", "recognised_at", "recorded_at", "version",
]  # fmt: skip
PAYMENT_COLUMNS = [
    "bank_ref", "position", "payer", "amount", "currency", "value_date", "remittance",
    "source", "recorded_at",
]  # fmt: skip
ALLOCATION_COLUMNS = [
    "allocation_id", "bank_ref", "invoice_number", "amount", "rule", "effective_date",
    "reversed_date", "reason", "recorded_at",
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
        *events_of(Payment, "Received", "Allocated", "Unallocated"),
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
        "payments": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " bank_ref TEXT PRIMARY KEY, position {bigint} NOT NULL, payer TEXT NOT NULL,"
            " amount {dec} NOT NULL, currency TEXT NOT NULL, value_date TEXT NOT NULL,"
            " remittance TEXT NOT NULL, source TEXT NOT NULL, recorded_at {ts} NOT NULL)"
        ),
        "allocations": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " allocation_id TEXT PRIMARY KEY, bank_ref TEXT NOT NULL,"
            " invoice_number TEXT NOT NULL, amount {dec} NOT NULL, rule TEXT NOT NULL,"
            " effective_date TEXT NOT NULL, reversed_date TEXT, reason TEXT,"
            " recorded_at {ts} NOT NULL)"
        ),
        "invoice_credits": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " credit_id TEXT PRIMARY KEY, invoice_number TEXT NOT NULL, kind TEXT NOT NULL,"
            " amount {dec} NOT NULL, effective_date TEXT NOT NULL, reversed_date TEXT,"
            " recorded_at {ts} NOT NULL)"
        ),
    }
    indexes = (
        Index("ix_receivables_position", "receivables", "position", unique=True),
        Index("ix_receivables_customer", "receivables", "customer, position"),
        Index("ix_receivables_order", "receivables", "order_number, position"),
        Index("ix_receivables_invoice", "receivables", "invoice_number"),
        Index("ix_invoices_customer", "invoices", "customer, position"),
        # Covering: open items as of a date sum allocations without visiting the table.
        Index(
            "ix_allocations_as_of",
            "allocations",
            "invoice_number, effective_date, reversed_date, amount",
        ),
        Index("ix_allocations_payment", "allocations", "bank_ref"),
        Index("ix_invoice_credits_invoice", "invoice_credits", "invoice_number, effective_date"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        recognised: list[tuple[Any, ...]] = []
        invoices: list[tuple[Any, ...]] = []
        billed: list[tuple[Any, ...]] = []
        payments: list[tuple[Any, ...]] = []
        allocated: list[tuple[Any, ...]] = []
        reversed_: list[tuple[Any, ...]] = []
        for position, e in events:
            kind = type(e).__name__
            if kind == "Received":
                payments.append((
                    e.bank_ref, position, e.payer, e.amount, e.currency,
                    e.value_date.isoformat(), e.remittance, e.source, e.timestamp,
                ))  # fmt: skip
                continue
            if kind == "Allocated":
                allocated.append((
                    e.allocation_id, e.allocation_id.rsplit("-A", 1)[0], e.invoice_number,
                    e.amount, e.rule,
                    e.effective_date.isoformat(), None, None, e.timestamp,
                ))  # fmt: skip
                continue
            if kind == "Unallocated":
                reversed_.append((e.effective_date.isoformat(), e.reason, e.allocation_id))
                continue
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
        cur.insert_rows(self.t("payments"), PAYMENT_COLUMNS, payments)
        cur.insert_rows(self.t("allocations"), ALLOCATION_COLUMNS, allocated)
        for row in reversed_:
            cur.execute(
                f"UPDATE {self.t('allocations')} SET reversed_date = ?, reason = ?"
                " WHERE allocation_id = ?",
                row,
            )
        for row in billed:
            cur.execute(
                f"UPDATE {self.t('receivables')} SET status = 'invoiced', invoice_number = ?,"
                " invoice_date = ?, due_date = ?, version = ? WHERE receivable_id = ?",
                row,
            )

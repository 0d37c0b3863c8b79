"""Receivables and invoices read model: one row per receivable and per invoice.

A receivable row appears with the shipment that created it (pending invoice) and takes its
invoice's number, date and due date when billed. Payments and ageing as of a date build on
these rows as finance's commands land. `unapplied_cash` is the queue of payments with money
not yet allocated, re-derived exactly for every payment a page touches; `receivable_customers`
holds customers' names for recognising payers.

Credit notes and write-offs have rows of their own (`credit_notes`, `write_offs`); the ones
that reduce what an invoice owes — credit notes, and write-offs once approved — are also rows
of `invoice_credits`, dated like allocations, with the date one is reversed (if ever).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.credit_notes import CreditNote
from domain.customers import Customer
from domain.invoices import Invoice
from domain.payments import Payment
from domain.receivables import Receivable
from domain.values import ZERO
from projections.base import Index, PositionedEvent, Projection, events_of, meta_of
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
UNAPPLIED_COLUMNS = ["bank_ref", "value_date", "currency", "unapplied", "position"]
CHUNK = 500
INVOICE_COLUMNS = [
    "number", "position", "customer", "currency", "net", "tax", "total", "invoice_date",
    "due_date", "shipments", "recorded_at",
]  # fmt: skip
CREDIT_NOTE_COLUMNS = [
    "number", "position", "invoice_number", "customer", "currency", "kind", "net", "tax",
    "total", "credit_note_date", "reason", "status", "recorded_at",
]  # fmt: skip
CREDIT_COLUMNS = [
    "credit_id", "invoice_number", "kind", "amount", "effective_date", "reversed_date",
    "recorded_at",
]  # fmt: skip
SPAN_COLUMNS = [
    "invoice_number", "customer", "currency", "due_date", "from_date", "to_date", "owed",
]  # fmt: skip
OPEN_END = "9999-12-31"  # the end of a span still owing
CREDIT_EVENTS = (
    *events_of(CreditNote, "Issued"),
    *events_of(Invoice, "CreditReversed", "WriteOffRequested", "WrittenOff", "WriteOffRejected"),
)


class ReceivablesProjection(Projection):
    name = "receivables"
    event_classes = (
        *events_of(Receivable, "Recognised", "Invoiced"),
        *events_of(Invoice, "Issued"),
        *events_of(Payment, "Received", "Allocated", "Unallocated"),
        *CREDIT_EVENTS,
        *events_of(Customer, "Registered"),
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
        "credit_notes": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT PRIMARY KEY, position {bigint} NOT NULL, invoice_number TEXT NOT NULL,"
            " customer TEXT NOT NULL, currency TEXT NOT NULL, kind TEXT NOT NULL,"
            " net {dec} NOT NULL, tax {dec} NOT NULL, total {dec} NOT NULL,"
            " credit_note_date TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,"
            " cancelled_date TEXT, cancel_reason TEXT, recorded_at {ts} NOT NULL)"
        ),
        "write_offs": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " id TEXT PRIMARY KEY, position {bigint} NOT NULL, invoice_number TEXT NOT NULL,"
            " customer TEXT NOT NULL, currency TEXT NOT NULL, amount {dec} NOT NULL,"
            " status TEXT NOT NULL, requested_by TEXT NOT NULL, decided_by TEXT,"
            " decided_role TEXT, reason TEXT NOT NULL, decision_reason TEXT,"
            " effective_date TEXT, requested_at {ts} NOT NULL, decided_at {ts})"
        ),
        "invoice_credits": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " credit_id TEXT PRIMARY KEY, invoice_number TEXT NOT NULL, kind TEXT NOT NULL,"
            " amount {dec} NOT NULL, effective_date TEXT NOT NULL, reversed_date TEXT,"
            " recorded_at {ts} NOT NULL)"
        ),
        # The unapplied-cash queue: payments with money not yet allocated (as recorded now,
        # whatever the allocations' effective dates), oldest value date first.
        "unapplied_cash": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " bank_ref TEXT PRIMARY KEY, value_date TEXT NOT NULL, currency TEXT NOT NULL,"
            " unapplied {dec} NOT NULL, position {bigint} NOT NULL)"
        ),
        # What each invoice owes over business time, as spans of days [from_date, to_date)
        # owing the same amount (only spans owing something; to_date '9999-12-31' while it
        # still owes): the ageing of every customer on any day is a range scan of these,
        # not a sum of every invoice's allocations and credits. Re-derived in Python for
        # every invoice a page touches (`_spans`), from the rows `open_items` reads too.
        "invoice_open_spans": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " invoice_number TEXT NOT NULL, customer TEXT NOT NULL, currency TEXT NOT NULL,"
            " due_date TEXT NOT NULL, from_date TEXT NOT NULL, to_date TEXT NOT NULL,"
            " owed {dec} NOT NULL)"
        ),
        # Customers' names, to recognise them as payers on bank statements.
        "receivable_customers": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " code TEXT PRIMARY KEY, name TEXT NOT NULL, position {bigint} NOT NULL)"
        ),
    }
    indexes = (
        Index("ix_receivables_position", "receivables", "position", unique=True),
        Index("ix_receivables_customer", "receivables", "customer, position"),
        Index("ix_receivables_order", "receivables", "order_number, position"),
        Index("ix_receivables_invoice", "receivables", "invoice_number"),
        # The KPIs' collection rate and DSO read a period's invoiced receivables (covering).
        Index(
            "ix_receivables_invoiced",
            "receivables",
            "invoice_date, order_number, invoice_number, currency, total",
        ),
        Index("ix_invoices_customer", "invoices", "customer, position"),
        # What was invoiced in a period (DSO: the console's finance page, `ar.metrics`).
        Index("ix_invoices_date", "invoices", "invoice_date"),
        # Covering: open items as of a date sum allocations without visiting the table.
        Index(
            "ix_allocations_as_of",
            "allocations",
            "invoice_number, effective_date, reversed_date, amount",
            lookup=True,  # the spans read an invoice's allocations by it
        ),
        Index("ix_allocations_payment", "allocations", "bank_ref", lookup=True),
        Index("ix_credit_notes_customer", "credit_notes", "customer, position"),
        Index("ix_credit_notes_invoice", "credit_notes", "invoice_number"),
        Index("ix_write_offs_status", "write_offs", "status, position"),
        Index("ix_write_offs_invoice", "write_offs", "invoice_number"),
        Index(
            "ix_invoice_credits_invoice",
            "invoice_credits",
            "invoice_number, effective_date",
            lookup=True,  # … and its credits
        ),
        Index("ix_unapplied_cash_value_date", "unapplied_cash", "value_date, bank_ref"),
        Index("ix_open_spans_invoice", "invoice_open_spans", "invoice_number", lookup=True),
        # Covering: the spans in force on a day are those ending after it and begun by it.
        Index(
            "ix_open_spans_days",
            "invoice_open_spans",
            "to_date, from_date, currency, customer, due_date, owed",
        ),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        recognised: list[tuple[Any, ...]] = []
        invoices: list[tuple[Any, ...]] = []
        billed: list[tuple[Any, ...]] = []
        payments: list[tuple[Any, ...]] = []
        allocated: list[tuple[Any, ...]] = []
        reversed_: list[tuple[Any, ...]] = []
        credits: list[PositionedEvent] = []
        customers: list[tuple[Any, ...]] = []
        moved: set[str] = set()  # payments whose unapplied amount changed
        owing: set[str] = set()  # invoices whose amount owed over time may have changed
        undone: list[str] = []  # allocations reversed: their invoices too
        cancelled: list[str] = []  # credit notes reversed: their invoices too
        for position, e in events:
            if isinstance(e, CREDIT_EVENTS):
                credits.append((position, e))
                if type(e).__qualname__ == "Invoice.CreditReversed":
                    cancelled.append(_reversed_credit(e))
                else:
                    owing.add(_credited_invoice(e))
                continue
            kind = type(e).__name__
            if kind == "Registered":
                customers.append((e.code, e.name, position))
                continue
            if kind in ("Received", "Allocated", "Unallocated"):
                moved.add(e.bank_ref if kind == "Received" else _bank_ref(e.allocation_id))
            if kind == "Received":
                payments.append((
                    e.bank_ref, position, e.payer, e.amount, e.currency,
                    e.value_date.isoformat(), e.remittance, e.source, e.timestamp,
                ))  # fmt: skip
                continue
            if kind == "Allocated":
                owing.add(e.invoice_number)
                allocated.append((
                    e.allocation_id, _bank_ref(e.allocation_id), e.invoice_number,
                    e.amount, e.rule,
                    e.effective_date.isoformat(), None, None, e.timestamp,
                ))  # fmt: skip
                continue
            if kind == "Unallocated":
                undone.append(e.allocation_id)
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
                owing.add(e.number)
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
        # One batch per statement (pipelined on PostgreSQL), in log order as before.
        cur.executemany(
            f"UPDATE {self.t('allocations')} SET reversed_date = ?, reason = ?"
            " WHERE allocation_id = ?",
            reversed_,
        )
        cur.executemany(
            f"UPDATE {self.t('receivables')} SET status = 'invoiced', invoice_number = ?,"
            " invoice_date = ?, due_date = ?, version = ? WHERE receivable_id = ?",
            billed,
        )
        # After the invoices: a write-off row takes its customer from its invoice's row.
        for position, e in credits:
            self._apply_credit(cur, position, e)
        cur.insert_rows(self.t("receivable_customers"), ["code", "name", "position"], customers)
        self._unapplied(cur, sorted(moved))
        owing |= self._invoices_of(cur, "allocations", "allocation_id", undone)
        owing |= self._invoices_of(cur, "invoice_credits", "credit_id", cancelled)
        self._spans(cur, sorted(owing))

    def respan(self, cur: Cursor, numbers: Sequence[str] | None = None) -> None:
        """These invoices' spans (default: every invoice's) derived again from their rows:
        for rows written into the tables directly (bulk loads, tests), not folded from events."""
        if numbers is None:
            found = cur.execute(f"SELECT number FROM {self.t('invoices')}").fetchall()
            numbers = [number for (number,) in found]
        self._spans(cur, list(numbers))

    def _invoices_of(self, cur: Cursor, table: str, key: str, ids: list[str]) -> set[str]:
        """The invoices of these allocations or credits (by their rows)."""
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(n for (n,) in cur.execute(
                f"SELECT invoice_number FROM {self.t(table)} WHERE {key} IN ({marks})", chunk,
            ).fetchall())  # fmt: skip
        return found

    def _spans(self, cur: Cursor, numbers: list[str]) -> None:
        """Re-derive the spans of these invoices from their rows, exactly (in Python)."""
        for start in range(0, len(numbers), CHUNK):
            chunk = numbers[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            taken: dict[str, list[tuple[Decimal, str, str | None]]] = {n: [] for n in chunk}
            for table in ("allocations", "invoice_credits"):
                for number, amount, effective, undone in cur.execute(
                    f"SELECT invoice_number, amount, effective_date, reversed_date"
                    f" FROM {self.t(table)} WHERE invoice_number IN ({marks})",
                    chunk,
                ).fetchall():
                    taken[number].append((Decimal(str(amount)), effective, undone))
            cur.execute(
                f"DELETE FROM {self.t('invoice_open_spans')} WHERE invoice_number IN ({marks})",
                chunk,
            )
            rows = []
            for number, customer, currency, total, dated, due in cur.execute(
                f"SELECT number, customer, currency, total, invoice_date, due_date"
                f" FROM {self.t('invoices')} WHERE number IN ({marks})",
                chunk,
            ).fetchall():
                for begins, ends, owed in owed_spans(Decimal(str(total)), dated, taken[number]):
                    rows.append((number, customer, currency, due, begins, ends, owed))
            cur.insert_rows(self.t("invoice_open_spans"), SPAN_COLUMNS, rows)

    def _apply_credit(self, cur: Cursor, position: int, e: Any) -> None:
        """Credit notes and write-offs, in log order (a request and its decision may share
        a page)."""
        kind = type(e).__qualname__
        if kind == "CreditNote.Issued":
            cur.insert_rows(self.t("credit_notes"), CREDIT_NOTE_COLUMNS, [(
                e.number, position, e.invoice_number, e.customer, e.currency, e.kind, e.net,
                e.tax, e.total, e.credit_note_date.isoformat(), e.reason, "issued",
                e.timestamp,
            )])  # fmt: skip
            self._credit_row(cur, e.number, e.invoice_number, "credit_note", e.total,
                             e.credit_note_date.isoformat(), e.timestamp)  # fmt: skip
        elif kind == "Invoice.CreditReversed":
            dated = e.effective_date.isoformat()
            cur.execute(
                f"UPDATE {self.t('credit_notes')} SET status = 'cancelled', cancelled_date = ?,"
                " cancel_reason = ? WHERE number = ?",
                (dated, e.reason, e.credit_note_number),
            )
            self._credit_reversed(cur, e.credit_note_number, dated)
        elif kind == "Invoice.WriteOffRequested":
            cur.execute(
                f"INSERT INTO {self.t('write_offs')} (id, position, invoice_number, customer,"
                " currency, amount, status, requested_by, reason, requested_at)"
                " SELECT ?, ?, number, customer, currency, ?, 'pending', ?, ?, ?"
                f" FROM {self.t('invoices')} WHERE number = ?",
                (e.write_off_id, position, e.amount, e.requested_by, e.reason, e.timestamp,
                 e.write_off_id.rpartition("-W")[0]),
            )  # fmt: skip
        elif kind == "Invoice.WrittenOff":
            dated = e.effective_date.isoformat()
            self._decided(cur, e, "approved", e.approved_by, None, dated)
            self._credit_row(cur, e.write_off_id, e.write_off_id.rpartition("-W")[0],
                             "write_off", e.amount, dated, e.timestamp)  # fmt: skip
        else:
            self._decided(cur, e, "rejected", e.rejected_by, e.reason, None)

    def _decided(
        self, cur: Cursor, e: Any, status: str, by: str, reason: str | None, dated: str | None
    ) -> None:
        cur.execute(
            f"UPDATE {self.t('write_offs')} SET status = ?, decided_by = ?, decided_role = ?,"
            " decision_reason = ?, effective_date = ?, decided_at = ? WHERE id = ?",
            (status, by, meta_of(e).get("role"), reason, dated, e.timestamp, e.write_off_id),
        )

    def _credit_row(
        self, cur: Cursor, credit_id: str, invoice: str, kind: str, amount: Any, dated: str,
        recorded_at: Any,
    ) -> None:  # fmt: skip
        row = (credit_id, invoice, kind, amount, dated, None, recorded_at)
        cur.insert_rows(self.t("invoice_credits"), CREDIT_COLUMNS, [row])

    def _credit_reversed(self, cur: Cursor, credit_id: str, dated: str) -> None:
        cur.execute(
            f"UPDATE {self.t('invoice_credits')} SET reversed_date = ? WHERE credit_id = ?",
            (dated, credit_id),
        )

    def _unapplied(self, cur: Cursor, refs: list[str]) -> None:
        """Re-derive the queue rows of the payments this page moved, exactly (in Python)."""
        for start in range(0, len(refs), CHUNK):
            chunk = refs[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            paid = cur.execute(
                f"SELECT bank_ref, amount, value_date, currency, position"
                f" FROM {self.t('payments')} WHERE bank_ref IN ({marks})",
                chunk,
            ).fetchall()
            applied: dict[str, Decimal] = {}
            for ref, amount in cur.execute(
                f"SELECT bank_ref, amount FROM {self.t('allocations')}"
                f" WHERE bank_ref IN ({marks}) AND reversed_date IS NULL",
                chunk,
            ).fetchall():
                applied[ref] = applied.get(ref, ZERO) + Decimal(str(amount))
            cur.execute(
                f"DELETE FROM {self.t('unapplied_cash')} WHERE bank_ref IN ({marks})", chunk
            )
            rows = []
            for ref, amount, value_date, currency, position in paid:
                left = Decimal(str(amount)) - applied.get(ref, ZERO)
                if left > 0:
                    rows.append((ref, value_date, currency, left, position))
            cur.insert_rows(self.t("unapplied_cash"), UNAPPLIED_COLUMNS, rows)


def owed_spans(
    total: Decimal, invoice_date: str, taken: Sequence[tuple[Decimal, str, str | None]]
) -> list[tuple[str, str, Decimal]]:
    """The days an invoice owes something, as (from, to, owed) with `to` exclusive:
    `open_items`' rule — on day D it owes its total less the allocations and credits in
    force (effective by D, not reversed by D) — as a step function of D from its date on.
    `taken` holds each allocation's or credit's (amount, effective date, reversed date)."""
    steps: dict[str, Decimal] = {}
    for amount, effective, undone in taken:
        if undone is not None and undone <= effective:
            continue  # reversed before it took effect: never in force
        steps[effective] = steps.get(effective, ZERO) - amount
        if undone is not None:
            steps[undone] = steps.get(undone, ZERO) + amount
    owed = total + sum((d for day, d in steps.items() if day <= invoice_date), ZERO)
    spans, begins = [], invoice_date
    for day in sorted(day for day in steps if day > invoice_date):
        after = owed + steps[day]
        if after == owed:
            continue
        if owed > 0:
            spans.append((begins, day, owed))
        owed, begins = after, day
    if owed > 0:
        spans.append((begins, OPEN_END, owed))
    return spans


def _reversed_credit(e: Any) -> str:
    return str(e.credit_note_number)


def _credited_invoice(e: Any) -> str:
    """The invoice a credit note or a write-off event is about."""
    number = getattr(e, "invoice_number", None)
    if number:
        return str(number)
    return str(e.write_off_id).rpartition("-W")[0]


def _bank_ref(allocation_id: str) -> str:
    return allocation_id.rsplit("-A", 1)[0]

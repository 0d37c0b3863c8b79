"""A small history for the explain, diff and trail tests, each command by a named actor in a
role, at a controlled recorded time:

| when (2024-03) | who (role) | what |
|---|---|---|
| 1st 10:00 | admin (admin) | catalog: WH1, WH2, SKU-1, SKU-2; customer C-1 |
| 1st 12:00 | paula (manager) | PO-1 for 10 × SKU-1, approved (in transit +10) |
| 3rd 12:00 | walt (warehouse) | goods receipt GRN-1 of PO-1, **effective the 1st 15:00** |
| 3rd 13:00 | ann (sales) | SO-1 for 4 × SKU-1 at 2.50, submitted: approved, 4 reserved |
| 3rd 14:00 | walt (warehouse) | shipment SH-1 of 3 (receivable) |
| 3rd 15:00 | fiona (finance) | invoice INV-2024-000001 dated 2024-03-03 |
| 4th 12:00 | fiona (finance) | payment BANK-1 of 5.00, allocated to the invoice (value date 4th) |
| 4th 13:00 | fiona (finance) | credit note (price correction 1.00 net) dated the 4th |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from domain.ledger import Ledger
from domain.values import Meta
from tests.integration.helpers import seed_catalog
from tests.integration.orders import register_customer
from tests.replay_clock import Clock

DAY1, DAY2, DAY3, DAY4 = (datetime(2024, 3, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4))
NOW = datetime(2030, 1, 1, tzinfo=UTC)
INVOICE = "INV-2024-000001"
HOUR = timedelta(hours=1)


def meta(command: str, actor: str, role: str) -> Meta:
    """A command's metadata; its time (and so its movements' effective time) is the clock's."""
    from eventsourcing import domain

    return Meta(actor=actor, correlation_id=f"corr-{uuid.uuid4().hex[:8]}", command=command,
                at=domain.datetime_now_with_tzinfo(), role=role)  # fmt: skip


@dataclass(frozen=True)
class Marks:
    """Positions after each step."""

    catalog: int
    po_approved: int
    received: int
    reserved: int
    shipped: int
    invoiced: int
    paid: int
    credited: int


def build(ledger: Ledger, clock: Clock) -> Marks:
    clock.set(DAY1 - 2 * HOUR)
    seed_catalog(ledger)
    register_customer(ledger)
    catalog = ledger.head()
    clock.set(DAY1)
    ledger.create_purchase_order(
        meta("create_purchase_order", "paula", "manager"), supplier="ACME", warehouse="WH1",
        currency_code="EUR", number="PO-1",
        lines=[{"sku": "SKU-1", "quantity": "10", "unit_cost": "2"}],
    )  # fmt: skip
    po = ledger.approve_purchase_order(meta("approve_purchase_order", "paula", "manager"),
                                       number="PO-1").position  # fmt: skip
    clock.set(DAY3)
    received = ledger.receive_purchase_order(
        meta("receive_purchase_order", "walt", "warehouse"), number="PO-1", lines={1: "10"},
        receipt_ref="GRN-1", effective_at=DAY1 + 3 * HOUR,
    ).position  # fmt: skip
    clock.set(DAY3 + HOUR)
    ledger.create_sales_order(
        meta("create_sales_order", "ann", "sales"), customer="C-1", warehouse="WH1",
        lines=[{"sku": "SKU-1", "quantity": "4", "unit_price": "2.50"}], currency_code="EUR",
        salesperson="ann", number="SO-1",
    )  # fmt: skip
    reserved = ledger.submit_sales_order(meta("submit_sales_order", "ann", "sales"),
                                         number="SO-1").position  # fmt: skip
    clock.set(DAY3 + 2 * HOUR)
    shipped = ledger.ship_sales_order(
        meta("ship_sales_order", "walt", "warehouse"), number="SO-1", lines={1: "3"},
        carrier="DHL", tracking_number="T-1", shipment_ref="SH-1",
    ).position  # fmt: skip
    clock.set(DAY3 + 3 * HOUR)
    invoiced = ledger.issue_invoice(
        meta("issue_invoice", "fiona", "finance"), customer="C-1", invoice_date=date(2024, 3, 3),
        shipments=[{"order_number": "SO-1", "shipment_ref": "SH-1"}],
    ).position  # fmt: skip
    clock.set(DAY4)
    ledger.record_payment(
        meta("record_payment", "fiona", "finance"), bank_ref="BANK-1", payer="Customer C-1",
        amount="5.00", currency_code="EUR", value_date=date(2024, 3, 4),
    )  # fmt: skip
    paid = ledger.allocate_payment(
        meta("allocate_payment", "fiona", "finance"), bank_ref="BANK-1",
        invoice_number=INVOICE, amount="5.00",
    ).position  # fmt: skip
    clock.set(DAY4 + HOUR)
    credited = ledger.issue_credit_note(
        meta("issue_credit_note", "fiona", "finance"), invoice_number=INVOICE,
        kind="price_correction", reason="damaged box", amount="1.00",
        credit_note_date=date(2024, 3, 4),
    ).position  # fmt: skip
    return Marks(catalog, po, received, reserved, shipped, invoiced, paid, credited)

"""A small receivables history made by commands, for the AR read-model tests.

Customers C-1 (EUR, 30 days) and C-2 (USD, due on the invoice date):

| invoice | customer | total | dated | due |
|---|---|---|---|---|
| INV-2026-000001 | C-1 | 100.00 EUR | 2026-01-10 | 2026-02-09 |
| INV-2026-000002 | C-1 | 200.00 EUR | 2026-02-05 | 2026-03-07 |
| INV-2026-000003 | C-2 | 80.00 USD | 2026-02-20 | 2026-02-20 |
| INV-2026-000004 | C-1 | 50.00 EUR | 2026-03-10 | 2026-04-09 |

BANK-1 pays INV-1 in full on 02-15; BANK-2 pays 150.00 of INV-2 on 03-05; BANK-3 pays
INV-3 on 03-01, reversed (bounced) with effect from 03-20; credit note CN-1 takes 20.00 off
INV-2 from 03-15 (a row written straight into `invoice_credits`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from api.runtime import Runtime
from domain.ledger import Ledger
from projections.receivables import ReceivablesProjection
from tests.conftest import command_meta as meta
from tests.integration.helpers import produce

INV1, INV2, INV3, INV4 = (f"INV-2026-00000{n}" for n in range(1, 5))
CREDIT_COLUMNS = (
    "credit_id, invoice_number, kind, amount, effective_date, reversed_date, recorded_at"
)


def customer(ledger: Ledger, code: str, terms: int, currency: str) -> None:
    ledger.register_customer(
        meta("register_customer"), code_=code, name=f"Customer {code}", contacts=[],
        billing_address="1 Bill St", shipping_address="2 Ship Rd", region="north",
        payment_terms_days=terms, credit_limit="0", currency_code=currency,
    )  # fmt: skip


def invoice(ledger: Ledger, n: int, who: str, amount: str, on: date, currency: str = "EUR") -> str:
    """Ship one unit of SKU-1 at `amount` to `who` (order SO-n, shipment SH-n) and bill it."""
    number = f"SO-{n}"
    ledger.create_sales_order(
        meta("create_sales_order"), number=number, customer=who, warehouse="WH1",
        currency_code=currency, salesperson="ann",
        lines=[{"sku": "SKU-1", "quantity": "1", "unit_price": amount}],
    )  # fmt: skip
    ledger.submit_sales_order(meta("submit_sales_order"), number=number)
    ledger.ship_sales_order(
        meta("ship_sales_order"), number=number, lines={1: "1"}, carrier="DHL",
        tracking_number=f"T-{n}", shipment_ref=f"SH-{n}",
    )  # fmt: skip
    outcome = ledger.issue_invoice(
        meta("issue_invoice"), customer=who, invoice_date=on,
        shipments=[{"order_number": number, "shipment_ref": f"SH-{n}"}],
    )  # fmt: skip
    return str(outcome.result["number"])


def pay(
    ledger: Ledger, ref: str, number: str, amount: str, on: date, currency: str = "EUR"
) -> None:
    """Receive `amount` on `on` and allocate all of it to invoice `number`, effective `on`."""
    ledger.record_payment(
        meta("record_payment"), bank_ref=ref, payer="Payer", amount=amount,
        currency_code=currency, value_date=on,
    )  # fmt: skip
    ledger.allocate_payment(
        meta("allocate_payment"), bank_ref=ref, invoice_number=number, amount=amount
    )


def credit(
    runtime: Runtime,
    credit_id: str,
    number: str,
    amount: str,
    on: date,
    reversed_on: date | None = None,
    kind: str = "credit_note",
) -> None:
    with runtime.store.transaction() as cur:
        cur.execute(
            f"INSERT INTO invoice_credits ({CREDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (credit_id, number, kind, Decimal(amount), on.isoformat(),
             reversed_on.isoformat() if reversed_on else None, datetime.now(UTC)),
        )  # fmt: skip
        ReceivablesProjection().respan(cur, [number])  # what the projection derives from it


def history(runtime: Runtime, ledger: Ledger) -> None:
    """The history in the module docstring, projected."""
    produce(ledger, "SKU-1", "100")
    customer(ledger, "C-1", 30, "EUR")
    customer(ledger, "C-2", 0, "USD")
    assert invoice(ledger, 1, "C-1", "100.00", date(2026, 1, 10)) == INV1
    assert invoice(ledger, 2, "C-1", "200.00", date(2026, 2, 5)) == INV2
    assert invoice(ledger, 3, "C-2", "80.00", date(2026, 2, 20), "USD") == INV3
    assert invoice(ledger, 4, "C-1", "50.00", date(2026, 3, 10)) == INV4
    pay(ledger, "BANK-1", INV1, "100.00", date(2026, 2, 15))
    pay(ledger, "BANK-2", INV2, "150.00", date(2026, 3, 5))
    pay(ledger, "BANK-3", INV3, "80.00", date(2026, 3, 1), "USD")
    # Recorded today, effective 03-20: what was known of March 1–19 does not change.
    ledger.unallocate_payment(
        meta("unallocate_payment"), bank_ref="BANK-3", allocation_id="BANK-3-A1",
        reason="bounced", effective_date=date(2026, 3, 20),
    )  # fmt: skip
    runtime.runner.catch_up("receivables")
    credit(runtime, "CN-1", INV2, "20.00", date(2026, 3, 15))

"""`orderledger finance match` on real SQLite and PostgreSQL: a summary table, and a clear
one-line error for a payment that does not exist."""

from __future__ import annotations

from datetime import date

from api.runtime import open_runtime
from api.settings import Settings
from tests.cli.test_cli import invoke
from tests.conftest import command_meta as meta
from tests.integration.helpers import seed_catalog
from tests.integration.orders import register_customer
from tests.integration.test_payments import INV1
from tests.integration.test_receivables import bill, two_shipments


def seed(settings: Settings) -> None:
    """C-1 owes INV-2026-000001 (6.00) and -000002 (9.00); BANK-1 names the first, BANK-2
    is from nobody we know."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        seed_catalog(ledger)
        register_customer(ledger)
        two_shipments(ledger)
        bill(ledger, "SH-1", invoice_date=date(2026, 3, 1))
        bill(ledger, "SH-2", invoice_date=date(2026, 3, 10))
        for ref, amount, remittance in (("BANK-1", "6.00", f"re {INV1}"), ("BANK-2", "3.00", "")):
            ledger.record_payment(
                meta(), bank_ref=ref, payer="Nobody Known", amount=amount, currency_code="EUR",
                value_date=date(2026, 3, 21), remittance=remittance,
            )  # fmt: skip
    finally:
        runtime.close()


def test_finance_match_runs_the_rules_and_prints_what_each_matched(settings: Settings) -> None:
    seed(settings)

    code, output = invoke(settings, "finance", "match")

    assert code == 0, output
    rows = {line.split("│")[1].strip(): line.split("│")[2:] for line in output.splitlines()
            if line.count("│") >= 3}  # fmt: skip
    assert rows["invoice_reference"][0].strip() == "1"
    assert rows["invoice_reference"][1].strip() == "6.00 EUR"
    assert rows["exact_amount_customer"][0].strip() == "0"
    assert rows["payments examined"][0].strip() == "2"
    assert rows["payments unmatched (left in the queue)"][0].strip() == "1"
    runtime = open_runtime(settings, start_projections=False)
    try:
        (allocation,) = runtime.ledger.payment("BANK-1").allocations.values()
        assert (allocation["invoice_number"], allocation["rule"]) == (INV1, "invoice_reference")
    finally:
        runtime.close()


def test_finance_match_of_an_unknown_payment_is_one_line_and_non_zero(settings: Settings) -> None:
    seed(settings)

    code, output = invoke(settings, "finance", "match", "--bank-ref", "BANK-404")

    assert code == 1
    assert output.strip().splitlines() == ["error: payment 'BANK-404' not found"]

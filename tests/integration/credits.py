"""Shared steps for the credit-note, write-off and statement tests: an invoice with tax."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.application import Outcome
from domain.ledger import Ledger
from domain.values import Meta
from tests.conftest import command_meta
from tests.integration.helpers import produce
from tests.integration.test_receivables import order, ship

D = Decimal
INV1 = "INV-2026-000001"
INV2 = "INV-2026-000002"


def meta(actor: str = "tester", role: str | None = None) -> Meta:
    return replace(command_meta(actor=actor), role=role)


@pytest.fixture
def taxed(sales: Ledger) -> Iterator[Ledger]:
    """The same store, taxing receivables at 19 %."""
    ledger = Ledger(sales.env, tax_rate=D("0.19"))
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def invoiced(taxed: Ledger) -> Ledger:
    """INV-2026-000001 (2026-03-01, due 03-31) bills SO-1's two shipments, taxed at 19 %:

    line 1: 10 × SKU-1 at 19.99 less 10 % — SH-1 ships 3 (53.97), SH-2 ships 7 (125.94);
    line 2: 3 × SKU-2 at 0.05 less 10 % — SH-1 ships 3 (0.135 → 0.14).
    SH-1: net 54.11, tax 10.28; SH-2: net 125.94, tax 23.93; invoice: 180.05 + 34.21 = 214.26.
    """
    produce(taxed, "SKU-1", "10")
    produce(taxed, "SKU-2", "3", ref="MO-2")
    order(taxed, [("SKU-1", "10", "19.99", "0.1"), ("SKU-2", "3", "0.05", "0.1")])
    ship(taxed, {1: "3", 2: "3"}, "SH-1")
    ship(taxed, {1: "7"}, "SH-2")
    issued = taxed.issue_invoice(
        meta(), customer="C-1", invoice_date=date(2026, 3, 1),
        shipments=[{"order_number": "SO-1", "shipment_ref": ref} for ref in ("SH-1", "SH-2")],
    )  # fmt: skip
    assert (issued.result["number"], issued.result["total"]) == (INV1, "214.26")
    return taxed


def give_back(
    ledger: Ledger, lines: list[dict[str, Any]], on: date, invoice: str = INV1
) -> Outcome:
    return ledger.issue_credit_note(
        meta(), invoice_number=invoice, kind="return", reason="returned damaged",
        lines=lines, credit_note_date=on,
    )  # fmt: skip


def correct(ledger: Ledger, amount: str, on: date, invoice: str = INV1) -> Outcome:
    return ledger.issue_credit_note(
        meta(), invoice_number=invoice, kind="price_correction", reason="agreed discount",
        amount=amount, credit_note_date=on,
    )  # fmt: skip


def ask_write_off(ledger: Ledger, amount: str, invoice: str = INV1, actor: str = "ann") -> str:
    outcome = ledger.request_write_off(
        meta(actor), invoice_number=invoice, amount=amount, reason="not worth chasing"
    )
    return str(outcome.result["write_off_id"])


def approve(
    ledger: Ledger, write_off_id: str, on: date | None = None, actor: str = "boss",
    role: str | None = "finance_manager",
) -> Outcome:  # fmt: skip
    decider = meta(actor, role)
    return ledger.approve_write_off(decider, write_off_id=write_off_id, effective_date=on)

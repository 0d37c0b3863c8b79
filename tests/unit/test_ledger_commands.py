"""Ledger command methods on the in-memory store: validation before anything is saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.exceptions import AlreadyExists, InvalidInput, NotFound, RuleViolation
from domain.ledger import Ledger
from domain.stock_items import StockItem
from tests.conftest import command_meta as meta
from tests.unit.given import D


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.register_warehouse(meta(), code_="WH1", name="Main")
    app.register_warehouse(meta(), code_="WH2", name="Overflow")
    for sku in ("SKU-1", "SKU-2"):
        app.register_product(
            meta(), sku=sku, name=sku, unit="ea", make_or_buy="buy", standard=True,
            list_price="10", standard_cost="4", currency_code="EUR",
        )  # fmt: skip
    yield app
    app.close()


def po(ledger: Ledger, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "supplier": "ACME",
        "warehouse": "WH1",
        "lines": [{"sku": "SKU-1", "quantity": "10", "unit_cost": "2"}],
        "currency_code": "EUR",
        "number": "PO-1",
        **overrides,
    }
    return ledger.create_purchase_order(meta(), **args)


def refused_without_saving(ledger: Ledger, error: type[Exception], call: Any) -> Any:
    head = ledger.head()
    with pytest.raises(error) as raised:
        call()
    assert ledger.head() == head
    return raised.value


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"sku": "SKU-1", "quantity": 1.5}],
        [{"sku": "SKU-1", "quantity": "0"}],
        [{"sku": "SKU 1", "quantity": "1"}],
        [{"sku": "SKU-1", "quantity": "1", "unit_cost": "-1"}],
        [{"sku": "SKU-1"}],
    ],
    ids=["no-lines", "float", "zero", "bad-sku", "negative-cost", "no-quantity"],
)
def test_a_purchase_order_with_bad_lines_is_refused_before_saving(
    ledger: Ledger, lines: Any
) -> None:
    refused_without_saving(ledger, InvalidInput, lambda: po(ledger, lines=lines))


def test_a_receipt_tolerance_above_one_hundred_percent_is_refused(ledger: Ledger) -> None:
    refused_without_saving(ledger, InvalidInput, lambda: po(ledger, receipt_tolerance="1.5"))


def test_a_purchase_order_for_an_unknown_product_is_refused(ledger: Ledger) -> None:
    lines = [{"sku": "SKU-404", "quantity": "1"}]
    refused_without_saving(ledger, NotFound, lambda: po(ledger, lines=lines))


def test_a_purchase_order_number_can_only_be_used_once(ledger: Ledger) -> None:
    po(ledger)
    refused_without_saving(ledger, AlreadyExists, lambda: po(ledger))


def test_a_transfer_within_one_warehouse_is_refused(ledger: Ledger) -> None:
    call = lambda: ledger.transfer(  # noqa: E731
        meta(), sku="SKU-1", from_warehouse="WH1", to_warehouse="WH1", quantity_="1"
    )
    refused_without_saving(ledger, InvalidInput, call)


def test_an_empty_receipt_is_refused(ledger: Ledger) -> None:
    po(ledger)
    ledger.approve_purchase_order(meta(), number="PO-1")
    call = lambda: ledger.receive_purchase_order(meta(), number="PO-1", lines={})  # noqa: E731
    refused_without_saving(ledger, InvalidInput, call)


def test_approving_puts_every_line_in_transit_on_its_stock_item(ledger: Ledger) -> None:
    lines = [
        {"sku": "SKU-1", "quantity": "10"},
        {"sku": "SKU-2", "quantity": "3"},
        {"sku": "SKU-1", "quantity": "2.5"},
    ]
    po(ledger, lines=lines)
    ledger.approve_purchase_order(meta(), number="PO-1")
    first = ledger.stock_item("SKU-1", "WH1")
    second = ledger.stock_item("SKU-2", "WH1")
    assert (first.in_transit, first.inbound) == (D("12.5"), {"PO-1": D("12.5")})
    assert (second.in_transit, second.inbound) == (D(3), {"PO-1": D(3)})


def test_reserving_stock_that_was_never_opened_is_refused(ledger: Ledger) -> None:
    rule = refused_without_saving(
        ledger,
        RuleViolation,
        lambda: ledger.reserve(
            meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="1"
        ),
    ).rule
    assert rule == "reservation-exceeds-available"
    assert StockItem.create_id("SKU-1", "WH1") not in ledger.repository


def test_releasing_stock_that_was_never_opened_is_not_found(ledger: Ledger) -> None:
    call = lambda: ledger.release(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1")  # noqa: E731
    refused_without_saving(ledger, NotFound, call)


@pytest.mark.parametrize("line_no", ["one", 1.7, "1.0"], ids=["word", "float", "decimal-text"])
def test_a_receipt_line_number_that_is_not_a_whole_number_is_invalid_input(
    ledger: Ledger, line_no: Any
) -> None:
    po(ledger)
    ledger.approve_purchase_order(meta(), number="PO-1")
    call = lambda: ledger.receive_purchase_order(meta(), number="PO-1", lines={line_no: "1"})  # noqa: E731
    refused_without_saving(ledger, InvalidInput, call)


def test_a_receipt_naming_one_line_twice_is_invalid_input(ledger: Ledger) -> None:
    po(ledger)
    ledger.approve_purchase_order(meta(), number="PO-1")
    lines: dict[Any, str] = {1: "2", "1": "3"}  # both name line 1: one quantity would be lost
    call = lambda: ledger.receive_purchase_order(meta(), number="PO-1", lines=lines)  # noqa: E731
    refused_without_saving(ledger, InvalidInput, call)

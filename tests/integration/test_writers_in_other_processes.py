"""A second writer (another API or worker process) never makes this process decide on stale
stock: each ledger trusts what it saved itself only as far as a version check allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.runtime import Runtime
from api.settings import Settings
from domain.exceptions import RuleViolation, StaleVersion
from domain.ledger import Ledger
from tests.conftest import command_meta as meta


@pytest.fixture
def other(settings: Settings, ledger: Ledger) -> Iterator[Ledger]:
    """A second ledger on the same store, as another process would open it."""
    second = Ledger(settings.eventsourcing_env())
    yield second
    second.close()


def stock(ledger: Ledger, quantity: str) -> None:
    ledger.receive_finished_goods(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_=quantity
    )


def reserve(ledger: Ledger, order: str, quantity: str) -> None:
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref=order, quantity_=quantity)


def test_stock_added_elsewhere_can_be_reserved_here(ledger: Ledger, other: Ledger) -> None:
    stock(ledger, "5")
    reserve(ledger, "SO-1", "5")  # this process now remembers: 0 available
    stock(other, "10")
    reserve(ledger, "SO-2", "10")
    assert other.stock_item("SKU-1", "WH1").locked == 15


def test_stock_reserved_elsewhere_is_never_reserved_twice(ledger: Ledger, other: Ledger) -> None:
    stock(ledger, "10")
    reserve(ledger, "SO-1", "1")  # this process remembers: 9 available
    reserve(other, "SO-2", "9")
    with pytest.raises(RuleViolation) as refused:
        reserve(ledger, "SO-3", "1")
    assert refused.value.rule == "reservation-exceeds-available"
    item = other.stock_item("SKU-1", "WH1")
    assert (item.physical, item.locked, item.available) == (10, 10, 0)


def test_if_match_is_checked_against_the_store_not_the_memory(
    ledger: Ledger, other: Ledger, runtime: Runtime
) -> None:
    stock(ledger, "10")
    remembered = ledger.stock_item("SKU-1", "WH1").version
    stock(other, "1")
    current = other.stock_item("SKU-1", "WH1").version
    with pytest.raises(StaleVersion):
        ledger.count_stock(
            meta(), sku="SKU-1", warehouse="WH1", counted="3", reason="recount",
            expected_version=remembered,
        )  # fmt: skip
    outcome = ledger.count_stock(
        meta(), sku="SKU-1", warehouse="WH1", counted="3", reason="recount",
        expected_version=current,
    )  # fmt: skip
    assert outcome.result["physical"] == "3"
    assert other.stock_item("SKU-1", "WH1").physical == 3

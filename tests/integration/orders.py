"""Shared steps for the order-centre integration tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from domain.application import Outcome
from domain.ledger import Ledger
from tests.conftest import command_meta as meta
from tests.integration.helpers import stored_events


def register_customer(ledger: Ledger, code: str = "C-1") -> None:
    ledger.register_customer(
        meta("register_customer"), code_=code, name=f"Customer {code}",
        contacts=[{"name": "Eve", "email": "eve@example.org"}], billing_address="1 Bill St",
        shipping_address="2 Ship Rd", region="north", payment_terms_days=30,
        credit_limit="5000", currency_code="EUR",
    )  # fmt: skip


def create(ledger: Ledger, number: str, lines: list[tuple[str, str]], **extra: Any) -> Outcome:
    return ledger.create_sales_order(
        meta("create_sales_order"), customer=extra.pop("customer", "C-1"),
        warehouse=extra.pop("warehouse", "WH1"),
        lines=[{"sku": sku, "quantity": qty, "unit_price": "2.50"} for sku, qty in lines],
        currency_code="EUR", salesperson="ann", number=number, **extra,
    )  # fmt: skip


def approve(ledger: Ledger, number: str = "SO-1", **extra: Any) -> Outcome:
    return ledger.submit_sales_order(meta("submit_sales_order"), number=number, **extra)


def saved_by(ledger: Ledger, outcome: Outcome, since: int) -> list[tuple[int, Any]]:
    """The events one command stored: they follow `since` and end at its position."""
    found = stored_events(ledger, since + 1)
    assert found, "the command stored nothing"
    assert found[-1][0] == outcome.position
    positions = [p for p, _ in found]
    assert positions == list(range(positions[0], positions[0] + len(positions)))
    # One save: every event carries the one command's metadata.
    assert len({e.meta["correlation_id"] for _, e in found}) == 1
    return found


def fresh(ledger: Ledger) -> Ledger:
    """A second application on the same store: nothing from the first one's caches."""
    return type(ledger)(ledger.env)


def race(count: int, body: Callable[[int], Any]) -> list[Any]:
    """Run body(n) in `count` threads released together; return results (or errors) by n."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(n: int) -> None:
        start.wait(30)
        try:
            results[n] = body(n)
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results

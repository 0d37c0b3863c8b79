"""The commands the faults write: a catalog to start from and a stream of everyday work."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from domain.application import Outcome
from domain.exceptions import DomainError
from domain.ledger import Ledger
from domain.values import Meta

WAREHOUSES = ("WH1", "WH2")
SKUS = ("SKU-1", "SKU-2", "SKU-3")
CUSTOMER = "C-1"


def meta(command: str, actor: str = "faults") -> Meta:
    return Meta(actor=actor, correlation_id=uuid.uuid4().hex, command=command,
                at=datetime.now(UTC))  # fmt: skip


def seed_catalog(ledger: Ledger, skus: tuple[str, ...] = SKUS) -> None:
    """Warehouses WH1 and WH2, bought products, and customer C-1."""
    for code in WAREHOUSES:
        ledger.register_warehouse(meta("register_warehouse"), code_=code, name=f"Warehouse {code}")
    for sku in skus:
        ledger.register_product(
            meta("register_product"), sku=sku, name=f"Product {sku}", unit="ea",
            make_or_buy="buy", standard=True, list_price="10.00", standard_cost="4.25",
            currency_code="EUR",
        )  # fmt: skip
    ledger.register_customer(
        meta("register_customer"), code_=CUSTOMER, name="Customer One",
        contacts=[{"name": "Eve", "email": "eve@example.org"}], billing_address="1 Bill St",
        shipping_address="2 Ship Rd", region="north", payment_terms_days=30,
        credit_limit="1000000", currency_code="EUR",
    )  # fmt: skip


def everyday_round(ledger: Ledger, n: int) -> int:
    """One round of stock, purchasing and order work on one SKU; returns the commands sent.

    Every projection has something to fold: movements, a purchase order, a sales order
    through its workflow, and now and then a safety-stock level the follower must answer
    with a requisition."""
    sku = SKUS[n % len(SKUS)]
    steps: list[Callable[[], Outcome]] = [
        lambda: ledger.receive_finished_goods(
            meta("receive_finished_goods"), sku=sku, warehouse="WH1", production_ref=f"MO-{n}",
            quantity_="6"),
        lambda: ledger.reserve(meta("reserve"), sku=sku, warehouse="WH1", order_ref=f"R-{n}",
                               quantity_="2"),
        lambda: ledger.issue_for_shipment(
            meta("issue_for_shipment"), sku=sku, warehouse="WH1", order_ref=f"R-{n}",
            quantity_="1", shipment_ref=f"SH-{n}"),
        lambda: ledger.transfer(meta("transfer"), sku=sku, from_warehouse="WH1",
                                to_warehouse="WH2", quantity_="1", transfer_ref=f"TRF-{n}"),
        lambda: ledger.receive_transfer(meta("receive_transfer"), sku=sku, warehouse="WH2",
                                        transfer_ref=f"TRF-{n}", quantity_="1"),
        lambda: ledger.create_sales_order(
            meta("create_sales_order"), customer=CUSTOMER, warehouse="WH1",
            lines=[{"sku": sku, "quantity": "1", "unit_price": "9.50"}], currency_code="EUR",
            salesperson="ann", number=f"SO-{n}"),
        lambda: ledger.submit_sales_order(meta("submit_sales_order"), number=f"SO-{n}"),
    ]  # fmt: skip
    if n % 5 == 0:
        steps += _purchase(ledger, n, sku)
    if n % 9 == 0:
        level = "500" if n % 18 == 0 else "0"
        steps.append(lambda: ledger.set_safety_stock(
            meta("set_safety_stock"), sku=sku, warehouse="WH2", level=level))  # fmt: skip
    for step in steps:
        with contextlib.suppress(DomainError):  # a refusal is an answer too: it stores nothing
            step()
    return len(steps)


def _purchase(ledger: Ledger, n: int, sku: str) -> list[Callable[[], Outcome]]:
    number = f"PO-{n}"
    return [
        lambda: ledger.create_purchase_order(
            meta("create_purchase_order"), supplier="ACME", warehouse="WH1", number=number,
            lines=[{"sku": sku, "quantity": "4", "unit_cost": "2.5"}], currency_code="EUR"),
        lambda: ledger.approve_purchase_order(meta("approve_purchase_order"), number=number),
        lambda: ledger.receive_purchase_order(meta("receive_purchase_order"), number=number,
                                              lines={1: "4"}, receipt_ref=f"GRN-{n}"),
    ]  # fmt: skip


class Writer:
    """Rounds of everyday work on a thread, until stopped; counts the commands sent."""

    def __init__(self, ledger: Ledger, first_round: int = 1, pause: float = 0.0) -> None:
        self.ledger = ledger
        self.pause = pause  # between rounds: a log the final replay can check in seconds
        self.rounds = first_round
        self.commands = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults-writer", daemon=True)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.error is not None:
            raise self.error
        return self.commands

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.commands += everyday_round(self.ledger, self.rounds)
                self.rounds += 1
                self._stop.wait(self.pause)
        except BaseException as error:  # the fault reports it; the thread must not hide it
            self.error = error

"""A company's log, at bench scale: orders through their stages, stock, invoices and cash.

    python -m bench.mixed_log --events 20000     # fill a temp SQLite ledger, print the mix

Every event is recorded by the ledger's own command methods (validation, pricing, stage
changes, reservations, receivables, idempotency records) — the HTTP layer is all that is
skipped. What makes a million events affordable is the saving: `BufferedLedger` decides
each command on the aggregates as this process holds them (the command path's trusting
first attempt) and records the events of many commands in one transaction.

The mix per order: created (an idempotency key, as a web shop sends), submitted (approved,
stock reserved), shipped with its receivable, delivery confirmed, invoiced, and (most)
paid by a bank payment allocated to the invoice. Purchase orders restock the SKUs as
reservations use them up (created, approved: in transit; received), and a stock count
now and then corrects a warehouse.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate

from api.settings import Settings
from bench.commands import claim, meta
from domain.invoices import Invoice
from domain.ledger import Ledger
from domain.sales_orders import sales_order_id
from domain.stock_items import StockItem
from domain.values import Meta

WAREHOUSES = ("WH1", "WH2")
WAVE = 200  # orders taken through their stages together (the commands of one flush)
RESTOCK = Decimal(400)  # bought per SKU and warehouse when its stock runs low
PAID_SHARE = 9  # of every 10 invoices are paid (the rest stay open for ageing)
DAY0 = date(2025, 1, 6)
CACHE = 50_000  # aggregates held between flushes; more than a wave ever touches


class BufferedLedger(Ledger):
    """The ledger whose saves are held back and recorded many commands per transaction.

    Only for filling a bench log from one process: a decision must never be retried (there
    is no other writer, and a refused command is a bug in the generator), because a retry
    would read from the store, which does not yet hold what is buffered.
    """

    name = Ledger.name  # the same tables as the ledger's (the library names them by class)

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__({**env, "AGGREGATE_CACHE_MAXSIZE": str(CACHE)})
        self._buffer = ProcessingEvent[Any]()

    def save_with_meta(
        self, meta: Meta, *objs: Aggregate | None, events: Iterable[Any] = ()
    ) -> int:
        pending = [e for obj in objs if obj is not None for e in obj.collect_events()]
        pending.extend(events)
        stamp = meta.as_dict()
        for domain_event in pending:
            object.__setattr__(domain_event, "meta", stamp)
        self._buffer.events.extend(pending)
        assert self._saved is not None
        for obj in objs:
            if obj is not None:
                self._saved.put(obj.id, obj)
        return 0

    def flush(self) -> int:
        """Record what the buffered commands decided, in one transaction; the new head."""
        if self._buffer.events:
            self._record(self._buffer)
            self._buffer = ProcessingEvent[Any]()
        return self.head()

    def held(self, aggregate: Any) -> Any:
        """An aggregate as the buffered commands left it (never change it)."""
        assert self._saved is not None
        return self._saved.get(aggregate)

    def _forget_used(self) -> None:
        raise RuntimeError("a bench command was refused or conflicted: the generator is wrong")


class Company:
    """Master data and the running counters of one generated company."""

    def __init__(self, ledger: BufferedLedger, skus: int, customers: int) -> None:
        self.ledger = ledger
        self.skus = [f"MX-{n:04d}" for n in range(skus)]
        self.customers = [f"C-MX-{n:04d}" for n in range(customers)]
        self.stock: dict[tuple[str, str], Decimal] = {}
        self.orders = self.purchases = self.payments = self.counts = 0
        self.day = 0

    def meta(self, command: str) -> Meta:
        stamped = meta(command)
        return Meta(stamped.actor, stamped.correlation_id, command, self.now())

    def now(self) -> datetime:
        return datetime.combine(DAY0 + timedelta(days=self.day), datetime.min.time(), UTC)

    def register(self) -> None:
        ledger = self.ledger
        for code in WAREHOUSES:
            ledger.register_warehouse(self.meta("register_warehouse"), code_=code, name=code)
        for n, sku in enumerate(self.skus):
            ledger.register_product(
                self.meta("register_product"), sku=sku, name=f"Part {sku}", unit="ea",
                make_or_buy="buy", standard=True, list_price=f"{10 + n % 90}.50",
                standard_cost=f"{4 + n % 40}.25", currency_code="EUR",
            )  # fmt: skip
        for n, code in enumerate(self.customers):
            ledger.register_customer(
                self.meta("register_customer"), code_=code, name=f"Customer {n}", contacts=[],
                billing_address=f"Road {n}", shipping_address=f"Dock {n}",
                region=("north", "south", "east", "west")[n % 4],
                payment_terms_days=(14, 30, 60)[n % 3], credit_limit="0", currency_code="EUR",
            )  # fmt: skip
        ledger.flush()


def generate_mixed_log(settings: Settings, target: int, *, skus: int = 500) -> int:
    """Fill `settings`' empty event store to about `target` events; return the head."""
    ledger = BufferedLedger(settings.eventsourcing_env())
    try:
        company = Company(ledger, skus, customers=max(20, skus // 2))
        company.register()
        head = ledger.head()
        while head < target:
            head = _wave(company)
        return head
    finally:
        ledger.close()


def _wave(company: Company) -> int:
    """A business day: restock what runs low, then WAVE orders through every stage."""
    company.day += 1
    numbers = [_order(company) for _ in range(WAVE)]
    for number, shipment in [(n, _fulfil(company, n)) for n in numbers]:
        _bill(company, number, shipment)
    if company.day % 5 == 0:
        _count(company)
    return company.ledger.flush()


def _order(company: Company) -> str:
    ledger, n = company.ledger, company.orders
    company.orders += 1
    number, warehouse = f"SO-MX-{n:07d}", WAREHOUSES[n % 2]
    lines = []
    for k in range(1 + n % 3):
        sku = company.skus[(n * 7 + k * 13) % len(company.skus)]
        quantity = Decimal(1 + (n + k) % 5)
        _ensure_stock(company, sku, warehouse, quantity)
        company.stock[(sku, warehouse)] -= quantity
        lines.append({"sku": sku, "quantity": str(quantity), "unit_price": f"{12 + k}.90"})
    ledger.create_sales_order(
        company.meta("create_sales_order"), number=number,
        customer=company.customers[n % len(company.customers)], warehouse=warehouse,
        lines=lines, currency_code="EUR", salesperson=f"sales.{n % 7}", channel="shop",
        requested_delivery=company.now().date() + timedelta(days=7),
        idempotency=claim(f"mx-create-{number}"),
    )  # fmt: skip
    ledger.submit_sales_order(company.meta("submit_sales_order"), number=number)
    return number


def _ensure_stock(company: Company, sku: str, warehouse: str, wanted: Decimal) -> None:
    """Buy when the stock left would not cover `wanted`: a purchase order, its approval
    (in transit) and its receipt."""
    key = (sku, warehouse)
    if company.stock.get(key, Decimal(0)) >= wanted:
        return
    ledger, number = company.ledger, f"PO-MX-{company.purchases:06d}"
    company.purchases += 1
    ledger.create_purchase_order(
        company.meta("create_purchase_order"), number=number, supplier="Supplier A",
        warehouse=warehouse, lines=[{"sku": sku, "quantity": str(RESTOCK), "unit_cost": "3.10"}],
        currency_code="EUR",
    )  # fmt: skip
    ledger.approve_purchase_order(company.meta("approve_purchase_order"), number=number)
    ledger.receive_purchase_order(
        company.meta("receive_purchase_order"), number=number, lines={1: RESTOCK}
    )
    company.stock[key] = company.stock.get(key, Decimal(0)) + RESTOCK


def _fulfil(company: Company, number: str) -> str:
    """Ship everything the order reserved and have the customer sign for it."""
    ledger = company.ledger
    order = ledger.held(sales_order_id(number))
    lines = {int(key): qty for key, qty in order.reserved.items()}
    shipped = ledger.ship_sales_order(
        company.meta("ship_sales_order"), number=number, lines=lines, carrier="DHL",
        tracking_number=f"T{number}", idempotency=claim(f"mx-ship-{number}"),
    )  # fmt: skip
    shipment = str(shipped.result["shipment_ref"])
    ledger.confirm_delivery(
        company.meta("confirm_delivery"), number=number, shipment_ref=shipment, signed_by="Dock"
    )
    return shipment


def _bill(company: Company, number: str, shipment: str) -> None:
    """Invoice the shipment; most invoices are paid by a payment allocated to them."""
    ledger = company.ledger
    order = ledger.held(sales_order_id(number))
    issued = ledger.issue_invoice(
        company.meta("issue_invoice"), customer=order.customer,
        shipments=[{"order_number": number, "shipment_ref": shipment}],
        invoice_date=company.now().date(),
    )  # fmt: skip
    company.payments += 1
    if company.payments % 10 >= PAID_SHARE:
        return
    invoice = ledger.held(Invoice.create_id(str(issued.result["number"])))
    bank_ref = f"BNK-MX-{company.payments:07d}"
    ledger.record_payment(
        company.meta("record_payment"), bank_ref=bank_ref, payer=order.customer,
        amount=invoice.total, currency_code="EUR", value_date=company.now().date(),
        remittance=f"invoice {invoice.number}",
    )  # fmt: skip
    ledger.allocate_payment(
        company.meta("allocate_payment"), bank_ref=bank_ref, invoice_number=invoice.number,
        amount=invoice.total, rule="reference",
    )  # fmt: skip


def _count(company: Company) -> None:
    """A stock count finds one unit missing of a few SKUs."""
    for k in range(5):
        sku = company.skus[(company.counts * 5 + k) % len(company.skus)]
        key = (sku, WAREHOUSES[k % 2])
        if company.stock.get(key, Decimal(0)) < 1:
            continue
        item = company.ledger.held(StockItem.create_id(sku, key[1]))
        company.stock[key] -= 1
        company.ledger.count_stock(
            company.meta("count_stock"), sku=sku, warehouse=key[1],
            counted=item.physical - 1, reason="cycle count",
        )  # fmt: skip
    company.counts += 1


def event_mix(ledger: Ledger, head: int, page: int = 5_000) -> Counter[str]:
    """Events per aggregate and event name (`SalesOrder.Shipped`) over the whole log."""
    counts: Counter[str] = Counter()
    position = 0
    while position < head:
        notes = ledger.recorder.select_notifications(start=position + 1, limit=page, stop=head)
        if not notes:
            break
        counts.update(".".join(n.topic.split(":")[1].split(".")[-2:]) for n in notes)
        position = notes[-1].id
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(database_url=f"sqlite:///{Path(root) / 'mixed.db'}")
        started = time.perf_counter()
        head = generate_mixed_log(settings, args.events)
        seconds = time.perf_counter() - started
        print(f"{head:,} events in {seconds:.1f} s ({head / seconds:,.0f} events/s)")
        ledger = Ledger(settings.eventsourcing_env())
        try:
            for name, count in event_mix(ledger, head).most_common():
                print(f"{count:>9,}  {name}")
        finally:
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

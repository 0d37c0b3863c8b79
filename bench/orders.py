"""Order-lifecycle log through the Ledger's commands, and the orders projection catching up.

The log is what an order desk records: orders created, submitted (approved and reserved in
the same save, no approval levels being configured), shipped and signed for; some amended
after submission (reservations given back, approved again), some cancelled, some left open.
Every order step is a real `Ledger` command with an Idempotency-Key, as the API sends it;
only the set-up (products, opening stock, customers) is saved many per transaction, as in
the inventory log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from api.runtime import open_runtime
from api.settings import Settings
from bench.commands import SOURCE, claim, meta, seed_catalog, sku_codes
from bench.projection import catch_up_into, median_of, read_log_decoded
from bench.stores import StoreFactory
from bench.timing import Measured, Profiler
from domain.customers import Customer
from domain.ledger import Ledger
from projections.kpis import KpisProjection
from projections.orders import OrdersProjection

CUSTOMER_BATCH = 200
CUSTOMERS = 200  # accounts the order log's orders are spread over
CREDIT_LIMIT = Decimal("50000.00")
REGIONS = ("north", "south", "east", "west")


@dataclass(frozen=True)
class TimelineRates:
    orders: int  # orders in the log
    commands: int  # order commands that recorded it
    events: int  # length of the log (every event, also stock items and idempotency records)
    order_events: int  # events the orders projection folds: one timeline row each
    read_log: Measured  # select + decode the whole log: the ceiling
    catch_up: Measured  # OrdersProjection alone, from 0, per log event
    kpis: Measured  # KpisProjection alone, from 0, per log event


def customer_codes(count: int) -> list[str]:
    return [f"C-{n:04d}" for n in range(count)]


def seed_customers(ledger: Ledger, codes: list[str]) -> None:
    """Customer accounts as `register_customer` opens them, many per save (set-up only)."""
    for start in range(0, len(codes), CUSTOMER_BATCH):
        customers = [
            Customer(
                code=code,
                name=f"Bench customer {code}",
                contacts=[{"name": "Buyer", "email": "", "phone": ""}],
                billing_address=f"{code} billing road",
                shipping_address=f"{code} shipping road",
                region=REGIONS[n % len(REGIONS)],
                payment_terms_days=30,
                credit_limit=CREDIT_LIMIT,
                currency="EUR",
            )
            for n, code in enumerate(codes[start : start + CUSTOMER_BATCH], start=start)
        ]
        ledger.save_with_meta(meta("bench_seed"), *customers)


class OrderDesk:
    """Order steps as the API calls them: one command, a fresh Idempotency-Key each."""

    def __init__(self, ledger: Ledger, skus: list[str], customers: list[str]) -> None:
        self.ledger = ledger
        self.skus = skus
        self.customers = customers
        self.commands = 0
        self._keys = 0

    def _call(self, command: Callable[..., Any], name: str, **kwargs: Any) -> dict[str, Any]:
        self._keys += 1
        self.commands += 1
        outcome = command(meta(name), idempotency=claim(f"{name}-{self._keys}"), **kwargs)
        return dict(outcome.result)

    def lines(self, n: int, quantity: str = "2") -> list[dict[str, str]]:
        """One to three lines on different SKUs, spread over the catalogue."""
        count = 1 + n % 3
        return [
            {"sku": self.skus[(7 * n + 13 * k) % len(self.skus)], "quantity": quantity,
             "unit_price": f"{9 + k}.90"}
            for k in range(count)
        ]  # fmt: skip

    def create(self, number: str, n: int) -> None:
        self._call(
            self.ledger.create_sales_order, "create_sales_order", number=number,
            customer=self.customers[n % len(self.customers)], warehouse=SOURCE,
            lines=self.lines(n), currency_code="EUR", salesperson=f"rep-{n % 12}",
        )  # fmt: skip

    def submit(self, number: str, effective_at: datetime | None = None) -> None:
        self._call(
            self.ledger.submit_sales_order, "submit_sales_order", number=number,
            effective_at=effective_at,
        )  # fmt: skip

    def amend(self, number: str, n: int) -> None:
        self._call(
            self.ledger.amend_sales_order, "amend_sales_order", number=number,
            lines=self.lines(n, quantity="3"),
        )  # fmt: skip

    def cancel(self, number: str) -> None:
        self._call(
            self.ledger.cancel_sales_order, "cancel_sales_order", number=number,
            reason="customer withdrew the order",
        )  # fmt: skip

    def ship(self, number: str, n: int, effective_at: datetime | None = None) -> str:
        order = self.ledger.sales_order(number)
        lines = {line["line_no"]: str(line["quantity"]) for line in order.lines}
        result = self._call(
            self.ledger.ship_sales_order, "ship_sales_order", number=number, lines=lines,
            carrier="DHL", tracking_number=f"T-{number}", effective_at=effective_at,
        )  # fmt: skip
        return str(result["shipment_ref"])

    def deliver(self, number: str, shipment: str) -> None:
        self._call(
            self.ledger.confirm_delivery, "confirm_delivery", number=number,
            shipment_ref=shipment, signed_by="Receiving clerk",
        )  # fmt: skip


def run_lifecycle(desk: OrderDesk, n: int) -> None:
    """Order n's story, by n % 20: 14 of 20 shipped and signed for (2 of them after an
    amendment that sends them through approval again), 2 shipped and awaiting sign-off,
    2 cancelled after submission, 1 left approved, 1 left created."""
    number, kind = f"SO-T-{n:06d}", n % 20
    desk.create(number, n)
    if kind == 19:
        return
    desk.submit(number)
    if kind == 18:
        return
    if kind in (16, 17):
        desk.cancel(number)
        return
    if kind in (4, 11):
        desk.amend(number, n + 1)  # changed lines: reservations given back, approved again
    shipment = desk.ship(number, n)
    if kind not in (14, 15):
        desk.deliver(number, shipment)


def generate_order_log(
    ledger: Ledger, orders: int, skus: int, customers: int, progress: Callable[[str], None]
) -> tuple[int, int]:
    """Catalogue and customers in bulk, then `orders` lifecycles by command; returns the
    head of the log and the number of order commands."""
    codes = sku_codes(skus)
    seed_catalog(ledger, codes, (SOURCE,))
    accounts = customer_codes(customers)
    seed_customers(ledger, accounts)
    desk = OrderDesk(ledger, codes, accounts)
    started = time.perf_counter()
    for n in range(orders):
        run_lifecycle(desk, n)
    seconds = time.perf_counter() - started
    progress(
        f"  order log: {orders:,} orders, {desk.commands:,} commands in {seconds:.0f} s"
        f" ({desk.commands / seconds:,.0f} commands/s), {ledger.head():,} events"
    )
    return ledger.head(), desk.commands


def measure_timeline(
    factory: StoreFactory,
    settings: Settings,
    profiler: Profiler,
    *,
    orders: int,
    skus: int,
    repeats: int,
    customers: int = CUSTOMERS,
) -> TimelineRates:
    """OrdersProjection (sales_orders + order_timeline) from 0 into a fresh store, the
    median of `repeats` passes, against reading the same log decoded."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger

        def progress(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        head, commands = generate_order_log(ledger, orders, skus, customers, progress)
        page = settings.projection_page_size
        timeline_rows: list[int] = []

        def read_log() -> Measured:
            return profiler.run("read-order-log", lambda: read_log_decoded(ledger, page, head)).per(
                head
            )

        def catch_up() -> Measured:
            store = factory.view_store(settings, "orders")
            try:
                measured = catch_up_into(
                    ledger, store, [OrdersProjection()], page, head, profiler, "orders"
                )
                with store.read() as cur:
                    found = cur.execute("SELECT count(*) FROM order_timeline").fetchone()
                timeline_rows.append(int(found[0]) if found else 0)
                return measured
            finally:
                store.close()

        def kpis() -> Measured:
            store = factory.view_store(settings, "kpis")
            try:
                return catch_up_into(
                    ledger, store, [KpisProjection()], page, head, profiler, "kpis"
                )
            finally:
                store.close()

        read_log()  # warm-up: the log is now in the page cache
        read = median_of(repeats, read_log)
        caught_up = median_of(repeats, catch_up)
        return TimelineRates(
            orders=orders,
            commands=commands,
            events=head,
            order_events=timeline_rows[0],
            read_log=read,
            catch_up=caught_up,
            kpis=median_of(repeats, kpis),
        )
    finally:
        runtime.close()

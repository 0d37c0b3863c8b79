"""The Ledger's command path: reservations (spread and hot) and two-warehouse transfers."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from api.runtime import open_runtime
from api.settings import Settings
from bench.plan import HOT_WARMUP
from bench.timing import Workload
from domain.application import IdempotencyClaim
from domain.ledger import Ledger
from domain.products import Product
from domain.stock_items import StockItem
from domain.values import Meta

SOURCE, TARGET = "WH1", "WH2"
OPENING_STOCK = Decimal(1_000_000)
SEED_BATCH = 200
RESERVE_SPREAD, RESERVE_HOT, TRANSFER = "reserve-spread", "reserve-hot", "transfer"
ORDER_FLOW = "order-flow"
SHIP = "ship"
SHIP_NO_LIMIT = "ship-no-limit"
SHIP_WARMUP = 30


def meta(command: str) -> Meta:
    """What the API stamps on a command: actor, a fresh correlation id, the time."""
    return Meta(
        actor="bench",
        correlation_id=uuid.uuid4().hex,
        command=command,
        at=datetime.now(UTC),
    )


def claim(key: str) -> IdempotencyClaim:
    """A fresh Idempotency-Key with a request hash, as the API computes one."""
    return IdempotencyClaim(key, hashlib.sha256(key.encode()).hexdigest())


def sku_codes(count: int) -> list[str]:
    return [f"SKU-{n:05d}" for n in range(count)]


def seed_catalog(ledger: Ledger, skus: list[str], warehouses: tuple[str, ...]) -> list[StockItem]:
    """Warehouses, products and opening stock in `warehouses[0]`; returns the stock items.

    Set-up only: products and stock items are saved many per transaction, not command by
    command, because only the timed commands below are what this benchmark is about.
    """
    for code in warehouses:
        ledger.register_warehouse(meta("register_warehouse"), code_=code, name=f"Bench {code}")
    now = datetime.now(UTC)
    items: list[StockItem] = []
    for start in range(0, len(skus), SEED_BATCH):
        batch = skus[start : start + SEED_BATCH]
        for sku in batch:
            item = StockItem(sku, warehouses[0])
            item.receive_finished_goods(f"MO-{sku}", OPENING_STOCK, now)
            items.append(item)
        products = [_product(sku) for sku in batch]
        ledger.save_with_meta(meta("bench_seed"), *products, *items[start:])
    return items


def _product(sku: str) -> Product:
    return Product(
        sku=sku,
        name=f"Bench product {sku}",
        unit="ea",
        make_or_buy="buy",
        standard=True,
        list_price=Decimal("10.00"),
        standard_cost=Decimal("4.25"),
        currency="EUR",
    )


@contextmanager
def ledger_workloads(
    settings: Settings,
    *,
    spread: int,
    reservations: int,
    hot_reservations: int,
    transfers: int,
    transfer_spread: int,
    rounds: int,
) -> Iterator[list[Workload]]:
    """The Ledger as the API runs it (projections not started, so they take no CPU)."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        skus = sku_codes(spread)
        seed_catalog(ledger, skus, (SOURCE, TARGET))
        # Warm-ups: one pass over the SKUs fills the aggregate cache; the transfer warm-up
        # also opens every target stock item, so timed transfers only move existing ones.
        yield [
            Workload(RESERVE_SPREAD, _reserve(ledger, "s", skus), reservations, warmup=spread),
            Workload(
                RESERVE_HOT, _reserve(ledger, "h", skus[:1]), hot_reservations, warmup=HOT_WARMUP
            ),
            Workload(
                TRANSFER,
                _transfer(ledger, skus[:transfer_spread]),
                transfers,
                warmup=transfer_spread,
            ),
            # Multiples of three: each order is created, submitted and shipped in turn.
            Workload(ORDER_FLOW, _order_flow(ledger, skus), 3 * (reservations // 3), warmup=30),
            Workload(
                SHIP,
                _ship(ledger, skus, SHIP_WARMUP + rounds * (reservations // 2), "1000000000"),
                reservations // 2,
                warmup=SHIP_WARMUP,
            ),
            Workload(
                SHIP_NO_LIMIT,
                _ship(ledger, skus, SHIP_WARMUP + rounds * (reservations // 2), "0"),
                reservations // 2,
                warmup=SHIP_WARMUP,
            ),
        ]
    finally:
        runtime.close()


def _reserve(ledger: Ledger, tag: str, skus: list[str]) -> Callable[[int], object]:
    def reserve(i: int) -> None:
        ledger.reserve(
            meta("reserve"),
            sku=skus[i % len(skus)],
            warehouse=SOURCE,
            order_ref=f"SO-{tag}-{i}",
            quantity_="1",
            idempotency=claim(f"reserve-{tag}-{i}"),
        )

    return reserve


def _order_flow(ledger: Ledger, skus: list[str]) -> Callable[[int], object]:
    """Call i runs step i % 3 of order i // 3: create (one line), submit (no approval levels
    are configured, so it approves and reserves in the same save), ship."""
    ledger.register_customer(
        meta("register_customer"), code_="C-BENCH", name="Bench customer", contacts=[],
        billing_address="Bench road 1", shipping_address="Bench road 2", region="bench",
        payment_terms_days=30, credit_limit="0", currency_code="EUR",
    )  # fmt: skip

    def step(i: int) -> None:
        number, phase = f"SO-B-{i // 3}", i % 3
        key = claim(f"order-flow-{i}")
        if phase == 0:
            ledger.create_sales_order(
                meta("create_sales_order"), number=number, customer="C-BENCH",
                warehouse=SOURCE, currency_code="EUR", salesperson="bench", idempotency=key,
                lines=[{"sku": skus[(i // 3) % len(skus)], "quantity": "1", "unit_price": "9.90"}],
            )  # fmt: skip
        elif phase == 1:
            ledger.submit_sales_order(meta("submit_sales_order"), number=number, idempotency=key)
        else:
            ledger.ship_sales_order(
                meta("ship_sales_order"), number=number, lines={1: "1"}, carrier="DHL",
                tracking_number=f"T{i}", idempotency=key,
            )  # fmt: skip

    return step


def _ship(
    ledger: Ledger, skus: list[str], orders: int, credit_limit: str
) -> Callable[[int], object]:
    """Call i ships order i in full: stock leaves its reservation and the shipment's
    receivable is recognised, in one save; with a credit limit (not "0"), the customer's
    credit standing is reviewed first. The orders are created and submitted (approved,
    stock reserved) before anything is timed."""
    tag = "L" if credit_limit != "0" else "N"
    ledger.register_customer(
        meta("register_customer"), code_=f"C-SHIP-{tag}", name=f"Shipping bench {tag}",
        contacts=[], billing_address="Bench road 1", shipping_address="Bench road 2",
        region="bench", payment_terms_days=30, credit_limit=credit_limit, currency_code="EUR",
    )  # fmt: skip
    for n in range(orders):
        number = f"SO-S{tag}-{n}"
        ledger.create_sales_order(
            meta("create_sales_order"), number=number, customer=f"C-SHIP-{tag}", warehouse=SOURCE,
            currency_code="EUR", salesperson="bench",
            lines=[{"sku": skus[n % len(skus)], "quantity": "1", "unit_price": "9.90"}],
        )  # fmt: skip
        ledger.submit_sales_order(meta("submit_sales_order"), number=number)

    def ship(i: int) -> None:
        ledger.ship_sales_order(
            meta("ship_sales_order"), number=f"SO-S{tag}-{i}", lines={1: "1"}, carrier="DHL",
            tracking_number=f"TS{i}", idempotency=claim(f"ship-{tag}-{i}"),
        )  # fmt: skip

    return ship


def _transfer(ledger: Ledger, skus: list[str]) -> Callable[[int], object]:
    def transfer(i: int) -> None:
        ledger.transfer(
            meta("transfer"),
            sku=skus[i % len(skus)],
            from_warehouse=SOURCE,
            to_warehouse=TARGET,
            quantity_="1",
            transfer_ref=f"TRF-{i}",
            idempotency=claim(f"transfer-{i}"),
        )

    return transfer

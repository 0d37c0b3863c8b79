"""A realistic demo data set, built through the same commands an API client would send.

Three warehouses, 200 SKUs, purchase orders approved and (partly) received, stock counts
with differences, transfers (some still in transit), reservations for sales orders, and
safety-stock levels that leave a few SKUs below safety (so alerts and requisitions show).
"""

from __future__ import annotations

import contextlib
import random
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.exceptions import NotFound, RuleViolation
from domain.ledger import Ledger
from domain.values import Meta

WAREHOUSES = [
    ("WH-BER", "Berlin central warehouse", "Am Borsigturm 100, 13507 Berlin"),
    ("WH-HAM", "Hamburg port warehouse", "Am Sandtorkai 50, 20457 Hamburg"),
    ("WH-MUC", "Munich assembly plant store", "Lilienthalallee 40, 80939 München"),
]
FAMILIES = [
    ("BRK", "Bracket", "pcs"), ("VLV", "Valve", "pcs"), ("CBL", "Cable", "m"),
    ("PNL", "Panel", "pcs"), ("GSK", "Gasket", "pcs"), ("MTR", "Motor", "pcs"),
    ("SNS", "Sensor", "pcs"), ("PMP", "Pump", "pcs"), ("FLT", "Filter", "pcs"),
    ("RSN", "Resin", "kg"),
]  # fmt: skip
SUPPLIERS = [
    "Acme Components GmbH",
    "Nordic Metals AB",
    "Shenzhen Precision Ltd",
    "Rhein Plastics AG",
]


def load_demo(
    ledger: Ledger, *, skus: int = 200, seed: int = 7, progress: Callable[[int], None] | None = None
) -> int:
    """Build the data set; returns the number of commands issued."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    issued = 0

    def meta(command: str, actor: str = "demo-loader") -> Meta:
        nonlocal issued
        issued += 1
        if progress:
            progress(issued)
        return Meta(actor=actor, correlation_id=f"demo-{issued}", command=command, at=now)

    def day(offset: int) -> datetime:
        return now - timedelta(days=offset, hours=rng.randint(0, 8))

    for code, name, address in WAREHOUSES:
        ledger.register_warehouse(
            meta("register_warehouse"), code_=code, name=name, address=address
        )
    catalog = _products(ledger, rng, skus, meta)
    _purchases(ledger, rng, catalog, meta, day)
    _movements(ledger, rng, catalog, meta, day)
    _orders(ledger, rng, catalog, meta, now.date())
    return issued


def _products(
    ledger: Ledger, rng: random.Random, count: int, meta: Callable[..., Meta]
) -> list[str]:
    skus = []
    for n in range(count):
        prefix, noun, unit = FAMILIES[n % len(FAMILIES)]
        sku = f"{prefix}-{1000 + n}"
        cost = Decimal(rng.randint(150, 25000)) / 100
        ledger.register_product(
            meta("register_product", "master-data"), sku=sku, name=f"{noun} type {n:03d}",
            unit=unit, make_or_buy="make" if n % 4 == 0 else "buy", standard=n % 9 != 0,
            list_price=(cost * Decimal("1.6")).quantize(Decimal("0.01")),
            standard_cost=cost, currency_code="EUR",
        )  # fmt: skip
        skus.append(sku)
    return skus


def _purchases(
    ledger: Ledger,
    rng: random.Random,
    skus: list[str],
    meta: Callable[..., Meta],
    day: Callable[[int], datetime],
) -> None:
    """Each warehouse buys every SKU once; most orders arrive, some partly, some not yet."""
    for w, (warehouse, _, _) in enumerate(WAREHOUSES):
        for batch in range(0, len(skus), 10):
            number = f"PO-{warehouse[3:]}-{batch // 10 + 1:03d}"
            lines = [
                {"sku": sku, "quantity": str(rng.randint(20, 400)), "unit_cost": "1.00"}
                for sku in skus[batch : batch + 10]
            ]
            ledger.create_purchase_order(
                meta("create_purchase_order", "buyer.anna"), number=number,
                supplier=rng.choice(SUPPLIERS), warehouse=warehouse, lines=lines,
                currency_code="EUR",
            )  # fmt: skip
            fate = (batch // 10 + w) % 10
            if fate == 9:
                continue  # still a draft
            ledger.approve_purchase_order(
                meta("approve_purchase_order", "manager.lee"), number=number, effective_at=day(40)
            )
            if fate == 8:
                continue  # approved, on its way: in transit
            share = Decimal("0.5") if fate in (6, 7) else Decimal(1)
            receipt = {
                i + 1: (Decimal(line["quantity"]) * share).quantize(Decimal(1))
                for i, line in enumerate(lines)
            }
            ledger.receive_purchase_order(
                meta("receive_purchase_order", "warehouse.tom"),
                number=number,
                lines=receipt,
                effective_at=day(30),
            )
            if fate == 6:
                ledger.cancel_purchase_order(
                    meta("cancel_purchase_order", "buyer.anna"),
                    number=number,
                    reason="supplier cannot deliver the rest",
                )


def _movements(
    ledger: Ledger,
    rng: random.Random,
    skus: list[str],
    meta: Callable[..., Meta],
    day: Callable[[int], datetime],
) -> None:
    """Safety levels, sales reservations and shipments, cycle counts and transfers."""
    berlin, hamburg, munich = (w[0] for w in WAREHOUSES)
    for n, sku in enumerate(skus):
        for warehouse in (berlin, hamburg, munich):
            if rng.random() < 0.6:
                level = str(rng.choice([5, 10, 15, 25]))
                ledger.set_safety_stock(
                    meta("set_safety_stock", "planner.kim"),
                    sku=sku,
                    warehouse=warehouse,
                    level=level,
                )
        if n % 5 == 0:
            order = {"sku": sku, "warehouse": berlin, "order_ref": f"SO-{5000 + n}"}
            _try(
                ledger.reserve,
                meta("reserve", "sales.maria"),
                **order,
                quantity_=str(rng.randint(5, 60)),
                effective_at=day(10),
            )
        if n % 7 == 0:
            item = ledger.stock_item(sku, hamburg)
            counted = max(item.locked, item.physical + rng.randint(-5, 3))
            ledger.count_stock(
                meta("count_stock", "warehouse.tom"),
                sku=sku,
                warehouse=hamburg,
                counted=counted,
                reason="cycle count",
                effective_at=day(5),
            )
        if n % 11 == 0:
            ref = f"TRF-{sku}"
            _try(
                ledger.transfer,
                meta("transfer", "warehouse.tom"),
                sku=sku,
                from_warehouse=berlin,
                to_warehouse=munich,
                quantity_="10",
                transfer_ref=ref,
                effective_at=day(3),
            )
            if n % 22 == 0:
                _try(
                    ledger.receive_transfer,
                    meta("receive_transfer", "warehouse.jo"),
                    sku=sku,
                    warehouse=munich,
                    transfer_ref=ref,
                    effective_at=day(1),
                )
        if n % 13 == 0:
            order = {"sku": sku, "warehouse": munich, "order_ref": f"SO-{7000 + n}"}
            _try(
                ledger.reserve,
                meta("reserve", "sales.omar"),
                **order,
                quantity_="60",
                effective_at=day(2),
            )
            _try(
                ledger.issue_for_shipment,
                meta("issue_for_shipment", "warehouse.jo"),
                **order,
                quantity_="20",
                shipment_ref=f"SHP-{7000 + n}",
                effective_at=day(1),
            )


CUSTOMERS = [
    ("C-ALPINE", "Alpine Machinery GmbH", "south"), ("C-BALTIC", "Baltic Shipyards AS", "north"),
    ("C-CORVUS", "Corvus Robotics BV", "west"), ("C-DANUBE", "Danube Pumps Kft", "east"),
    ("C-ELBE", "Elbe Anlagenbau GmbH", "north"), ("C-FJORD", "Fjord Energy ASA", "north"),
    ("C-GARDA", "Garda Valves S.r.l.", "south"), ("C-HANSA", "Hansa Logistics KG", "north"),
]  # fmt: skip
SALESPEOPLE = ["sales.maria", "sales.omar", "sales.lena"]


def _orders(
    ledger: Ledger, rng: random.Random, skus: list[str], meta: Callable[..., Meta], today: date
) -> None:
    """Customers and sales orders: waiting for approval, approved (some lines short),
    amended back to approval, and cancelled."""
    for code, name, region in CUSTOMERS:
        ledger.register_customer(
            meta("register_customer", "sales.lena"), code_=code, name=name,
            contacts=[{"name": "Purchasing", "email": f"orders@{code[2:].lower()}.example"}],
            billing_address=f"{name}, accounts payable", shipping_address=f"{name}, goods in",
            region=region, payment_terms_days=rng.choice([14, 30, 60]),
            credit_limit=str(rng.choice([20_000, 50_000, 150_000])), currency_code="EUR",
        )  # fmt: skip
    for n in range(30):
        code, _, _ = CUSTOMERS[n % len(CUSTOMERS)]
        number = f"SO-{9000 + n}"
        requested = today + timedelta(days=rng.randint(-8, 30))
        lines = [
            {
                "sku": sku,
                "quantity": str(rng.randint(1, 40)),
                "unit_price": f"{rng.randint(5, 400)}.00",
            }
            for sku in rng.sample(skus, k=rng.randint(1, 4))
        ]
        ledger.create_sales_order(
            meta("create_sales_order", SALESPEOPLE[n % 3]), number=number, customer=code,
            warehouse=WAREHOUSES[n % 3][0], lines=lines, currency_code="EUR",
            salesperson=SALESPEOPLE[n % 3], channel="crm", external_ref=f"CRM-{7000 + n}",
            requirements={"packaging": "export pallets"} if n % 4 == 0 else {},
            # Some promised dates already passed: late orders for the SLA and at-risk lists.
            requested_delivery=requested,
            promised_date=requested + timedelta(days=rng.randint(0, 5)),
        )  # fmt: skip
        if n % 5 != 4:
            ledger.approve_sales_order(meta("approve_sales_order", "director.chen"), number=number)
        if n % 10 == 3:
            ledger.amend_sales_order(
                meta("amend_sales_order", SALESPEOPLE[n % 3]), number=number, lines=lines[:1]
            )
        if n % 10 in (0, 1, 5, 6):
            _ship(ledger, meta, number, deliver=n % 10 in (0, 5), partial=n % 10 == 6)
        if n % 10 == 7:
            ledger.cancel_sales_order(
                meta("cancel_sales_order", SALESPEOPLE[n % 3]),
                number=number,
                reason="customer withdrew the order",
            )


def _ship(
    ledger: Ledger, meta: Callable[..., Meta], number: str, *, deliver: bool, partial: bool
) -> None:
    """Ship what the order has reserved (half of it when partial); sign for it if delivered."""
    order = ledger.sales_order(number)
    lines = {
        int(key): (qty / 2).quantize(Decimal(1)) if partial else qty
        for key, qty in order.reserved.items()
        if not partial or qty >= 2
    }
    if not lines:
        return
    outcome = ledger.ship_sales_order(
        meta("ship_sales_order", "warehouse.tom"), number=number, lines=lines, carrier="DHL",
        tracking_number=f"JD{zlib.crc32(number.encode()):010d}",
    )  # fmt: skip
    if deliver:
        ledger.confirm_delivery(
            meta("confirm_delivery", "portal"), number=number,
            shipment_ref=outcome.result["shipment_ref"], signed_by="Goods-in desk",
            proof_ref=f"POD-{number}",
        )  # fmt: skip


def _try(command: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Demo steps that a rule may refuse (not enough stock here) are simply skipped."""
    with contextlib.suppress(RuleViolation, NotFound):
        command(*args, **kwargs)

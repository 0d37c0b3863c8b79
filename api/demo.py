"""A realistic demo data set, built through the same commands an API client would send.

Three warehouses, 200 SKUs, purchase orders approved and (partly) received, stock counts
with differences, transfers (some still in transit), reservations for sales orders, and
safety-stock levels that leave a few SKUs below safety (so alerts and requisitions show),
40 sales orders in every stage of the standard workflow (some late), production orders,
invoices for shipped orders (the older ones overdue), and payments: one in full (late), one
in part, one nobody has matched yet. Then six months of past orders, delivered (some late,
a few with a complaint), for the dashboard's trends (api/demo_history.py).
"""

from __future__ import annotations

import contextlib
import random
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from api.demo_history import load_history
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

    def meta(command: str, actor: str = "demo-loader", role: str | None = None) -> Meta:
        nonlocal issued
        issued += 1
        if progress:
            progress(issued)
        return Meta(
            actor=actor, correlation_id=f"demo-{issued}", command=command, at=now,
            role=role or ROLES.get(actor.split(".")[0]),
        )  # fmt: skip

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
    load_history(ledger, meta, catalog, now)
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
# The role each demo person acts in (their actor name's first part), stamped on their events.
ROLES = {
    "sales": "sales", "director": "sales_director", "warehouse": "warehouse",
    "production": "production", "planner": "production", "qc": "production",
    "buyer": "production", "finance": "finance", "manager": "manager",
}  # fmt: skip
SALESPEOPLE = ["sales.maria", "sales.omar", "sales.lena"]


POLICY = {
    "description": "Demo approval rules",
    "rules": [
        {"name": "large order", "when": {"amount_over": "20000", "currency": "EUR"},
         "levels": ["sales_director"]},
        {"name": "deep discount", "when": {"discount_over": "0.15"},
         "levels": ["sales_director", "manager"]},
        {"name": "non-standard product", "when": {"non_standard": True},
         "levels": ["production"]},
        {"name": "customer on credit watch", "when": {"customer_flag": "credit_watch"},
         "levels": ["finance"]},
        {"name": "over the credit limit", "when": {"credit_over_limit": True},
         "levels": ["finance"]},
        {"name": "customer pays late", "when": {"credit_score_below": 40},
         "levels": ["finance"]},
    ],
}  # fmt: skip


def _orders(
    ledger: Ledger, rng: random.Random, skus: list[str], meta: Callable[..., Meta], today: date
) -> None:
    """Customers and 40 sales orders in every stage of the standard workflow: not yet
    submitted, waiting for one or two approval levels, stock confirmed, waiting on production
    (scheduled, complete, QC passed), partly and fully shipped, delivered, completed and
    cancelled — some of them late for their stage's SLA."""
    ledger.publish_approval_policy(meta("publish_approval_policy", "manager.lee"), policy=POLICY)
    for code, name, region in CUSTOMERS:
        ledger.register_customer(
            meta("register_customer", "sales.lena"), code_=code, name=name,
            contacts=[{"name": "Purchasing", "email": f"orders@{code[2:].lower()}.example"}],
            billing_address=f"{name}, accounts payable", shipping_address=f"{name}, goods in",
            region=region, payment_terms_days=rng.choice([14, 30, 60]),
            credit_limit=str(rng.choice([200_000, 500_000, 1_500_000])), currency_code="EUR",
        )  # fmt: skip
    ledger.set_customer_flags(
        meta("set_customer_flags", "finance.ivy"), code_="C-GARDA", flags=["credit_watch"],
        reason="two invoices more than 60 days overdue",
    )  # fmt: skip
    standard = [sku for i, sku in enumerate(skus) if i % 9 != 0 and i % 4 != 0]
    made = [sku for i, sku in enumerate(skus) if i % 9 != 0 and i % 4 == 0]
    now = datetime.now(UTC).replace(microsecond=0)
    billing: list[tuple[date, str]] = []
    for n in range(40):
        code = CUSTOMERS[n % len(CUSTOMERS)][0]
        if code == "C-GARDA" and n % 10 != 1:
            code = "C-HANSA"  # only one credit-watch order, waiting for finance
        kind, number, warehouse = n % 10, f"SO-{9000 + n}", WAREHOUSES[n % 3][0]
        requested = today + timedelta(days=rng.randint(-8, 30))
        lines = _order_lines(ledger, rng, kind, standard, made, warehouse)
        ledger.create_sales_order(
            meta("create_sales_order", SALESPEOPLE[n % 3]), number=number, customer=code,
            warehouse=warehouse, lines=lines, currency_code="EUR",
            salesperson=SALESPEOPLE[n % 3], channel="crm", external_ref=f"CRM-{7000 + n}",
            requirements={"packaging": "export pallets"} if n % 4 == 0 else {},
            requested_delivery=requested,
            promised_date=requested + timedelta(days=rng.randint(0, 5)),
        )  # fmt: skip
        if kind == 0:
            continue  # still with the salesperson
        # Entered the stage this long ago: a few days is past most stages' SLA (late).
        ago = timedelta(hours=[6, 30, 52, 130][n // 10])
        ledger.submit_sales_order(
            meta("submit_sales_order", SALESPEOPLE[n % 3]), number=number, effective_at=now - ago
        )
        if kind == 2:
            ledger.approve_sales_order(
                meta("approve_sales_order", "director.chen", role="sales_director"),
                number=number, comment="discount agreed for the framework contract",
            )  # fmt: skip
        if kind == 5:
            _produce(ledger, meta, number, skus, steps=(n // 10) % 4)
        if kind in (6, 7, 8):
            _ship(ledger, meta, number, deliver=kind == 8, partial=kind == 6)
        if kind in (7, 8):
            billing.append((today - timedelta(days=[3, 20, 45, 75][n // 10]), number))
        if kind == 8 and n % 20 == 18:
            ledger.transition_sales_order(
                meta("transition_sales_order", SALESPEOPLE[n % 3], role="sales"),
                number=number, to_stage="completed", comment="customer confirmed all is well",
            )  # fmt: skip
        if kind == 9:
            ledger.cancel_sales_order(
                meta("cancel_sales_order", SALESPEOPLE[n % 3]),
                number=number,
                reason="customer withdrew the order",
            )
    for dated, number in sorted(billing):  # a series' dates rise with its numbers
        _bill(ledger, meta, number, dated)
    _payments(ledger, meta, today)
    ledger.hold_order_credit(
        meta("hold_order_credit", "finance.ivy", role="finance"), number="SO-9013",
        reason="the payment promised for last month's invoices has not arrived",
    )  # fmt: skip
    _over_the_limit(ledger, meta, standard[0])


def _over_the_limit(ledger: Ledger, meta: Callable[..., Meta], sku: str) -> None:
    """A new customer with a small credit line orders more than it: the approval rules send
    the order to finance (credit control), whatever its size otherwise asks for."""
    ledger.register_customer(
        meta("register_customer", "sales.lena"), code_="C-IBERIA", name="Iberia Tooling S.L.",
        contacts=[{"name": "Compras", "email": "compras@iberia.example"}],
        billing_address="Iberia Tooling S.L., cuentas a pagar",
        shipping_address="Iberia Tooling S.L., recepción", region="south",
        payment_terms_days=30, credit_limit="5000", currency_code="EUR",
    )  # fmt: skip
    ledger.create_sales_order(
        meta("create_sales_order", "sales.omar"), number="SO-9100", customer="C-IBERIA",
        warehouse="WH-BER", lines=[{"sku": sku, "quantity": "20", "unit_price": "480.00"}],
        currency_code="EUR", salesperson="sales.omar", channel="crm", external_ref="CRM-7100",
    )  # fmt: skip
    ledger.submit_sales_order(meta("submit_sales_order", "sales.omar"), number="SO-9100")


def _order_lines(
    ledger: Ledger,
    rng: random.Random,
    kind: int,
    standard: list[str],
    made: list[str],
    warehouse: str,
) -> list[dict[str, str]]:
    """Lines that lead the order where the demo wants it: large (approval by the director),
    discounted (director, then manager), short of a make item (production), or ordinary."""
    if kind == 1:
        return [{"sku": rng.choice(standard), "quantity": "30", "unit_price": "900.00"}]
    if kind in (4, 5, 9):
        sku = rng.choice(made)
        short = ledger.stock_item(sku, warehouse).available + rng.randint(10, 50)
        return [{"sku": sku, "quantity": str(short), "unit_price": "45.00"}]
    lines = []
    for sku in rng.sample(standard, k=rng.randint(1, 3)):
        available = ledger.stock_item(sku, warehouse).available
        quantity = max(1, min(rng.randint(1, 40), int(available)))
        discount = "0.2" if kind == 2 else "0"
        price = f"{rng.randint(5, 150)}.00"
        lines.append({"sku": sku, "quantity": str(quantity), "unit_price": price,
                      "discount": discount})  # fmt: skip
    return lines


def _produce(
    ledger: Ledger, meta: Callable[..., Meta], number: str, skus: list[str], *, steps: int
) -> None:
    """Take the order's production order 1-4 steps: complete, QC passed, received."""
    order = ledger.sales_order(number)
    for production in order.production:
        component = next(
            sku for sku in skus if ledger.stock_item(sku, order.warehouse).available >= 5
        )
        ledger.issue_production_materials(
            meta("issue_production_materials", "production.kai"), number=production,
            components={component: "5"},
        )  # fmt: skip
        if steps >= 1:
            ledger.complete_production(
                meta("complete_production", "production.kai"), number=production
            )
        if steps >= 2:
            ledger.record_production_qc(
                meta("record_production_qc", "qc.ines"), number=production, passed=True
            )
        if steps >= 3:
            ledger.receive_production(
                meta("receive_production", "warehouse.tom"), number=production
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


def _bill(ledger: Ledger, meta: Callable[..., Meta], number: str, dated: date) -> None:
    """Invoice every shipment of the order; older invoices are overdue by now."""
    order = ledger.sales_order(number)
    if not order.shipments:
        return
    ledger.issue_invoice(
        meta("issue_invoice", "finance.ivy"), customer=order.customer, invoice_date=dated,
        shipments=[{"order_number": number, "shipment_ref": ref} for ref in order.shipments],
    )  # fmt: skip


def _payments(ledger: Ledger, meta: Callable[..., Meta], today: date) -> None:
    """Money in: the oldest invoice paid in full (late), the next in part, and one receipt
    nobody has matched yet (unapplied cash)."""
    first, second = ledger.invoice("INV-2026-000001"), ledger.invoice("INV-2026-000002")
    receipts = [
        ("BNK-0001", first, first.total, first.due_date + timedelta(days=9)),
        ("BNK-0002", second, (second.total / 2).quantize(Decimal("0.01")), today - timedelta(3)),
    ]
    for ref, invoice, amount, paid_on in receipts:
        ledger.record_payment(
            meta("record_payment", "finance.ivy"), bank_ref=ref, payer=invoice.customer,
            amount=amount, currency_code=invoice.currency, value_date=paid_on,
            remittance=f"invoice {invoice.number}",
        )  # fmt: skip
        ledger.allocate_payment(
            meta("allocate_payment", "finance.ivy"), bank_ref=ref,
            invoice_number=invoice.number, amount=amount,
        )  # fmt: skip
    ledger.record_payment(
        meta("record_payment", "finance.ivy"), bank_ref="BNK-0003", payer="ELBE ANLAGENBAU",
        amount="1250.00", currency_code="EUR", value_date=today - timedelta(days=1),
        remittance="order confirmation 4471",
    )  # fmt: skip


def _try(command: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Demo steps that a rule may refuse (not enough stock here) are simply skipped."""
    with contextlib.suppress(RuleViolation, NotFound):
        command(*args, **kwargs)

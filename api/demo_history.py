"""Six months of past orders for the demo, so the dashboard has trends to show.

Eight orders a month, back-dated (`effective_at`) from six months ago to this month, for
every salesperson and region and a spread of product lines: taken, submitted (approved by
whoever the approval rules name), shipped and signed for a few days to two weeks later —
some after their promised date — most closed as completed, a few with a complaint. They are
not invoiced: an invoice series' dates only rise, and the demo's invoices are recent.
Loaded after the rest of the demo, from a random stream of its own, so everything else the
demo makes stays as it was. Small quantities of well-stocked items only, so no later
reservation of the demo goes short because of these.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.credit import CreditHoldRefusal
from domain.ledger import Ledger
from domain.values import Meta

MONTHS, PER_MONTH = 6, 8
SALESPEOPLE = ["sales.maria", "sales.omar", "sales.lena"]
CUSTOMERS = ["C-ALPINE", "C-BALTIC", "C-CORVUS", "C-DANUBE", "C-ELBE", "C-FJORD", "C-HANSA"]
COMPLAINTS = [("late", "delivered after the promised date"),
              ("damaged", "two cartons crushed"), ("quality", "burrs on the edges")]  # fmt: skip


def load_history(ledger: Ledger, meta: Callable[..., Meta], skus: list[str], now: datetime,
                 seed: int = 11) -> None:  # fmt: skip
    rng = random.Random(seed)
    stocked = [sku for sku in skus if ledger.stock_item(sku, "WH-BER").available >= 50]
    if not stocked:
        return  # a demo too small to spare stock
    for month in range(MONTHS, -1, -1):
        for k in range(PER_MONTH if month else PER_MONTH // 2):
            taken = now - timedelta(days=30 * month + rng.randint(3, 27), hours=rng.randint(0, 9))
            if taken > now - timedelta(days=2):
                continue
            _order(ledger, meta, rng, stocked, f"SO-8{MONTHS - month}{k:02d}", taken, now)


def _order(ledger: Ledger, meta: Callable[..., Meta], rng: random.Random, skus: list[str],
           number: str, taken: datetime, now: datetime) -> None:  # fmt: skip
    who = rng.choice(SALESPEOPLE)
    lines = [
        {"sku": sku, "quantity": str(rng.randint(1, 3)), "unit_price": f"{rng.randint(2, 15)}00.00"}
        for sku in rng.sample(skus, min(len(skus), rng.randint(1, 3)))
    ]
    promised = (taken + timedelta(days=rng.randint(6, 12))).date()
    ledger.create_sales_order(
        meta("create_sales_order", who), number=number, customer=rng.choice(CUSTOMERS),
        warehouse="WH-BER", lines=lines, currency_code="EUR", salesperson=who, channel="crm",
        external_ref=f"CRM-{number}", promised_date=promised, effective_at=taken,
    )  # fmt: skip
    when = taken + timedelta(hours=rng.randint(1, 20))
    ledger.submit_sales_order(meta("submit_sales_order", who), number=number, effective_at=when)
    order = ledger.sales_order(number)
    while order.awaiting_approval:  # whoever the approval rules asked for
        _, level = order.current_level("approve")
        ledger.approve_sales_order(meta("approve_sales_order", "manager.lee", role=level["role"]),
                                   number=number, effective_at=when)  # fmt: skip
        order = ledger.sales_order(number)
    shipped = when + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
    shipment: dict[str, Any] = {
        "number": number, "lines": {int(no): qty for no, qty in order.reserved.items()},
        "carrier": "DHL", "tracking_number": f"JD{rng.randrange(10**9, 10**10)}",
        "effective_at": shipped,
    }  # fmt: skip
    try:
        outcome = ledger.ship_sales_order(meta("ship_sales_order", "warehouse.tom"), **shipment)
    except CreditHoldRefusal:  # the customer's standing then: finance let it go all the same
        ledger.release_order_credit(
            meta("release_order_credit", "finance.ivy", role="finance"), number=number,
            reason="long-standing customer, payment promised", effective_at=shipped,
        )  # fmt: skip
        outcome = ledger.ship_sales_order(meta("ship_sales_order", "warehouse.tom"), **shipment)
    delivered = shipped + timedelta(days=rng.randint(1, 7), hours=rng.randint(0, 12))
    if delivered > now - timedelta(hours=1):
        return  # still on its way
    ledger.confirm_delivery(
        meta("confirm_delivery", "portal"), number=number,
        shipment_ref=outcome.result["shipment_ref"], signed_by="Goods-in desk",
        proof_ref=f"POD-{number}", effective_at=delivered,
    )  # fmt: skip
    if rng.random() < 0.2:
        category, reason = rng.choice(COMPLAINTS)
        ledger.record_complaint(
            meta("record_complaint", who), number=number, category=category, reason=reason,
            effective_at=min(now, delivered + timedelta(days=2)),
        )  # fmt: skip
    if rng.random() < 0.85 and delivered + timedelta(days=1) < now:
        ledger.transition_sales_order(
            meta("transition_sales_order", who, role="sales"), number=number,
            to_stage="completed", comment="customer confirmed all is well",
            effective_at=delivered + timedelta(days=1),
        )  # fmt: skip

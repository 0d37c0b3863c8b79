"""The KPI period totals (`kpi_totals`) against the facts, on real SQLite and PostgreSQL.

A seeded history of orders taken over three months — some times written at +02:00 just
after midnight (the day before in UTC), lines amended after approval (so stages are stayed
in twice and product lines change under stays already counted), partial and full
deliveries, cancellations, complaints before and after delivery, production with first
checks passed and failed — is recorded by command. Then every totalled KPI, by every period
kind and dimension, read from the totals equals the same figures folded from the facts
(figure, numerator, denominator and orders count), over whole periods and over a range cut
short at both ends; and the KPI tables, totals included, equal a replay of the log in pages
of three events (page boundaries fall inside orders' stories).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from api.runtime import Runtime, notification_routing, read_models
from domain.ledger import Ledger
from projections.kpi_queries import DIMENSIONS, PERIODS, fold, kpi_figures
from projections.kpi_totals import TOTALLED
from replay.check import check_projections
from replay.scratch import scratch_factory
from tests.conftest import command_meta as meta
from tests.integration.helpers import catch_up_all, produce, seed_catalog
from tests.integration.test_kpis import made_to_order, qc

AS_OF = date(2026, 6, 30)
CEST = timezone(timedelta(hours=2))
SKUS = ("SKU-1", "SKU-2", "BRK-1", "VLV-1")


def catalogue(ledger: Ledger) -> None:
    seed_catalog(ledger)
    for sku, make_or_buy in (("BRK-1", "buy"), ("VLV-1", "buy"), ("GEA-1", "make"),
                             ("CMP-1", "buy")):  # fmt: skip
        ledger.register_product(
            meta(), sku=sku, name=sku, unit="ea", make_or_buy=make_or_buy, standard=True,
            list_price="30", standard_cost="10", currency_code="EUR",
        )  # fmt: skip
    for sku in (*SKUS, "CMP-1"):
        produce(ledger, sku, "100000", ref=f"MO-{sku}")
    ledger.register_customer(
        meta(), code_="C-1", name="Customer C-1", contacts=[{"name": "Eve", "email": "e@x.org"}],
        billing_address="1 Bill St", shipping_address="2 Ship Rd", region="north",
        payment_terms_days=30, credit_limit="100000000", currency_code="EUR",
    )  # fmt: skip


def lines(rng: random.Random) -> list[dict[str, str]]:
    return [
        {"sku": sku, "quantity": str(rng.randint(1, 5)), "unit_price": f"{rng.randint(5, 90)}.50"}
        for sku in rng.sample(SKUS, rng.randint(1, 2))
    ]


def taken_at(rng: random.Random) -> datetime:
    day = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=rng.randrange(80))
    if rng.random() < 0.25:  # just after midnight at +02:00: the day before in UTC
        return day.replace(tzinfo=CEST) + timedelta(minutes=rng.randrange(1, 110))
    return day + timedelta(hours=rng.randint(6, 20), minutes=rng.randrange(60))


def story(ledger: Ledger, rng: random.Random, n: int) -> None:
    number, when = f"SO-{n:03d}", taken_at(rng)
    promised = (when + timedelta(days=rng.randint(2, 12))).date() if rng.random() < 0.7 else None
    ledger.create_sales_order(
        meta(), number=number, customer="C-1", warehouse="WH1", currency_code="EUR",
        salesperson=rng.choice(("ann", "bob", "cy")), region=rng.choice(("north", "south")),
        effective_at=when, promised_date=promised, lines=lines(rng),
    )  # fmt: skip
    if rng.random() < 0.1:
        return  # never submitted
    when += timedelta(hours=rng.randint(1, 30))
    ledger.submit_sales_order(meta(), number=number, effective_at=when)
    if rng.random() < 0.35:  # new lines after approval: back to `created`, approved again
        when += timedelta(hours=rng.randint(1, 30))
        later = promised and promised + timedelta(days=2)
        ledger.amend_sales_order(meta(), number=number, lines=lines(rng), effective_at=when,
                                 promised_date=later)  # fmt: skip
    if rng.random() < 0.3:
        when += timedelta(hours=rng.randint(1, 30))
        ledger.record_complaint(meta(), number=number, category="late", reason="slow",
                                effective_at=when)  # fmt: skip
    if rng.random() < 0.1:
        ledger.cancel_sales_order(meta(), number=number, reason="withdrawn",
                                  effective_at=when + timedelta(hours=2))  # fmt: skip
        return
    if rng.random() < 0.15:
        return  # approved, not shipped
    deliver(ledger, rng, number, when)


def deliver(ledger: Ledger, rng: random.Random, number: str, when: datetime) -> None:
    """Ship everything (a third of the time in two shipments, signed for apart)."""
    order = ledger.sales_order(number)
    quantities = {line["line_no"]: line["quantity"] for line in order.lines}
    parts = [quantities]
    if rng.random() < 0.33 and len(quantities) > 1:
        first = next(iter(quantities))
        parts = [{first: quantities[first]}, {k: q for k, q in quantities.items() if k != first}]
    for k, part in enumerate(parts, 1):
        when += timedelta(hours=rng.randint(5, 200))
        ref = f"SH-{number}-{k}"
        ledger.ship_sales_order(
            meta(), number=number, lines=part, carrier="DHL", tracking_number=f"T-{ref}",
            shipment_ref=ref, effective_at=when,
        )  # fmt: skip
        when += timedelta(hours=rng.randint(5, 100))
        ledger.confirm_delivery(meta(), number=number, shipment_ref=ref, signed_by="Eve",
                                proof_ref=f"POD-{ref}", effective_at=when)  # fmt: skip
    if rng.random() < 0.3:
        ledger.record_complaint(meta(), number=number, category="quality", reason="scratched",
                                effective_at=when + timedelta(days=1))  # fmt: skip


def made(ledger: Ledger, rng: random.Random, n: int) -> None:
    """Made to order: a first check passed, or failed and passed after rework."""
    when = taken_at(rng)
    production = made_to_order(ledger, f"SO-M{n:02d}", rng.choice(("north", "south")), "ann",
                               when, str(rng.randint(1, 3)))  # fmt: skip
    passed = rng.random() < 0.6
    qc(ledger, production, passed, when + timedelta(days=2))
    if not passed:
        ledger.rework_production(meta(), number=production, reason="burrs",
                                 effective_at=when + timedelta(days=3))  # fmt: skip
        qc(ledger, production, True, when + timedelta(days=4))


def history(runtime: Runtime, seed: int = 11) -> None:
    rng = random.Random(seed)
    catalogue(runtime.ledger)
    for n in range(45):
        story(runtime.ledger, rng, n)
    for n in range(6):
        made(runtime.ledger, rng, n)
    catch_up_all(runtime)


def figures_equal(runtime: Runtime, **window: Any) -> int:
    compared = 0
    with runtime.store.read() as cur:
        for kpi in TOTALLED:
            for period in PERIODS:
                for by in DIMENSIONS:
                    asked = {"period": period, "by": by, "as_of": AS_OF, **window}
                    read = kpi_figures(cur, kpi, **asked)
                    folded = fold(cur, kpi, **asked)
                    assert read == folded, (kpi, period, by, window)
                    compared += len(read)
    return compared


def test_the_totals_equal_the_figures_folded_from_the_facts(runtime: Runtime) -> None:
    history(runtime)

    assert figures_equal(runtime, start=None, end=None) > 2000
    assert figures_equal(runtime, start=date(2026, 3, 11), end=date(2026, 5, 13)) > 1000
    assert figures_equal(runtime, start=date(2026, 4, 3), end=date(2026, 4, 9)) > 10
    with runtime.store.read() as cur:
        rows = kpi_figures(cur, "stage_time", period="month", by="all", start=None, end=None,
                           as_of=AS_OF)  # fmt: skip
    # Amended orders stayed in `created` twice in a month, and are counted there once.
    created = [r for r in rows if r["key"] == "created"]
    assert any(r["denominator"] > r["orders"] for r in created)

    settings = runtime.settings
    projections = [p for p in read_models(None, notification_routing(settings))
                   if p.name == "kpis"]  # fmt: skip
    scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
    checks = check_projections(runtime.ledger, runtime.store, runtime.runner, projections,
                               scratch, page_size=3)  # fmt: skip
    assert {c.table: c.differing for c in checks if c.differing} == {}
    assert {c.table: c.live_rows > 0 for c in checks}["kpi_totals"]

"""KPI figures on real SQLite and PostgreSQL against values worked out by hand from a small
history with business dates; each figure's drill-down names exactly the orders it counted,
and the KPI tables equal a replay of the log.

- SO-A: north (ann), taken 03-02 09:00, promised 03-10, 4 SKU-1 @10; submitted 10:00;
  delivered 03-06 09:00 (4 days, on time); complaint 03-08; invoiced 03-06, paid 03-16.
- SO-B: south (bob), taken 03-03 09:00, promised 03-05, 2 SKU-1 @10 + 1 BRK-1 @30;
  delivered 03-10 09:00 (7 days, late); invoiced 03-10, unpaid.
- SO-C: north (ann), taken 04-01 09:00, no promised date, 1 BRK-1 @20; delivered 04-03 09:00.
- SO-D: north (ann), taken 03-20, 1 SKU-1 @10, cancelled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from domain.ledger import Ledger
from projections.kpi_queries import kpi_figures, kpi_orders
from tests.conftest import command_meta as meta
from tests.integration.helpers import catch_up_all, produce, seed_catalog
from tests.integration.orders import register_customer
from tests.integration.test_check_projections import check

D = Decimal
AS_OF = date(2026, 3, 31)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def order(ledger: Ledger, number: str, region: str, who: str, taken: datetime,
          promised: date | None, lines: list[tuple[str, str, str]]) -> None:  # fmt: skip
    ledger.create_sales_order(
        meta("create_sales_order"), number=number, customer="C-1", warehouse="WH1",
        currency_code="EUR", salesperson=who, region=region, effective_at=taken,
        promised_date=promised,
        lines=[{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
    )  # fmt: skip


def deliver(ledger: Ledger, number: str, submitted: datetime, delivered: datetime,
            lines: dict[int, str]) -> None:  # fmt: skip
    ledger.submit_sales_order(meta(), number=number, effective_at=submitted)
    ledger.ship_sales_order(
        meta(), number=number, lines=lines, carrier="DHL", tracking_number=f"T-{number}",
        shipment_ref=f"SH-{number}", effective_at=delivered,
    )  # fmt: skip
    ledger.confirm_delivery(
        meta(), number=number, shipment_ref=f"SH-{number}", signed_by="Eve",
        proof_ref=f"POD-{number}", effective_at=delivered,
    )  # fmt: skip


def history(runtime: Runtime) -> None:
    ledger = runtime.ledger
    seed_catalog(ledger)
    ledger.register_product(
        meta(), sku="BRK-1", name="Bracket", unit="pcs", make_or_buy="buy", standard=True,
        list_price="30", standard_cost="10", currency_code="EUR",
    )  # fmt: skip
    produce(ledger, "SKU-1", "100")
    produce(ledger, "BRK-1", "100", ref="MO-2")
    register_customer(ledger)
    order(ledger, "SO-A", "north", "ann", at(3, 2), date(2026, 3, 10), [("SKU-1", "4", "10")])
    order(ledger, "SO-B", "south", "bob", at(3, 3), date(2026, 3, 5),
          [("SKU-1", "2", "10"), ("BRK-1", "1", "30")])  # fmt: skip
    order(ledger, "SO-C", "north", "ann", at(4, 1), None, [("BRK-1", "1", "20")])
    order(ledger, "SO-D", "north", "ann", at(3, 20), None, [("SKU-1", "1", "10")])
    deliver(ledger, "SO-A", at(3, 2, 10), at(3, 6), {1: "4"})
    deliver(ledger, "SO-B", at(3, 3), at(3, 10), {1: "2", 2: "1"})
    deliver(ledger, "SO-C", at(4, 1), at(4, 3), {1: "1"})
    ledger.cancel_sales_order(meta(), number="SO-D", reason="withdrawn")
    ledger.record_complaint(
        meta(), number="SO-A", category="quality", reason="scratched", effective_at=at(3, 8)
    )
    paid = bill(ledger, "SO-A", date(2026, 3, 6))
    bill(ledger, "SO-B", date(2026, 3, 10))
    ledger.record_payment(
        meta(), bank_ref="BANK-1", payer="C-1", amount=paid[1], currency_code="EUR",
        value_date=date(2026, 3, 16),
    )  # fmt: skip
    ledger.allocate_payment(
        meta(), bank_ref="BANK-1", invoice_number=paid[0], amount=paid[1],
        effective_date=date(2026, 3, 16),
    )  # fmt: skip
    catch_up_all(runtime)


def bill(ledger: Ledger, number: str, on: date) -> tuple[str, str]:
    outcome = ledger.issue_invoice(
        meta(), customer="C-1", invoice_date=on,
        shipments=[{"order_number": number, "shipment_ref": f"SH-{number}"}],
    )  # fmt: skip
    return str(outcome.result["number"]), str(ledger.invoice(outcome.result["number"]).total)


def figures(runtime: Runtime, kpi: str, by: str = "all", **extra: Any) -> dict[Any, Decimal]:
    with runtime.store.read() as cur:
        rows = kpi_figures(cur, kpi, period="month", by=by, start=None, end=None, as_of=AS_OF)
    return {
        (r["period_start"].month, r["value"], *([r["key"]] if r["key"] else [])): r["figure"]
        for r in rows
    }


def behind(runtime: Runtime, kpi: str, month: int, by: str = "all", value: str = "all",
           key: str | None = None) -> list[str]:  # fmt: skip
    with runtime.store.read() as cur:
        return kpi_orders(
            cur, kpi, period="month", period_start_=date(2026, month, 1), by=by, value=value,
            key=key, as_of=AS_OF,
        )  # fmt: skip


def test_kpis_equal_the_hand_computed_figures_and_drill_down_to_their_orders(
    runtime: Runtime,
) -> None:
    history(runtime)

    assert figures(runtime, "cycle_time") == {(3, "all"): D("5.50"), (4, "all"): D("2.00")}
    assert figures(runtime, "cycle_time", "region") == {
        (3, "north"): D("4.00"), (3, "south"): D("7.00"), (4, "north"): D("2.00"),
    }  # fmt: skip
    assert figures(runtime, "cycle_time", "product_line") == {
        (3, "SKU"): D("5.50"), (3, "BRK"): D("7.00"), (4, "BRK"): D("2.00"),
    }  # fmt: skip
    # SO-C has no promised date: it counts nowhere in the on-time rate.
    assert figures(runtime, "on_time_rate", "salesperson") == {
        (3, "ann"): D("1.0000"), (3, "bob"): D("0.0000"),
    }  # fmt: skip
    assert figures(runtime, "on_time_rate") == {(3, "all"): D("0.5000")}
    assert figures(runtime, "complaint_rate") == {(3, "all"): D("0.5000"), (4, "all"): 0}
    # The cancelled SO-D is no sale; by product line each line's own amount counts.
    assert figures(runtime, "order_value") == {(3, "all", "EUR"): D("90.00"),
                                               (4, "all", "EUR"): D("20.00")}  # fmt: skip
    assert figures(runtime, "order_value", "product_line") == {
        (3, "SKU", "EUR"): D("60.00"), (3, "BRK", "EUR"): D("30.00"),
        (4, "BRK", "EUR"): D("20.00"),
    }  # fmt: skip
    # SO-A waited one hour in `created`, SO-B none.
    assert figures(runtime, "stage_time")[3, "all", "created"] == D("0.50")
    # Invoices carry tax at one rate: A's 40 of 90 is paid; A took 10 days, B is open 21.
    assert figures(runtime, "collection_rate") == {(3, "all", "EUR"): D("0.4444")}
    assert figures(runtime, "dso") == {(3, "all", "EUR"): D("16.11")}

    assert behind(runtime, "cycle_time", 3) == ["SO-A", "SO-B"]
    assert behind(runtime, "cycle_time", 3, "region", "north") == ["SO-A"]
    assert behind(runtime, "on_time_rate", 4) == []
    assert behind(runtime, "order_value", 3, "product_line", "BRK") == ["SO-B"]
    assert behind(runtime, "complaint_rate", 4, "salesperson", "ann") == ["SO-C"]
    assert behind(runtime, "dso", 3, key="EUR") == ["SO-A", "SO-B"]
    assert behind(runtime, "stage_time", 3, key="created") == ["SO-A", "SO-B"]

    assert set(check(runtime, "kpis").values()) == {0}


# -- first-pass yield -----------------------------------------------------------------------


def made_to_order(ledger: Ledger, number: str, region: str, who: str, taken: datetime,
                  qty: str) -> str:  # fmt: skip
    """An order short on the make item GEA-1: its submission schedules the production."""
    order(ledger, number, region, who, taken, None, [("GEA-1", qty, "50")])
    outcome = ledger.submit_sales_order(meta(), number=number, effective_at=taken)
    [made] = outcome.result["production"]
    ledger.issue_production_materials(
        meta(), number=made, components={"CMP-1": qty}, effective_at=taken
    )
    return str(made)


def qc(ledger: Ledger, made: str, passed: bool, when: datetime) -> None:
    ledger.complete_production(meta(), number=made, effective_at=when)
    ledger.record_production_qc(
        meta(), number=made, passed=passed, notes="" if passed else "burrs", effective_at=when
    )


def production_history(runtime: Runtime) -> None:
    """- SO-P (north, ann): first QC passes 05-06.
    - SO-R (south, bob): first QC fails 06-01 01:00+02:00 (05-31 in UTC, so May), reworked,
      passes 06-02: counted once, in May, as not first-pass.
    - SO-J (north, ann): first QC passes 06-10.
    - SO-W (south, bob): production scheduled, no QC yet: nowhere.
    - SO-X (north, ann): production started, order cancelled 05-08, QC fails 05-09: nowhere.
    - PRD-STOCK: made for stock, QC fails 05-12: nowhere."""
    ledger = runtime.ledger
    seed_catalog(ledger)
    for sku, make_or_buy in (("GEA-1", "make"), ("CMP-1", "buy")):
        ledger.register_product(
            meta(), sku=sku, name=sku, unit="ea", make_or_buy=make_or_buy, standard=True,
            list_price="50", standard_cost="20", currency_code="EUR",
        )  # fmt: skip
    produce(ledger, "CMP-1", "100", ref="MO-CMP")
    register_customer(ledger)
    passed = made_to_order(ledger, "SO-P", "north", "ann", at(5, 4), "2")
    qc(ledger, passed, True, at(5, 6))
    ledger.receive_production(meta(), number=passed, effective_at=at(5, 7))
    reworked = made_to_order(ledger, "SO-R", "south", "bob", at(5, 4), "3")
    qc(ledger, reworked, False, datetime(2026, 6, 1, 1, tzinfo=timezone(timedelta(hours=2))))
    ledger.rework_production(meta(), number=reworked, reason="deburr", effective_at=at(6, 1))
    qc(ledger, reworked, True, at(6, 2))
    ledger.receive_production(meta(), number=reworked, effective_at=at(6, 3))
    qc(ledger, made_to_order(ledger, "SO-J", "north", "ann", at(5, 25), "1"), True, at(6, 10))
    made_to_order(ledger, "SO-W", "south", "bob", at(5, 4), "1")
    dropped = made_to_order(ledger, "SO-X", "north", "ann", at(5, 4), "1")
    ledger.cancel_sales_order(meta(), number="SO-X", reason="withdrawn", effective_at=at(5, 8))
    qc(ledger, dropped, False, at(5, 9))
    ledger.create_production_order(
        meta(), sku="GEA-1", warehouse="WH1", quantity_="4", number="PRD-STOCK",
        effective_at=at(5, 4),
    )  # fmt: skip
    ledger.issue_production_materials(
        meta(), number="PRD-STOCK", components={"CMP-1": "4"}, effective_at=at(5, 4)
    )
    qc(ledger, "PRD-STOCK", False, at(5, 12))
    catch_up_all(runtime)


def test_first_pass_yield_counts_each_production_order_once_by_its_first_qc(
    runtime: Runtime,
) -> None:
    production_history(runtime)

    with runtime.store.read() as cur:
        rows = kpi_figures(
            cur, "first_pass_yield", period="month", by="all", start=None, end=None, as_of=AS_OF
        )
    assert [
        (r["period_start"], r["figure"], r["numerator"], r["denominator"], r["orders"])
        for r in rows
    ] == [
        (date(2026, 5, 1), D("0.5000"), 1, 2, 2),
        (date(2026, 6, 1), D("1.0000"), 1, 1, 1),
    ]  # fmt: skip
    assert figures(runtime, "first_pass_yield", "region") == {
        (5, "north"): D("1.0000"), (5, "south"): D("0.0000"), (6, "north"): D("1.0000"),
    }  # fmt: skip
    assert figures(runtime, "first_pass_yield", "product_line") == {
        (5, "GEA"): D("0.5000"), (6, "GEA"): D("1.0000"),
    }  # fmt: skip

    assert behind(runtime, "first_pass_yield", 5) == ["SO-P", "SO-R"]
    assert behind(runtime, "first_pass_yield", 5, "region", "south") == ["SO-R"]
    assert behind(runtime, "first_pass_yield", 6) == ["SO-J"]
    assert behind(runtime, "first_pass_yield", 7) == []

    assert set(check(runtime, "kpis").values()) == {0}

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

from datetime import UTC, date, datetime
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

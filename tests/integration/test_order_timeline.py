"""The orders read model and the order timeline, on real SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from domain.ledger import Ledger
from projections import queries
from tests.conftest import command_meta as meta


def catch_up(runtime: Runtime) -> None:
    for name in runtime.runner.projections:
        runtime.runner.catch_up(name)


def customer(ledger: Ledger) -> None:
    ledger.register_customer(
        meta(), code_="C1", name="Acme", contacts=[], billing_address="Bill St 1",
        shipping_address="Ship St 2", region="north", payment_terms_days=30,
        credit_limit="10000", currency_code="EUR",
    )  # fmt: skip


def order(ledger: Ledger, number: str, quantity: str = "4") -> None:
    ledger.create_sales_order(
        meta(actor="sales.maria"), number=number, customer="C1", warehouse="WH1",
        lines=[{"sku": "SKU-1", "quantity": quantity, "unit_price": "12.50"}],
        currency_code="EUR", salesperson="sales.maria",
    )  # fmt: skip


def timeline(runtime: Runtime, number: str) -> list[dict[str, Any]]:
    with runtime.store.read() as cur:
        return queries.order_timeline(cur, number)


def test_every_transition_is_on_the_timeline_with_actor_and_stage_time(
    runtime: Runtime, ledger: Ledger
) -> None:
    customer(ledger)
    ledger.receive_finished_goods(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_="10"
    )
    order(ledger, "SO-1")
    ledger.submit_sales_order(meta(actor="director.chen"), number="SO-1")
    ledger.ship_sales_order(
        meta(actor="warehouse.tom"), number="SO-1", lines={1: "1"}, carrier="DHL",
        tracking_number="T-1", shipment_ref="SHP-1",
    )  # fmt: skip
    ledger.ship_sales_order(
        meta(actor="warehouse.tom"), number="SO-1", lines={1: "3"}, carrier="DHL",
        tracking_number="T-2", shipment_ref="SHP-2",
    )  # fmt: skip
    for ref in ("SHP-1", "SHP-2"):
        ledger.confirm_delivery(
            meta(actor="portal"), number="SO-1", shipment_ref=ref, signed_by="Bob"
        )
    catch_up(runtime)

    rows = timeline(runtime, "SO-1")
    assert [(r["kind"], r["from_stage"], r["to_stage"], r["status"]) for r in rows] == [
        ("Created", None, "created", "created"),
        ("Submitted", "created", "created", "created"),
        ("StageChanged", "created", "approved", "created"),
        ("StockAllocated", "approved", "approved", "approved"),
        ("StageChanged", "approved", "stock_confirmed", "approved"),
        ("Shipped", "stock_confirmed", "stock_confirmed", "partially_shipped"),
        ("Shipped", "stock_confirmed", "stock_confirmed", "shipped"),
        ("StageChanged", "stock_confirmed", "shipped", "shipped"),
        ("DeliveryConfirmed", "shipped", "shipped", "shipped"),
        ("DeliveryConfirmed", "shipped", "shipped", "delivered"),
        ("StageChanged", "shipped", "delivered", "delivered"),
    ]
    actors = [r["actor"] for r in rows]
    assert actors[:6] == ["sales.maria"] + ["director.chen"] * 4 + ["warehouse.tom"]
    stage_changes = [r for r in rows if r["kind"] == "StageChanged"]
    assert all(r["seconds_in_previous_stage"] >= 0 for r in stage_changes)
    assert all(r["seconds_in_previous_stage"] is None for r in rows if r["kind"] != "StageChanged")
    assert "tracking T-2" in rows[6]["detail"]
    assert "no approval needed" in rows[1]["detail"]
    assert "warehouse responsible" in rows[4]["detail"]
    positions = [r["position"] for r in rows]
    assert positions == sorted(positions)


def test_the_orders_list_shows_status_and_total_and_filters(
    runtime: Runtime, ledger: Ledger
) -> None:
    customer(ledger)
    order(ledger, "SO-1")
    order(ledger, "SO-2", quantity="2")
    ledger.cancel_sales_order(meta(), number="SO-2", reason="duplicate")
    ledger.amend_sales_order(meta(), number="SO-1", lines=[
        {"sku": "SKU-1", "quantity": "6", "unit_price": "12.50"}
    ])  # fmt: skip
    catch_up(runtime)
    with runtime.store.read() as cur:
        every = queries.list_sales_orders(
            cur, status=None, customer="C1", salesperson=None, after=None, limit=10
        )
        cancelled = queries.list_sales_orders(
            cur, status="cancelled", customer=None, salesperson=None, after=None, limit=10
        )
    assert [(r["number"], r["status"], r["total"]) for r in every] == [
        ("SO-1", "created", Decimal("75")),
        ("SO-2", "cancelled", Decimal("25")),
    ]
    assert [r["number"] for r in cancelled] == ["SO-2"]


def test_rebuilding_the_orders_read_model_gives_the_same_rows(
    runtime: Runtime, ledger: Ledger
) -> None:
    customer(ledger)
    ledger.receive_finished_goods(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_="5"
    )
    for n in range(5):
        order(ledger, f"SO-{n}", quantity="2")
        ledger.submit_sales_order(meta(), number=f"SO-{n}")
    catch_up(runtime)

    def snapshot() -> tuple[list[Any], list[Any]]:
        with runtime.store.read() as cur:
            orders = cur.execute(
                "SELECT number, status, total, version FROM sales_orders ORDER BY number"
            ).fetchall()
            steps = cur.execute(
                "SELECT position, number, kind, to_stage, status FROM order_timeline"
                " ORDER BY position"
            ).fetchall()
        return orders, steps

    before = snapshot()
    runtime.runner.rebuild("orders")
    assert snapshot() == before
    statuses = [row[1] for row in before[0]]
    assert statuses == ["approved"] * 5

"""`/audit/trail`, `/audit/explain/…`, `/audit/diff` and `/audit/effective/…` over the small
history of tests/audit_history.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from replay import explain
from tests.api.conftest import Api, assert_problem
from tests.audit_history import DAY2, INVOICE, NOW, Marks, build
from tests.replay_clock import Clock

D = Decimal


@pytest.fixture
def history(api: Api, monkeypatch: pytest.MonkeyPatch) -> Marks:
    return build(api.runtime.ledger, Clock(monkeypatch, NOW))


def test_the_trail_is_paged_with_a_cursor_and_filtered(api: Api, history: Marks) -> None:
    first = api.get("/audit/trail", actor="walt", limit=3)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [e["event_type"] for e in body["entries"]] == [
        "PurchaseOrder.GoodsReceived",
        "StockItem.Received",
        "SalesOrder.Shipped",
    ]
    assert body["entries"][0]["role"] == "warehouse"
    assert body["entries"][0]["command"] == "receive_purchase_order"
    rest = api.get("/audit/trail", actor="walt", limit=3, after=body["next"]).json()
    assert [e["event_type"] for e in rest["entries"]] == [
        "StockItem.IssuedForShipment",
        "Receivable.Recognised",
    ]
    assert rest["next"] is None
    shipped = api.get("/audit/trail", aggregate="SO-1", type="SalesOrder.Shipped").json()
    assert [e["business_key"] for e in shipped["entries"]] == ["SO-1"]


def test_explanations_add_up_to_the_replayed_figures(api: Api, history: Marks) -> None:
    stock = api.get("/audit/explain/inventory/SKU-1/WH1", figure="physical")
    assert stock.status_code == 200, stock.text
    assert stock.json()["value"] == "7"
    assert [(x["event_type"], x["contribution"], x["running"]) for x in stock.json()["lines"]] == [
        ("StockItem.Received", "10", "10"),
        ("StockItem.IssuedForShipment", "-3", "7"),
    ]
    invoice = api.get(f"/audit/explain/invoices/{INVOICE}").json()
    assert (D(invoice["value"]), invoice["status"]) == (D("1.50"), "partially_paid")
    assert [D(x["contribution"]) for x in invoice["lines"]] == [D("7.50"), D("-5"), D("-1")]
    order = api.get("/audit/explain/sales-orders/SO-1", position=history.reserved).json()
    assert order["value"] == {"status": "approved", "stage": "stock_confirmed"}


def test_diff_and_effective_stock_item(api: Api, history: Marks) -> None:
    changed = api.get(
        "/audit/diff", from_position=history.invoiced, to_position=history.paid,
        model="receivables",
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    [paid] = changed.json()["receivables"]
    assert (D(paid["open_before"]), D(paid["open_after"])) == (D("7.50"), D("2.50"))
    item = api.get("/audit/effective/stock-items/SKU-1/WH1", effective=DAY2.isoformat(),
                   position=history.received).json()  # fmt: skip
    assert (item["physical"], item["in_transit"]) == ("10", "0")


def test_bad_input_is_a_problem_and_writes_nothing(api: Api, history: Marks) -> None:
    head = api.runtime.ledger.head()
    assert_problem(api.get("/audit/explain/inventory/SKU-9/WH1"), 404, "not-found")
    assert_problem(api.get("/audit/explain/invoices/INV-9"), 404, "not-found")
    assert_problem(api.get("/audit/explain/sales-orders/SO-9"), 404, "not-found")
    assert_problem(api.get("/audit/explain/inventory/SKU-1/WH1", figure="x"), 422, "unknown-figure")
    assert_problem(api.get("/audit/explain/sales-orders/SO-1", position=head + 1), 422,
                   "unknown-position")  # fmt: skip
    assert_problem(api.get("/audit/diff", from_position=history.paid, to_position=2), 422,
                   "empty-range")  # fmt: skip
    assert_problem(api.get("/audit/diff", from_position=1), 422, "two-moments")
    assert_problem(api.get("/audit/trail", type="SalesOrder.Teleported"), 422,
                   "unknown-event-type")  # fmt: skip
    assert_problem(api.get("/audit/trail", aggregate="Spaceship:1"), 422,
                   "unknown-aggregate-type")  # fmt: skip
    assert_problem(api.get("/audit/trail", aggregate="SO-404"), 404, "not-found")
    assert_problem(api.get("/audit/trail", from_time="2000-01-01T00:00:00+00:00"), 422,
                   "before-first-event")  # fmt: skip
    assert api.runtime.ledger.head() == head


def test_an_explanation_that_does_not_add_up_is_a_500_not_an_answer(
    api: Api, history: Marks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read model that disagrees with its events (here: the replayed `available` of the
    item is made one higher) is reported as an inconsistency."""
    real = explain._inventory_figure

    def one_off(*args: Any, **kwargs: Any) -> Decimal:
        return real(*args, **kwargs) + 1

    monkeypatch.setattr(explain, "_inventory_figure", one_off)

    problem = assert_problem(api.get("/audit/explain/inventory/SKU-1/WH1"), 500,
                             "explanation-mismatch")  # fmt: skip
    assert "give 6, the read model says 7" in problem["detail"]

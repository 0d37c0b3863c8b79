"""AR ageing and metrics over HTTP, on real SQLite and PostgreSQL."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.api.test_shipments import approved, selling

__all__ = ["approved", "selling"]


def billed_and_part_paid(api: Api) -> int:
    """SH-1 (4 × 2.50) billed on 2026-02-10, due 03-12; 4.00 of it paid on 03-01."""
    api.ok(
        "/sales-orders/SO-1/shipments",
        {"shipment_ref": "SH-1", "lines": [{"line_no": 1, "quantity": "4"}],
         "carrier": "DHL", "tracking_number": "JD1"},
        201,
    )  # fmt: skip
    api.ok("/invoices", {"customer": "C-1", "invoice_date": "2026-02-10",
                         "shipments": [{"order_number": "SO-1", "shipment_ref": "SH-1"}]},
           201)  # fmt: skip
    api.ok("/payments", {"bank_ref": "BANK-1", "payer": "Contoso", "amount": "4.00",
                         "currency": "EUR", "value_date": "2026-03-01"}, 201)  # fmt: skip
    allocated = api.ok(
        "/payments/BANK-1/allocations", {"invoice_number": "INV-2026-000001", "amount": "4"}, 201
    )
    return int(allocated["position"])


def test_the_ageing_as_of_a_date_totals_the_open_items_of_that_date(approved: Api) -> None:
    position = billed_and_part_paid(approved)

    before = approved.read("/ar/ageing", as_of="2026-02-28", min_position=position)
    after = approved.read("/ar/ageing", as_of="2026-03-20", customer="C-1", currency="EUR")

    assert before["as_of"] == "2026-02-28"
    assert before["buckets"] == ["not_due", "days_1_30", "days_31_60", "days_61_90", "over_90"]
    assert before["customers"] == [{
        "customer": "C-1", "currency": "EUR", "not_due": "10", "days_1_30": "0",
        "days_31_60": "0", "days_61_90": "0", "over_90": "0", "total": "10", "items": 1,
    }]  # fmt: skip
    assert (after["totals"]["EUR"]["days_1_30"], after["totals"]["EUR"]["total"]) == ("6", "6")
    assert after["open_items_total"] == {"EUR": "6"}
    listed = approved.read("/open-items", as_of="2026-03-20")
    assert listed["total_open"] == after["open_items_total"]
    assert [i["bucket"] for i in listed["items"]] == ["days_1_30"]
    assert approved.read("/ar/ageing", as_of="2026-03-20", currency="USD")["totals"] == {}


def test_metrics_for_a_period_over_http(approved: Api) -> None:
    position = billed_and_part_paid(approved)

    report = approved.read(
        "/ar/metrics", **{"from": "2026-03-01", "to": "2026-03-31"}, min_position=position
    )

    assert (report["from"], report["to"], report["days"]) == ("2026-03-01", "2026-03-31", 31)
    assert report["currencies"]["EUR"] == {
        "open_at_start": "10", "invoiced": "0", "collected": "4", "credited": "0",
        "open_at_end": "6", "collection_rate": "0.4", "dso_days": None,
        "average_days_to_pay": "19", "average_days_late": "0", "paid_amount": "4",
        "overdue_count": 1, "overdue_amount": "6",
    }  # fmt: skip
    assert report["customers"] == [{"customer": "C-1", "currencies": report["currencies"]}]
    mine = approved.read("/ar/metrics", **{"from": "2026-03-01", "to": "2026-03-31"},
                         customer="C-2")  # fmt: skip
    assert (mine["customer"], mine["currencies"], mine["customers"]) == ("C-2", {}, [])
    default = approved.read("/ar/metrics")
    assert default["days"] == 30


def test_bad_dates_and_periods_are_problems(api: Api) -> None:
    for path, params in (
        ("/ar/ageing", {"as_of": "2026-02-30"}),
        ("/ar/ageing", {"as_of": "yesterday"}),
        ("/ar/ageing", {"currency": "eur"}),
        ("/ar/ageing", {"customer": "C 1"}),
        ("/ar/metrics", {"from": "2026-13-01"}),
        ("/ar/metrics", {"to": "31.03.2026"}),
    ):
        assert_problem(api.get(path, **params), 422, "invalid-input")
    backwards = api.get("/ar/metrics", **{"from": "2026-03-02", "to": "2026-03-01"})
    assert "2026-03-02" in assert_problem(backwards, 422, "invalid-period")["detail"]
    assert_problem(api.get("/ar/ageing", min_position=10**9), 422, "unknown-position")

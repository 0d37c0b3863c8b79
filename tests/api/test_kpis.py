"""KPIs and complaints over HTTP: a complaint is recorded (bad ones store nothing), figures
and their drill-downs come back as the read model computes them, bad parameters are 422."""

from __future__ import annotations

from api.runtime import Runtime
from tests.api.conftest import Api
from tests.integration.test_kpis import history


def test_complaints_and_kpis_over_http(api: Api) -> None:
    runtime: Runtime = api.runtime
    history(runtime)
    head = api.head()
    for bad in ({"category": "mood", "reason": "x"}, {"category": "late", "reason": ""}):
        assert api.post("/sales-orders/SO-A/complaints", bad).status_code == 422
    assert api.post("/sales-orders/SO-X/complaints", {"category": "late", "reason": "x"}
                    ).status_code == 404  # fmt: skip
    assert api.head() == head

    made = api.ok("/sales-orders/SO-B/complaints", {"category": "late", "reason": "two days late",
                  "effective_at": "2026-03-11T08:00:00Z"}, 201)  # fmt: skip
    assert made["complaint_id"] == "SO-B-C1"

    window = {"from": "2026-03-01", "to": "2026-03-31"}
    rates = api.read("/kpis", kpi="complaint_rate", period="month", by="region",
                     min_position=made["position"], **window)  # fmt: skip
    assert [(r["value"], r["figure"], r["orders"]) for r in rates["items"]] == [
        ("north", "1", 1), ("south", "1", 1),
    ]  # fmt: skip
    drill = api.read("/kpis/complaint_rate/orders", period="month", period_start="2026-03-01",
                     by="region", value="south")  # fmt: skip
    assert drill["orders"] == ["SO-B"]
    assert api.get("/kpis", kpi="nonsense").status_code == 422
    assert api.get("/kpis/cycle_time/orders", period_start="2026-03-02").status_code == 422

"""`/audit/as-of`: inventory (bitemporal), ageing and a sales order as of a past moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api, assert_problem


def _row(body: dict[str, object]) -> dict[str, str]:
    [row] = [r for r in body["items"] if r["warehouse"] == "WH-1"]  # type: ignore[attr-defined]
    return {k: row[k] for k in ("physical", "in_transit", "locked", "available")}


def test_inventory_as_of_a_position_and_bitemporally_effective_before_a_back_dated_receipt(
    stocked: Api,
) -> None:
    now = datetime.now(UTC)
    stocked.purchase_order("PO-1", "5")
    approved = stocked.ok(
        "/purchase-orders/PO-1/approve", {"effective_at": (now - timedelta(days=3)).isoformat()}
    )["position"]
    stocked.ok(
        "/purchase-orders/PO-1/receipts",
        {"lines": [{"line_no": 1, "quantity": "5"}],
         "effective_at": (now - timedelta(days=2)).isoformat()},
    )  # fmt: skip
    yesterday = (now - timedelta(days=1)).isoformat()

    then = stocked.get("/audit/as-of/inventory", position=approved, sku="SKU-1")
    assert then.status_code == 200, then.text
    assert then.json()["moment"]["position"] == approved
    assert _row(then.json()) == {
        "physical": "10", "in_transit": "5", "locked": "0", "available": "10"
    }  # fmt: skip
    # Effective yesterday: the receipt (dated two days ago) counts once it is known, the
    # finished goods (dated today) never do.
    known_then = stocked.get("/audit/as-of/inventory", position=approved, effective=yesterday)
    assert _row(known_then.json())["physical"] == "0"
    assert _row(known_then.json())["in_transit"] == "5"
    known_now = stocked.get("/audit/as-of/inventory", effective=yesterday)
    assert _row(known_now.json()) == {
        "physical": "5", "in_transit": "0", "locked": "0", "available": "5"
    }  # fmt: skip
    by_time = stocked.get("/audit/as-of/inventory", at=datetime.now(UTC).isoformat())
    assert _row(by_time.json())["physical"] == "15"


def test_a_sales_order_as_of_a_position_before_its_approval(stocked: Api) -> None:
    stocked.ok(
        "/customers",
        {"code": "C-1", "name": "Customer", "billing_address": "1 Bill St",
         "shipping_address": "2 Ship Rd", "region": "north", "payment_terms_days": 30,
         "credit_limit": "5000", "currency": "EUR"},
        201,
    )  # fmt: skip
    created = stocked.ok(
        "/sales-orders",
        {"number": "SO-1", "customer": "C-1", "warehouse": "WH-1", "salesperson": "ann",
         "currency": "EUR", "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "3"}]},
        201,
    )["position"]  # fmt: skip
    stocked.ok("/sales-orders/SO-1/submit")
    then = stocked.get("/audit/as-of/sales-orders/SO-1", position=created)
    assert then.status_code == 200, then.text
    assert then.json()["order"]["status"] == "created"
    assert then.headers["ETag"] == '"1"'
    now = stocked.get("/audit/as-of/sales-orders/SO-1").json()["order"]
    assert now["status"] == stocked.read("/sales-orders/SO-1")["status"] != "created"
    assert_problem(stocked.get("/audit/as-of/sales-orders/SO-1", position=1), 404, "not-found")


def test_ageing_as_of_a_moment_answers_for_the_moment(stocked: Api) -> None:
    body = stocked.get("/audit/as-of/ageing", position=1, as_of="2026-03-01").json()
    assert body["moment"]["position"] == 1
    assert body["ageing"]["as_of"] == "2026-03-01"
    assert body["ageing"]["totals"] == {}


def test_bad_moments_are_problems_and_store_nothing(stocked: Api) -> None:
    head = stocked.head()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert_problem(stocked.get("/audit/as-of/inventory", position=0), 422, "unknown-position")
    assert_problem(
        stocked.get("/audit/as-of/inventory", position=head + 1), 422, "unknown-position"
    )
    assert_problem(stocked.get("/audit/as-of/ageing", at=future), 422, "future-time")
    assert_problem(
        stocked.get("/audit/as-of/inventory", at="2000-01-01T00:00:00+00:00"),
        422,
        "before-first-event",
    )
    assert_problem(stocked.get("/audit/as-of/inventory", position=1, at=future), 422, "two-moments")
    assert stocked.get("/audit/as-of/inventory", at="2024-01-01T00:00:00").status_code == 422
    assert stocked.head() == head


def test_read_model_checkpoints_are_listed_and_used_by_as_of_answers(stocked: Api) -> None:
    from api.runtime import scratch_stores
    from replay.model_checkpoints import build

    assert stocked.get("/audit/read-model-checkpoints").json()["checkpoints"] == []
    head = stocked.get("/audit/as-of/inventory").json()["moment"]["head"]
    rt = stocked.runtime
    build(rt.ledger, rt.checkpoints, scratch_stores(rt.settings), "inventory", 2)
    listed = stocked.get("/audit/read-model-checkpoints").json()
    assert [c["position"] for c in listed["checkpoints"]] == list(range(2, head + 1, 2))
    assert all(c["usable"] and c["model"] == "inventory" for c in listed["checkpoints"])
    body = stocked.get("/audit/as-of/inventory", position=head, sku="SKU-1").json()
    assert body["replay"]["checkpoint"] == head // 2 * 2
    assert body["replay"]["events_read"] == head % 2
    assert _row(body)["physical"] == "10"

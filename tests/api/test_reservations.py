"""Reservations: lock stock for an order, never beyond what is available; release it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import Api, assert_problem


def test_reserving_within_available_locks_the_quantity(stocked: Api) -> None:
    response = stocked.reserve("SO-1", "3.5")

    assert response.status_code == 200, response.text
    written = response.json()
    assert (written["locked"], written["available"], written["reserved"]) == ("3.5", "6.5", "3.5")
    assert response.headers["ETag"] == f'"{written["version"]}"'
    assert stocked.stock_item()["reservations"] == {"SO-1": "3.5"}


def test_reserving_more_than_available_is_refused(stocked: Api) -> None:
    assert stocked.reserve("SO-1", 6).status_code == 200
    head = stocked.head()

    response = stocked.reserve("SO-2", "4.000001")

    problem = assert_problem(response, 409, "reservation-exceeds-available")
    assert "4" in problem["detail"]  # says what is available
    assert stocked.head() == head
    assert stocked.stock_item()["reservations"] == {"SO-1": "6"}


def test_releasing_part_and_then_the_rest_of_a_reservation(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "5").status_code == 200
    key = {"sku": "SKU-1", "warehouse": "WH-1", "order_ref": "SO-1"}

    part = stocked.ok("/reservations/release", {**key, "quantity": "2"})
    rest = stocked.ok("/reservations/release", key)

    assert (part["released"], part["locked"]) == ("2", "3")
    assert (rest["released"], rest["locked"], rest["available"]) == ("3", "0", "10")
    assert stocked.stock_item()["reservations"] == {}


def test_releasing_what_an_order_does_not_hold_is_refused(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "1").status_code == 200
    head = stocked.head()

    response = stocked.post(
        "/reservations/release",
        {"sku": "SKU-1", "warehouse": "WH-1", "order_ref": "SO-1", "quantity": "2"},
    )

    assert_problem(response, 409, "release-exceeds-reservation")
    assert stocked.head() == head


def test_concurrent_orders_never_reserve_beyond_available(stocked: Api) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda n: stocked.reserve(f"SO-{n}", "1"), range(14)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [409] * 4
    for refused in (r for r in responses if r.status_code == 409):
        assert_problem(refused, 409, "reservation-exceeds-available")
    item = stocked.stock_item()
    assert (item["locked"], item["available"], len(item["reservations"])) == ("10", "0", 10)

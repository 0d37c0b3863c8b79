"""Idempotency-Key: a retried command returns the first result and never acts twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.conftest import Api, assert_problem


def test_a_retried_command_returns_the_first_result_and_stores_nothing_more(stocked: Api) -> None:
    first = stocked.reserve("SO-1", "4", idempotency_key="reserve-SO-1")
    head = stocked.head()

    retried = stocked.reserve("SO-1", "4", idempotency_key="reserve-SO-1")

    assert first.status_code == retried.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert retried.headers["ETag"] == first.headers["ETag"]
    assert stocked.head() == head
    assert stocked.stock_item()["reservations"] == {"SO-1": "4"}


def test_a_retried_create_answers_201_with_the_same_location(api: Api) -> None:
    body = {
        "sku": "SKU-1",
        "name": "One",
        "make_or_buy": "buy",
        "list_price": "1",
        "standard_cost": "1",
    }
    first = api.post("/products", body, idempotency_key="new-sku-1")
    head = api.head()

    retried = api.post("/products", body, idempotency_key="new-sku-1")

    assert first.status_code == retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.headers["Location"] == first.headers["Location"] == "/products/SKU-1"
    assert retried.json() == first.json()
    assert api.head() == head


def test_the_same_json_in_another_key_order_is_the_same_request(stocked: Api) -> None:
    first = stocked.client.post(
        "/reservations",
        content=b'{"sku":"SKU-1","warehouse":"WH-1","order_ref":"SO-1","quantity":"1"}',
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
    retried = stocked.client.post(
        "/reservations",
        content=b'{"quantity": "1", "order_ref": "SO-1", "warehouse": "WH-1", "sku": "SKU-1"}',
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )

    assert retried.status_code == 200, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert stocked.stock_item()["locked"] == "1"


def test_a_retry_after_later_writes_still_answers_the_first_result(stocked: Api) -> None:
    first = stocked.reserve("SO-1", "4", idempotency_key="reserve-SO-1").json()
    stocked.reserve("SO-2", "1")
    head = stocked.head()

    retried = stocked.reserve("SO-1", "4", idempotency_key="reserve-SO-1")

    assert retried.headers["Idempotent-Replayed"] == "true"
    assert {**retried.json(), "position": None} == {**first, "position": None}
    # The replay reports a position at least as new as the write (good for read-your-writes).
    assert first["position"] <= retried.json()["position"] <= head
    assert stocked.head() == head
    assert stocked.stock_item()["reservations"] == {"SO-1": "4", "SO-2": "1"}


def test_a_retry_of_a_command_that_could_not_run_again_still_answers_the_first_result(
    api: Api,
) -> None:
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.purchase_order()
    first = api.post("/purchase-orders/PO-1/approve", idempotency_key="approve-PO-1")
    head = api.head()

    retried = api.post("/purchase-orders/PO-1/approve", idempotency_key="approve-PO-1")

    assert retried.status_code == 200, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert api.head() == head
    assert api.stock_item()["in_transit"] == "5"


def test_a_refused_command_does_not_use_up_its_key(stocked: Api) -> None:
    assert_problem(
        stocked.reserve("SO-1", "15", idempotency_key="k-15"), 409, "reservation-exceeds-available"
    )
    stocked.produce("SKU-1", "WH-1", "5", ref="MO-2")

    retried = stocked.reserve("SO-1", "15", idempotency_key="k-15")

    assert retried.status_code == 200, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert stocked.stock_item()["locked"] == "15"


def test_reusing_a_key_for_a_different_request_is_refused(
    stocked: Api, subtests: pytest.Subtests
) -> None:
    first = stocked.reserve("SO-1", "4", idempotency_key="key-1")
    assert first.status_code == 200
    head = stocked.head()
    release = {"sku": "SKU-1", "warehouse": "WH-1", "order_ref": "SO-1"}

    other_quantity = stocked.reserve("SO-1", "5", idempotency_key="key-1")
    other_route = stocked.post("/reservations/release", release, idempotency_key="key-1")

    for change, response in (("another quantity", other_quantity), ("another route", other_route)):
        with subtests.test(change):
            assert_problem(response, 422, "idempotency-key-reused")
    assert stocked.head() == head
    assert stocked.stock_item()["reservations"] == {"SO-1": "4"}


def test_concurrent_retries_with_one_key_create_exactly_one_reservation(stocked: Api) -> None:
    attempts = 12
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(
            pool.map(
                lambda _: stocked.reserve("SO-1", "3", idempotency_key="one-reservation"),
                range(attempts),
            )
        )

    assert [r.status_code for r in responses] == [200] * attempts, [r.text for r in responses]
    originals = [r for r in responses if "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1
    results = [{**r.json(), "position": None} for r in responses]
    assert all(result == results[0] for result in results)
    item = stocked.stock_item()
    assert (item["locked"], item["reservations"]) == ("3", {"SO-1": "3"})
    movements = stocked.read("/inventory/SKU-1/WH-1/movements", min_position=stocked.head())[
        "items"
    ]
    assert [m["kind"] for m in movements].count("Reserved") == 1

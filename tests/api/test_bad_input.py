"""Bad input is refused with problem+json and stores nothing.

Each test sets up once and tries many bad requests as subtests; afterwards the log head,
both stock items, the purchase order and the product must be exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from api.settings import Settings
from tests.api.conftest import Api, assert_problem, open_api

RESERVE = {"sku": "SKU-1", "warehouse": "WH-1", "order_ref": "SO-9", "quantity": "1"}

NOT_AN_EXACT_DECIMAL = {
    "json float": 1.5,
    "whole json float": 2.0,
    "boolean": True,
    "not numeric": "abc",
    "exponent": "1e3",
    "too many decimals": "1.1234567",
    "absurdly large string": "1" + "0" * 30,
    "absurdly large integer": 10**30,
    "beyond the maximum quantity": "1000000000001",
    "not finite": "NaN",
    "empty": "",
    "object": {"value": "1"},
}
NEGATIVE = {"negative": "-1", "negative integer": -1, "negative fraction": "-0.000001"}
ZERO = {"zero": "0", "integer zero": 0, "zero with decimals": "0.000", "minus zero": "-0"}


@pytest.fixture
def busy(stocked: Api) -> Api:
    """Something to refer to on every stock endpoint: a second warehouse, an approved
    purchase order (5 of SKU-1), a transfer in transit and a reservation."""
    stocked.warehouse("WH-2")
    stocked.purchase_order()
    stocked.ok("/purchase-orders/PO-1/approve")
    stocked.ok(
        "/stock/transfers",
        {
            "sku": "SKU-1",
            "from_warehouse": "WH-1",
            "to_warehouse": "WH-2",
            "quantity": "2",
            "transfer_ref": "TRF-1",
        },
        201,
    )
    assert stocked.reserve("SO-1", "3").status_code == 200
    return stocked


def movement_commands(qty: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command whose quantity must be greater than zero, with `qty` in it."""
    item = {"sku": "SKU-1", "warehouse": "WH-1"}
    yield "/reservations", {**item, "order_ref": "SO-2", "quantity": qty}
    yield "/reservations/release", {**item, "order_ref": "SO-1", "quantity": qty}
    yield (
        "/stock/shipment-issues",
        {**item, "order_ref": "SO-1", "shipment_ref": "SH-1", "quantity": qty},
    )
    yield "/stock/material-issues", {**item, "production_ref": "MO-2", "quantity": qty}
    yield "/stock/finished-goods-receipts", {**item, "production_ref": "MO-2", "quantity": qty}
    yield (
        "/stock/transfers",
        {"sku": "SKU-1", "from_warehouse": "WH-1", "to_warehouse": "WH-2", "quantity": qty},
    )
    yield "/stock/transfers/TRF-1/receipts", {"sku": "SKU-1", "warehouse": "WH-2", "quantity": qty}
    yield "/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": qty}]}
    yield (
        "/purchase-orders",
        {"supplier": "Acme", "warehouse": "WH-1", "lines": [{"sku": "SKU-1", "quantity": qty}]},
    )


def level_commands(qty: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Commands whose quantity may be zero but never negative."""
    item = {"sku": "SKU-1", "warehouse": "WH-1"}
    yield "/stock/counts", {**item, "counted": qty, "reason": "count"}
    yield "/stock/safety-levels", {**item, "level": qty}


def quantity_commands(qty: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command that takes a quantity."""
    yield from movement_commands(qty)
    yield from level_commands(qty)


Commands = Callable[[Any], Iterable[tuple[str, dict[str, Any]]]]

SNAPSHOT = (
    "/stock-items/SKU-1/WH-1",
    "/stock-items/SKU-1/WH-2",
    "/purchase-orders/PO-1",
    "/products/SKU-1",
)


def snapshot(api: Api) -> tuple[int, list[tuple[int, Any]]]:
    """The log head and everything a bad request could have touched (404s stay 404s)."""
    return api.head(), [(r.status_code, r.json()) for r in map(api.get, SNAPSHOT)]


def refuse_all(
    api: Api,
    subtests: pytest.Subtests,
    cases: dict[str, Any],
    commands: Commands,
    status: int,
    rule: str,
) -> None:
    """Each case on each command is refused with the problem, and changes nothing."""
    before = snapshot(api)
    for name, value in cases.items():
        for path, body in commands(value):
            with subtests.test(case=name, path=path):
                problem = assert_problem(api.post(path, body), status, rule)
                assert problem["instance"] == path
    assert snapshot(api) == before


def test_a_quantity_that_is_not_an_exact_decimal_in_range_is_refused_everywhere(
    busy: Api, subtests: pytest.Subtests
) -> None:
    refuse_all(busy, subtests, NOT_AN_EXACT_DECIMAL, quantity_commands, 422, "invalid-input")


def test_a_negative_quantity_is_refused_everywhere(busy: Api, subtests: pytest.Subtests) -> None:
    refuse_all(busy, subtests, NEGATIVE, quantity_commands, 422, "invalid-input")


def test_a_zero_quantity_is_refused_where_a_movement_needs_one(
    busy: Api, subtests: pytest.Subtests
) -> None:
    refuse_all(busy, subtests, ZERO, movement_commands, 422, "invalid-input")


def test_a_price_that_is_not_exact_non_negative_money_is_refused(
    busy: Api, subtests: pytest.Subtests
) -> None:
    prices = {
        "negative": "-1",
        "json float": 1.5,
        "five decimals": "1.23456",
        "exponent": "1e3",
        "absurdly large": "1" + "0" * 30,
        "not numeric": "abc",
    }

    def commands(price: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        yield "/products/SKU-1/reprice", {"list_price": price, "standard_cost": "1"}
        yield (
            "/products",
            {
                "sku": "SKU-2",
                "name": "Two",
                "make_or_buy": "buy",
                "list_price": "1",
                "standard_cost": price,
            },
        )
        yield (
            "/purchase-orders",
            {
                "supplier": "Acme",
                "warehouse": "WH-1",
                "lines": [{"sku": "SKU-1", "quantity": "1", "unit_cost": price}],
            },
        )

    refuse_all(busy, subtests, prices, commands, 422, "invalid-input")
    assert_problem(busy.get("/products/SKU-2"), 404, "not-found")


def test_an_unknown_sku_or_warehouse_is_not_found(busy: Api, subtests: pytest.Subtests) -> None:
    def commands(unknown: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
        item = {"sku": "SKU-1", "warehouse": "WH-1", **unknown}
        yield "/reservations", {**item, "order_ref": "SO-2", "quantity": "1"}
        yield "/reservations/release", {**item, "order_ref": "SO-1"}
        yield "/stock/finished-goods-receipts", {**item, "production_ref": "MO-2", "quantity": "1"}
        yield "/stock/material-issues", {**item, "production_ref": "MO-2", "quantity": "1"}
        yield "/stock/safety-levels", {**item, "level": "1"}
        yield "/stock/counts", {**item, "counted": "1", "reason": "count"}
        yield (
            "/purchase-orders",
            {
                "supplier": "Acme",
                "warehouse": item["warehouse"],
                "lines": [{"sku": item["sku"], "quantity": "1"}],
            },
        )

    unknown = {"unknown sku": {"sku": "NOPE-404"}, "unknown warehouse": {"warehouse": "NOPE-404"}}
    refuse_all(busy, subtests, unknown, commands, 404, "not-found")


def test_over_reservation_is_a_broken_rule(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "3").status_code == 200
    before = snapshot(stocked)  # 10 on hand, 3 reserved: 7 available

    assert_problem(stocked.reserve("SO-2", "7.000001"), 409, "reservation-exceeds-available")
    assert snapshot(stocked) == before


def test_over_receipt_beyond_tolerance_is_a_broken_rule(busy: Api) -> None:
    before = snapshot(busy)  # PO-1 ordered 5; the 5 % tolerance allows 5.25

    response = busy.post(
        "/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": "5.26"}]}
    )

    assert_problem(response, 409, "over-receipt")
    assert snapshot(busy) == before


def test_malformed_json_is_a_bad_request(stocked: Api, subtests: pytest.Subtests) -> None:
    before = snapshot(stocked)

    for body in (b'{"sku": "SKU-1", "quantity": ', b"{'sku': 'SKU-1'}", b'{"quantity": 1.5,}'):
        with subtests.test(body=body):
            response = stocked.client.post(
                "/reservations", content=body, headers={"Content-Type": "application/json"}
            )
            assert_problem(response, 400, "malformed-json")
            assert snapshot(stocked) == before


def test_a_body_that_is_not_json_is_an_unsupported_media_type(
    stocked: Api, subtests: pytest.Subtests
) -> None:
    before = snapshot(stocked)

    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        with subtests.test(content_type=content_type):
            headers = {"Content-Type": content_type} if content_type else {}
            response = stocked.client.post(
                "/reservations", content=b'{"sku": "SKU-1"}', headers=headers
            )
            assert_problem(response, 415, "unsupported-media-type")
            assert snapshot(stocked) == before


def test_a_missing_field_is_invalid_input(stocked: Api, subtests: pytest.Subtests) -> None:
    before = snapshot(stocked)

    for missing in RESERVE:
        with subtests.test(missing=missing):
            response = stocked.post(
                "/reservations", {k: v for k, v in RESERVE.items() if k != missing}
            )
            problem = assert_problem(response, 422, "invalid-input")
            assert [e["field"] for e in problem["errors"]] == [missing]
            assert snapshot(stocked) == before


def test_an_unknown_extra_field_is_invalid_input(stocked: Api, subtests: pytest.Subtests) -> None:
    before = snapshot(stocked)
    line = {"sku": "SKU-1", "quantity": "1"}

    for path, body, field in (
        ("/reservations", {**RESERVE, "quantty": "2"}, "quantty"),
        (
            "/purchase-orders",
            {"supplier": "Acme", "warehouse": "WH-1", "lines": [{**line, "price": "1"}]},
            "lines.0.price",
        ),
    ):
        with subtests.test(path=path):
            problem = assert_problem(stocked.post(path, body), 422, "invalid-input")
            assert [e["field"] for e in problem["errors"]] == [field]
            assert snapshot(stocked) == before


def test_a_body_that_is_not_an_object_is_invalid_input(
    stocked: Api, subtests: pytest.Subtests
) -> None:
    before = snapshot(stocked)

    bodies: list[Any] = [[], "SKU-1", None]
    for body in bodies:
        with subtests.test(body=body):
            assert_problem(stocked.post("/reservations", body), 422, "invalid-input")
            assert snapshot(stocked) == before


def test_a_body_too_large_is_refused_before_any_work(stocked: Api) -> None:
    before = snapshot(stocked)
    padding = "x" * stocked.runtime.settings.max_body_bytes

    declared = stocked.post("/reservations", {**RESERVE, "order_ref": padding})
    streamed = stocked.client.post(
        "/reservations",
        content=iter([b'{"order_ref": "', padding.encode(), b'"}']),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(declared, 413, "body-too-large")
    assert_problem(streamed, 413, "body-too-large")
    assert snapshot(stocked) == before


def test_a_malformed_header_is_invalid_input(stocked: Api, subtests: pytest.Subtests) -> None:
    before = snapshot(stocked)
    body = {"sku": "SKU-1", "warehouse": "WH-1", "counted": "9", "reason": "count"}

    for header, value, rule in (
        ("If-Match", "3", "invalid-if-match"),
        ("If-Match", '"three"', "invalid-if-match"),
        ("X-Correlation-Id", "x" * 201, "invalid-correlation-id"),
        ("Idempotency-Key", "key with spaces", "invalid-idempotency-key"),
    ):
        with subtests.test(header=header, value=value):
            response = stocked.client.post("/stock/counts", json=body, headers={header: value})
            assert_problem(response, 422, rule)
            assert snapshot(stocked) == before


def test_a_date_that_is_malformed_or_has_no_time_zone_is_invalid_input(
    stocked: Api, subtests: pytest.Subtests
) -> None:
    before = snapshot(stocked)

    for when in ("2026-11-25T09:00:00", "yesterday", "2026-13-01T00:00:00+00:00"):
        with subtests.test(effective_at=when):
            assert_problem(
                stocked.post("/reservations", {**RESERVE, "effective_at": when}),
                422,
                "invalid-input",
            )
            assert snapshot(stocked) == before


NUL_TEXT = {
    "warehouse name": ("/warehouses", {"code": "WH-9", "name": "Dock\x009"}, "/warehouses"),
    "count reason": (
        "/stock/counts",
        {"sku": "SKU-1", "warehouse": "WH-1", "counted": "9", "reason": "recount\x00"},
        "/inventory",
    ),
}


@pytest.mark.parametrize("field", NUL_TEXT)
def test_free_text_with_a_nul_character_never_stalls_the_read_models(
    settings: Settings, field: str
) -> None:
    # PostgreSQL text cannot hold NUL: accepted into the log, such text must still project.
    path, body, read = NUL_TEXT[field]
    with open_api(settings.model_copy(update={"read_your_writes_timeout": 1.0})) as api:
        api.warehouse("WH-1")
        api.product("SKU-1")
        head = api.head()

        response = api.post(path, body)

        if response.status_code == 422:
            assert_problem(response, 422, "invalid-input")
            assert api.head() == head
            return
        assert response.status_code in (200, 201), response.text
        after = api.get(read, min_position=response.json()["position"])
        assert after.status_code == 200, after.text
        health = api.read("/healthz")
        assert (health["status"], health["projection_error"]) == ("ok", None)


PAGED_BY_POSITION = (
    "/invoices",
    "/receivables",
    "/credit-notes",
    "/write-offs",
    "/bank-statements",
)


def test_query_and_path_values_the_store_cannot_hold_are_answered_not_crashed(
    stocked: Api, subtests: pytest.Subtests
) -> None:
    for path in (
        "/products?after=%00",
        "/purchase-orders?after=%00",
        "/inventory?warehouse=%00",
        "/inventory?sku_prefix=%00",
        "/inventory/%00",
        "/inventory/SKU-1/%00/movements",
        "/inventory/SKU-1/WH-1/movements?after=9223372036854775808",
        "/inventory/SKU-1/WH-1/movements?after=" + "9" * 30,
        *(f"{listing}?after=9223372036854775808" for listing in PAGED_BY_POSITION),
    ):
        with subtests.test(path=path):
            response = stocked.client.get(path)
            assert response.status_code in (200, 404, 422), response.text
            assert response.headers["content-type"] in (
                "application/json",
                "application/problem+json",
            )
    assert stocked.read("/healthz")["status"] == "ok"

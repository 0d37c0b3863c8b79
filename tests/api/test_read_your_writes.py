"""Read-your-writes: a command's position, passed as `min_position`, makes the read wait
until the read model includes the write."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from api.settings import Settings
from tests.api.conftest import Api, assert_problem, open_api

READS = [
    "/products",
    "/warehouses",
    "/purchase-orders",
    "/inventory",
    "/inventory/SKU-1",
    "/inventory/SKU-1/WH-1/movements",
    "/safety-alerts",
    "/purchase-requisitions",
]


@pytest.fixture
def lagging(settings: Settings) -> Iterator[Api]:
    """An API whose projections are stopped (a lagging worker); reads wait at most 0.3 s."""
    with open_api(settings.model_copy(update={"read_your_writes_timeout": 0.3})) as api:
        api.warehouse("WH-1")
        api.product("SKU-1")
        api.read("/products", min_position=api.head())
        api.runtime.runner.stop()
        yield api


def test_a_read_at_the_commands_position_includes_the_write(lagging: Api) -> None:
    written = lagging.produce("SKU-1", "WH-1", "7")
    assert lagging.read("/inventory")["items"] == []  # the read model lags behind the log
    catch_up = threading.Timer(0.1, lagging.runtime.runner.start)  # a moment later
    catch_up.start()

    rows = lagging.read("/inventory", min_position=written["position"])["items"]
    catch_up.join()

    assert [(r["sku"], r["physical"]) for r in rows] == [("SKU-1", "7")]
    assert rows[0]["last_position"] == written["position"]


def test_a_read_model_that_cannot_catch_up_in_time_answers_503(lagging: Api) -> None:
    written = lagging.produce("SKU-1", "WH-1", "7")

    response = lagging.get("/inventory", min_position=written["position"])

    assert_problem(response, 503, "projection-lag")
    assert response.headers["Retry-After"] == "1"


def test_every_read_model_honours_min_position(stocked: Api) -> None:
    stocked.ok("/stock/safety-levels", {"sku": "SKU-1", "warehouse": "WH-1", "level": "1"})
    written = stocked.purchase_order()

    for path in READS:
        assert stocked.get(path, min_position=written["position"]).status_code == 200, path
    assert [
        o["number"]
        for o in stocked.read("/purchase-orders", min_position=written["position"])["items"]
    ] == ["PO-1"]


def test_a_min_position_beyond_the_head_is_refused(stocked: Api, subtests: pytest.Subtests) -> None:
    beyond = stocked.head() + 1

    for path in READS:
        with subtests.test(path=path):
            problem = assert_problem(
                stocked.get(path, min_position=beyond), 422, "unknown-position"
            )
            assert str(beyond) in problem["detail"]


def test_a_negative_min_position_is_invalid_input(stocked: Api) -> None:
    assert_problem(stocked.get("/inventory", min_position=-1), 422, "invalid-input")
    assert_problem(stocked.get("/inventory", min_position="soon"), 422, "invalid-input")

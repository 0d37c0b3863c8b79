"""Products and warehouses: register, list, read, reprice."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem


def test_registering_a_warehouse_lists_it(api: Api) -> None:
    response = api.post("/warehouses", {"code": "WH-1", "name": "Main", "address": "Dock 4"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/warehouses/WH-1"
    assert response.headers["ETag"] == '"1"'
    written = response.json()
    assert written["code"] == "WH-1"
    assert written["version"] == 1

    listed = api.read("/warehouses", min_position=written["position"])

    assert listed["items"] == [{"code": "WH-1", "name": "Main", "address": "Dock 4"}]


def test_registering_a_product_makes_it_readable_and_listed(api: Api) -> None:
    assert_problem(api.get("/products/SKU-1"), 404, "not-found")

    written = api.product("SKU-1", list_price="12.50", standard_cost=7, currency="USD")

    response = api.get("/products/SKU-1")
    listed = api.read("/products", min_position=written["position"])

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    product = response.json()
    assert product["list_price"] == "12.5"
    assert product["standard_cost"] == "7"
    assert product["currency"] == "USD"
    assert product["make_or_buy"] == "buy"
    assert [p["sku"] for p in listed["items"]] == ["SKU-1"]
    assert listed["items"][0]["list_price"] == "12.5"


def test_registering_the_same_sku_twice_is_refused(api: Api) -> None:
    api.product("SKU-1")
    head = api.head()

    response = api.post(
        "/products",
        {
            "sku": "SKU-1",
            "name": "Again",
            "make_or_buy": "make",
            "list_price": "1",
            "standard_cost": "1",
        },
    )

    assert_problem(response, 409, "already-exists")
    assert api.head() == head


def test_listing_products_walks_every_page_once(api: Api) -> None:
    skus = [f"SKU-{n:02}" for n in range(7)]
    for sku in skus:
        last = api.product(sku)["position"]

    seen, after = [], None
    for _ in range(10):
        page = api.read("/products", limit=3, after=after, min_position=last)
        seen += [p["sku"] for p in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break

    assert seen == skus


def test_repricing_a_product_changes_its_prices_and_version(api: Api) -> None:
    api.product("SKU-1")

    written = api.ok(
        "/products/SKU-1/reprice", {"list_price": "11", "standard_cost": "7.25"}, if_match='"1"'
    )
    product = api.get("/products/SKU-1")
    listed = api.read("/products", min_position=written["position"])

    assert written["version"] == 2
    assert product.headers["ETag"] == '"2"'
    assert product.json()["list_price"] == "11"
    assert product.json()["standard_cost"] == "7.25"
    assert listed["items"][0]["version"] == 2
    assert listed["items"][0]["standard_cost"] == "7.25"


def test_repricing_with_a_stale_version_is_refused(api: Api) -> None:
    api.product("SKU-1")
    api.ok("/products/SKU-1/reprice", {"list_price": "11", "standard_cost": "7"})
    head = api.head()

    response = api.post(
        "/products/SKU-1/reprice", {"list_price": "99", "standard_cost": "1"}, if_match='"1"'
    )

    assert_problem(response, 412, "stale-version")
    assert response.headers["ETag"] == '"2"'
    assert api.head() == head
    assert api.read("/products/SKU-1")["list_price"] == "11"


def test_a_sku_with_a_slash_is_either_refused_or_readable_at_its_location(api: Api) -> None:
    # Codes allow "/" but path parameters cannot carry one: accepting such a SKU and then
    # answering 404 at its own Location leaves a product nobody can read, reprice or stock.
    head = api.head()
    response = api.post(
        "/products",
        {
            "sku": "KIT/1",
            "name": "Kit",
            "make_or_buy": "make",
            "list_price": "1",
            "standard_cost": "1",
        },
    )

    if response.status_code != 201:
        assert_problem(response, 422, "invalid-input")
        assert api.head() == head
        return
    found = api.get(response.headers["Location"])
    assert found.status_code == 200, found.text
    assert found.json()["sku"] == "KIT/1"

"""Health probe, OpenAPI documents, and problems for routes that do not exist."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem

ROUTES = {
    ("post", "/warehouses"),
    ("get", "/warehouses"),
    ("post", "/products"),
    ("get", "/products"),
    ("get", "/products/{sku}"),
    ("post", "/products/{sku}/reprice"),
    ("post", "/purchase-orders"),
    ("get", "/purchase-orders"),
    ("get", "/purchase-orders/{number}"),
    ("post", "/purchase-orders/{number}/approve"),
    ("post", "/purchase-orders/{number}/receipts"),
    ("post", "/purchase-orders/{number}/cancel"),
    ("get", "/stock-items/{sku}/{warehouse}"),
    ("post", "/stock/counts"),
    ("post", "/stock/transfers"),
    ("post", "/stock/transfers/{transfer_ref}/receipts"),
    ("post", "/stock/safety-levels"),
    ("post", "/stock/material-issues"),
    ("post", "/stock/finished-goods-receipts"),
    ("post", "/stock/shipment-issues"),
    ("post", "/reservations"),
    ("post", "/reservations/release"),
    ("get", "/inventory"),
    ("get", "/inventory/{sku}"),
    ("get", "/inventory/{sku}/{warehouse}/movements"),
    ("get", "/safety-alerts"),
    ("get", "/purchase-requisitions"),
    ("get", "/healthz"),
}


def test_the_health_probe_reports_the_store_the_head_and_each_projection(
    api: Api, store_kind: str
) -> None:
    written = api.warehouse("WH-1")
    api.read("/warehouses", min_position=written["position"])

    health = api.read("/healthz")

    assert health["status"] == "ok"
    assert health["projection_error"] is None
    assert health["store"] == {"sqlite": "sqlite", "postgres": "postgresql"}[store_kind]
    assert health["head"] == written["position"] == 1
    names = {p["name"] for p in health["projections"]}
    assert names == {
        "bank_statements",
        "catalog",
        "inventory",
        "purchasing",
        "orders",
        "production",
        "receivables",
        "safety_stock",
        "audit_chain",
        "outbox",
        "credit",
        "access",
        "kpis",
    }
    catalog = next(p for p in health["projections"] if p["name"] == "catalog")
    assert (catalog["position"], catalog["lag"]) == (1, 0)


def test_the_openapi_document_describes_every_route_and_unknown_routes_are_problems(
    api: Api,
) -> None:
    document = api.read("/openapi.json")
    docs = api.get("/docs")

    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert described >= ROUTES
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), (method, path)
            assert operation.get("description"), (method, path)  # the handler's docstring
            for status, answer in operation["responses"].items():
                if int(status) >= 400:  # every refusal is documented as the app sends it
                    (problem,) = answer["content"].values()
                    assert answer["content"].keys() == {"application/problem+json"}
                    assert problem["schema"]["allOf"][1]["properties"]["status"]["const"] == int(
                        status
                    )
    refusals = {path: set(document["paths"][path][method]["responses"]) for path, method in (
        ("/reservations", "post"), ("/sales-orders/{number}", "get"), ("/products", "get"),
        ("/sales-orders/{number}/amend", "post"), ("/auth/sign-in", "post"),
    )}  # fmt: skip
    assert refusals == {
        "/reservations": {
            "200", "400", "401", "403", "404", "409", "413", "415", "422", "503", "507",
        },
        "/sales-orders/{number}": {"200", "401", "403", "404", "422", "503"},
        "/products": {"200", "401", "403", "422", "503"},
        "/sales-orders/{number}/amend": {
            "200", "400", "401", "403", "404", "409", "412", "413", "415", "422", "503", "507",
        },
        "/auth/sign-in": {
            "200", "400", "401", "404", "409", "413", "415", "422", "429", "503", "507",
        },
    }  # fmt: skip
    assert "HTTPValidationError" not in document["components"]["schemas"]
    quantity = document["components"]["schemas"]["ReserveIn"]["properties"]["quantity"]
    assert quantity["type"] == "string"
    assert "pattern" in quantity
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in api.get("/docs/start.js").text
    assert_problem(api.get("/no-such-thing"), 404, "http-error")
    assert_problem(api.client.delete("/products"), 405, "http-error")

"""The HTTP API end to end: `create_app(settings)` on real SQLite and real PostgreSQL.

Each test gets a fresh store (the shared `settings` fixture) and a `TestClient` used as a
context manager, so the lifespan opens the runtime and the projection runner works in the
background exactly as in production. Reads pass `min_position` to see their own writes.

Who calls: the business tests here name their caller with `X-Actor` and `X-Role` headers
(`headers_principal` stands in for authentication; permissions are still checked). Real
credentials — keys, sessions, refusals — are tested in tests/api/test_security*.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI, Request

from api.access import Principal
from api.app import create_app
from api.errors import ApiError
from api.runtime import Runtime
from api.settings import Settings
from domain.workflows import ROLES

with warnings.catch_warnings():
    # Starlette prefers the `httpx2` fork; the project pins plain httpx, which still works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PROBLEM_FIELDS = {"type", "title", "status", "detail", "rule"}


class Api:
    """A thin client: commands return their JSON, helpers seed master data and stock."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def runtime(self) -> Runtime:
        """The running system behind the app (to stop its projections, read its settings)."""
        return cast(Runtime, cast(FastAPI, self.client.app).state.runtime)

    # -- raw HTTP ---------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return self.client.post(path, json=body, headers=_headers(headers))

    def ok(
        self, path: str, body: Any = None, status: int | None = None, **headers: str
    ) -> dict[str, Any]:
        """POST a command that must succeed; return its JSON (which carries `position`)."""
        response = self.post(path, body, **headers)
        assert response.status_code in ((status,) if status else (200, 201)), response.text
        assert response.headers["content-type"] == "application/json"
        result: dict[str, Any] = response.json()
        assert isinstance(result["position"], int)
        assert result["position"] > 0
        assert response.headers["X-Log-Position"] == str(result["position"])
        return result

    def read(self, path: str, **params: Any) -> Any:
        """GET that must succeed; return its JSON."""
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def head(self) -> int:
        """The log head, from the health probe: the proof that nothing was stored."""
        head: int = self.read("/healthz")["head"]
        return head

    # -- seeding -----------------------------------------------------------------------------

    def warehouse(self, code: str = "WH-1", name: str = "Main warehouse") -> dict[str, Any]:
        return self.ok("/warehouses", {"code": code, "name": name}, 201)

    def product(
        self, sku: str = "SKU-1", make_or_buy: str = "buy", **fields: Any
    ) -> dict[str, Any]:
        body = {
            "sku": sku,
            "name": f"Product {sku}",
            "make_or_buy": make_or_buy,
            "list_price": "10",
            "standard_cost": "6.5",
            **fields,
        }
        return self.ok("/products", body, 201)

    def produce(self, sku: str, warehouse: str, quantity: str, ref: str = "MO-1") -> dict[str, Any]:
        """Put stock on hand through a finished-goods receipt."""
        body = {"sku": sku, "warehouse": warehouse, "production_ref": ref, "quantity": quantity}
        return self.ok("/stock/finished-goods-receipts", body)

    def reserve(
        self,
        order_ref: str,
        quantity: Any,
        sku: str = "SKU-1",
        warehouse: str = "WH-1",
        **headers: str,
    ) -> httpx.Response:
        body = {"sku": sku, "warehouse": warehouse, "order_ref": order_ref, "quantity": quantity}
        return self.post("/reservations", body, **headers)

    def purchase_order(
        self, number: str = "PO-1", quantity: str = "5", sku: str = "SKU-1"
    ) -> dict[str, Any]:
        """Draft a one-line purchase order from Acme for WH-1."""
        body = {
            "number": number,
            "supplier": "Acme",
            "warehouse": "WH-1",
            "lines": [{"sku": sku, "quantity": quantity}],
        }
        return self.ok("/purchase-orders", body, 201)

    def stock_item(self, sku: str = "SKU-1", warehouse: str = "WH-1") -> dict[str, Any]:
        item: dict[str, Any] = self.read(f"/stock-items/{sku}/{warehouse}")
        return item


def _headers(given: dict[str, str]) -> dict[str, str]:
    """Python names to HTTP names: if_match → If-Match, idempotency_key → Idempotency-Key."""
    return {"-".join(part.capitalize() for part in name.split("_")): v for name, v in given.items()}


def assert_problem(response: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    """An RFC 9457 problem with the expected status and named rule."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["rule"] == rule, body
    assert body["type"].endswith(f"/{rule}")
    assert body["title"]
    assert body["detail"]
    return body


def headers_principal(request: Request, *_credentials: object) -> Principal:
    """The caller the test names: `X-Actor` (default tester) acting in `X-Role` (default
    admin, who holds every permission)."""
    role = request.headers.get("X-Role", "admin")
    if role not in ROLES:
        raise ApiError(401, f"no such role {role!r}", "unauthenticated")
    actor = request.headers.get("X-Actor", "tester")
    return Principal(actor, role, request.headers.get("X-Customer"), "key", "test")


def named_callers(app: FastAPI) -> FastAPI:
    """The app with callers named by headers instead of credentials (see the docstring)."""
    app.state.authenticator = headers_principal
    return app


@contextmanager
def open_api(settings: Settings) -> Iterator[Api]:
    """The app on `settings`, its lifespan running (projections work in the background)."""
    with TestClient(named_callers(create_app(settings))) as client:
        yield Api(client)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with open_api(settings) as opened:
        yield opened


@pytest.fixture
def stocked(api: Api) -> Api:
    """One warehouse WH-1, one bought product SKU-1 with 10 on hand."""
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.produce("SKU-1", "WH-1", "10")
    return api


def ship_and_bill(approved: Api) -> Api:
    """Ship 4 of SO-1's line 1 as SH-1 and bill it: INV-2026-000001, dated 2026-02-10."""
    approved.ok(
        "/sales-orders/SO-1/shipments",
        {"shipment_ref": "SH-1", "lines": [{"line_no": 1, "quantity": "4"}],
         "carrier": "DHL", "tracking_number": "JD1"},
        201,
    )  # fmt: skip
    approved.ok("/invoices", {"customer": "C-1", "invoice_date": "2026-02-10",
                              "shipments": [{"order_number": "SO-1", "shipment_ref": "SH-1"}]},
                201)  # fmt: skip
    return approved

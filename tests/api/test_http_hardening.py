"""HTTP hardening seen from a client: security headers on every kind of response, CORS off
until origins are configured, and limits on the request's target and headers.

Headers and CORS do not depend on the store, so these tests run on SQLite only; the body
limits, which must store nothing, run on both stores (here and in test_served_hardening)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.app import create_app
from api.cli import cli
from api.security_headers import API_POLICY, PAGE_POLICY
from api.settings import Settings
from tests.api.conftest import Api, assert_problem, named_callers, open_api
from tests.conftest import make_settings
from tests.statement_files import CAMT02

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SHOP = "https://shop.example"
EVIL = "https://evil.example"
COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    with open_api(make_settings("sqlite", tmp_path)) as opened:
        yield opened


def assert_hardened(response: httpx.Response, policy: str, cache: str | None = "no-store") -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert response.headers["content-security-policy"] == policy
    assert response.headers.get("cache-control") == cache
    assert "strict-transport-security" not in response.headers  # not behind TLS by default


def test_json_problems_pages_and_errors_all_carry_the_security_headers(tmp_path: Path) -> None:
    app = named_callers(create_app(make_settings("sqlite", tmp_path)))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client)
        api.warehouse("WH-1")
        product = api.product("SKU-1")
        read = api.get("/products/SKU-1", min_position=product["position"])
        assert read.headers["content-type"] == "application/json"
        assert_hardened(read, API_POLICY)
        # no-store leaves optimistic concurrency alone: the ETag still guards a write.
        assert read.headers["etag"] == '"1"'
        stale = api.post(
            "/products/SKU-1/reprice", {"list_price": "11", "standard_cost": "7"}, if_match='"0"'
        )
        assert_problem(stale, 412, "stale-version")
        assert_hardened(stale, API_POLICY)
        assert_hardened(assert_bad(api.get("/no-such-thing"), 404), API_POLICY)
        crashed = client.get("/boom")  # rendered by Starlette's outermost error middleware
        assert_hardened(assert_bad(crashed, 500), API_POLICY)

        page = client.get("/docs")
        assert page.headers["content-type"].startswith("text/html")
        assert "<script>" not in page.text  # no inline script: the page policy forbids it
        assert_hardened(page, PAGE_POLICY)
        assert_hardened(client.get("/docs/start.js"), API_POLICY)
        assert_hardened(client.get("/openapi.json"), API_POLICY)

        # The Swagger UI bundle stays cacheable and answers conditional requests.
        asset = client.get("/static/swagger/swagger-ui-bundle.js")
        assert_hardened(asset, API_POLICY, cache=None)
        again = client.get(asset.request.url, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304


def assert_bad(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response


def test_behind_tls_every_response_asks_for_https_only(tmp_path: Path) -> None:
    with open_api(make_settings("sqlite", tmp_path, behind_tls=True)) as api:
        for response in (api.get("/healthz"), api.client.get("/docs"), api.get("/nowhere")):
            assert response.headers["strict-transport-security"] == "max-age=31536000"


def preflight(api: Api, origin: str, method: str = "POST", headers: str = "") -> httpx.Response:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request["Access-Control-Request-Headers"] = headers
    return api.client.options("/warehouses", headers=request)


def test_cors_is_off_by_default(sqlite_api: Api) -> None:
    refused = preflight(sqlite_api, SHOP)
    assert_problem(refused, 405, "http-error")
    simple = sqlite_api.client.get("/healthz", headers={"Origin": SHOP})
    assert simple.status_code == 200
    for response in (refused, simple):
        assert not [h for h in response.headers if h.startswith("access-control-")]


def test_a_configured_origin_may_call_the_api_and_no_other(tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path, cors_origins=[SHOP])
    with open_api(settings) as api:
        allowed = preflight(api, SHOP, headers="content-type,idempotency-key,if-match")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == SHOP
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in allowed.headers
        assert allowed.headers["x-frame-options"] == "DENY"

        created = api.client.post(
            "/warehouses", json={"code": "WH-1", "name": "Main"}, headers={"Origin": SHOP}
        )
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == SHOP
        assert "X-Log-Position" in created.headers["access-control-expose-headers"]

        assert_problem(preflight(api, EVIL), 403, "cors-refused")
        other_header = preflight(api, SHOP, headers="x-custom-thing")
        body = assert_problem(other_header, 403, "cors-refused")
        assert "headers" in body["detail"]
        read = api.client.get("/healthz", headers={"Origin": EVIL})
        assert read.status_code == 200
        assert "access-control-allow-origin" not in read.headers
        assert api.head() == created.json()["position"]  # refused preflights stored nothing


def test_cors_origins_are_checked_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERLEDGER_CORS_ORIGINS", f"{SHOP}, http://localhost:5173")
    assert Settings().cors_origins == [SHOP, "http://localhost:5173"]
    monkeypatch.setenv("ORDERLEDGER_CORS_ORIGINS", f'["{SHOP}"]')
    assert Settings().cors_origins == [SHOP]
    assert Settings(cors_origins=["*"]).cors_origins == ["*"]  # public, without credentials

    for origins, credentials, message in (
        (["*"], True, "credentials cannot be allowed for every origin (*)"),
        ([f"{SHOP}/"], False, "is not an origin"),
        (["shop.example"], False, "is not an origin"),
    ):
        with pytest.raises(ValidationError, match=re.escape(message)):
            Settings(cors_origins=origins, cors_allow_credentials=credentials)


def test_serve_refuses_a_wildcard_origin_with_credentials_in_one_line(tmp_path: Path) -> None:
    env = {
        "ORDERLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ORDERLEDGER_CORS_ORIGINS": "*",
        "ORDERLEDGER_CORS_ALLOW_CREDENTIALS": "true",
    }
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: invalid ORDERLEDGER_CORS_ALLOW_CREDENTIALS: credentials cannot be allowed for"
        " every origin (*): list the origins instead"
    )
    assert not (tmp_path / "ledger.db").exists()


def test_a_long_target_and_too_many_or_too_large_headers_are_refused(sqlite_api: Api) -> None:
    settings = sqlite_api.runtime.settings
    long_query = "x" * settings.max_url_bytes
    assert_problem(sqlite_api.client.get(f"/products?q={long_query}"), 414, "url-too-long")
    many = {f"X-Filler-{n}": "1" for n in range(settings.max_header_count)}
    assert_problem(sqlite_api.client.get("/healthz", headers=many), 431, "too-many-headers")
    large = {f"X-Filler-{n}": "y" * 1000 for n in range(settings.max_header_bytes // 1000 + 1)}
    assert_problem(sqlite_api.client.get("/healthz", headers=large), 431, "headers-too-large")
    assert sqlite_api.client.get("/healthz", headers={"X-Filler": "z" * 1000}).status_code == 200


def test_a_statement_upload_has_its_own_larger_body_limit(tmp_path: Path) -> None:
    statement = CAMT02.read_bytes()
    settings = make_settings("sqlite", tmp_path, max_body_bytes=len(statement) // 2)
    with open_api(settings) as api:
        padded = b'{"code": "WH-1", "name": "Main"' + b" " * len(statement) + b"}"
        json_header = {"Content-Type": "application/json"}
        refused = api.client.post("/warehouses", content=padded, headers=json_header)
        assert_problem(refused, 413, "body-too-large")
        files = {"file": (CAMT02.name, statement, "application/octet-stream")}
        imported = api.client.post("/bank-statements", files=files)
        assert imported.status_code == 201, imported.text
        assert imported.json()["imported"] == 5

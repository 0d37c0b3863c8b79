"""Authentication and authorisation with real credentials, on SQLite and PostgreSQL.

The permission matrix test is generated from the app's own route table: every route ×
every role is allowed or refused as domain/permissions.py says, and a route that declares
no permission fails it — nothing new is open by accident.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.auth import COOKIE, CSRF_HEADER, declared_permission, serves_customers
from api.settings import Settings
from domain.permissions import GRANTS, PUBLIC, SIGNED_IN, allows
from domain.workflows import ROLES
from tests.api.conftest import TestClient, assert_problem
from tests.api.secured import PASSWORD, Secured, admin_meta, routes_of, secured

__all__ = ["secured"]  # the fixture, used by name


def test_every_route_declares_one_known_permission() -> None:
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    undeclared = [
        f"{sorted(route.methods)} {route.path}"
        for route in routes_of(app)
        if declared_permission(route) is None
    ]
    assert undeclared == []
    assert len(list(routes_of(app))) > 120  # the walk reaches the included routers


def test_a_route_without_a_declared_permission_is_caught() -> None:
    app = FastAPI()

    @app.get("/open")
    def open_route() -> None:
        return None

    (route,) = (r for r in routes_of(app) if r.path == "/open")
    assert declared_permission(route) is None


def _call(client: TestClient, route: APIRoute, headers: dict[str, str]) -> httpx.Response:
    path = re.sub(r"\{[^}]+\}", "X-1", route.path)
    method = sorted(route.methods - {"HEAD"})[0]
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_every_route_for_every_role_is_allowed_or_refused_as_the_matrix_says(
    secured: Secured,
) -> None:
    """No credential: 401 (public routes aside). A role without the permission: 403 with
    the permission named. A role with it: anything but 401 or 403 — for the customer role,
    only on the routes declared to serve customers (confined to their own account)."""
    head = secured.head()
    checked = 0
    wrong: list[str] = []
    for route in routes_of(secured.client.app):  # type: ignore[arg-type]
        permission = declared_permission(route)
        assert permission is not None
        anonymous = _call(secured.client, route, {})
        if route.path.startswith("/console"):
            checked += _check_page(secured, route, permission, anonymous, wrong)
            continue
        if permission == PUBLIC:
            if anonymous.status_code in (401, 403):
                wrong.append(f"{route.path} is public yet refused {anonymous.status_code}")
        elif anonymous.status_code != 401 or anonymous.json()["rule"] != "unauthenticated":
            wrong.append(f"{route.path} without a credential: {anonymous.status_code}")
        elif anonymous.headers.get("WWW-Authenticate") != "Bearer":
            wrong.append(f"{route.path} 401 without WWW-Authenticate")
        for role in ROLES:
            response = _call(secured.client, route, secured.as_role(role))
            checked += 1
            customer_ok = (
                role != "customer" or serves_customers(route) or permission in (PUBLIC, SIGNED_IN)
            )
            if allows(role, permission) and customer_ok:
                if response.status_code in (401, 403):
                    wrong.append(f"{role} refused {route.path}: {response.text[:120]}")
            elif response.status_code != 403 or response.json().get("permission") != permission:
                wrong.append(f"{role} not refused {route.path}: {response.status_code}")
    assert wrong == []
    assert checked == len(ROLES) * len(list(routes_of(secured.client.app)))  # type: ignore[arg-type]
    # Refused requests stored nothing; allowed ones had no body, so stored nothing either.
    assert secured.head() == head


def _check_page(
    secured: Secured, route: APIRoute, permission: str, anonymous: httpx.Response,
    wrong: list[str],
) -> int:  # fmt: skip
    """A console page: no session sends the browser to sign in (303); a role without the
    permission gets an HTML page saying so (403); a role with it is let in."""
    if permission == PUBLIC:
        if anonymous.status_code in (401, 403):
            wrong.append(f"{route.path} is public yet refused {anonymous.status_code}")
    elif anonymous.status_code != 303 or not anonymous.headers["location"].startswith(
        "/console/sign-in?next="
    ):
        wrong.append(f"page {route.path} without a session: {anonymous.status_code}")
    for role in ROLES:
        response = _call(secured.client, route, secured.as_role(role))
        customer_ok = (
            role != "customer" or serves_customers(route) or permission in (PUBLIC, SIGNED_IN)
        )
        if allows(role, permission) and customer_ok:
            if response.status_code in (401, 403) or (
                response.status_code == 303
                and (response.headers["location"].startswith("/console/sign-in"))
            ):
                wrong.append(f"{role} refused page {route.path}: {response.status_code}")
        elif response.status_code != 403 or "text/html" not in response.headers["content-type"]:
            wrong.append(f"{role} not refused page {route.path}: {response.status_code}")
    return len(ROLES)


def test_a_key_is_issued_once_works_and_stops_when_revoked_or_its_user_disabled(
    secured: Secured,
) -> None:
    admin = secured.as_role("admin")
    created = secured.client.post("/users", json={"username": "erp", "role": "integration"},
                                  headers=admin)  # fmt: skip
    assert created.status_code == 201, created.text
    issued = secured.client.post("/users/erp/keys", json={"label": "nightly sync"}, headers=admin)
    assert issued.status_code == 201, issued.text
    assert issued.headers["Cache-Control"] == "no-store"
    key, key_id = issued.json()["key"], issued.json()["key_id"]
    assert key.startswith(f"olk_{key_id}_")
    erp = {"Authorization": f"Bearer {key}"}

    me = secured.client.get("/auth/me", headers=erp).json()
    assert (me["username"], me["role"], me["via"]) == ("erp", "integration", "key")
    assert "orders:write" in me["permissions"]
    assert "fields:cost" not in me["permissions"]
    assert secured.client.get("/products", headers=erp).status_code == 200
    assert_problem(secured.client.get("/audit/trail", headers=erp), 403, "forbidden")

    # Shown once: the user list names the key, never its secret.
    listed = secured.client.get(
        "/users", params={"min_position": issued.json()["position"]}, headers=admin
    ).json()
    erp_row = next(u for u in listed["items"] if u["username"] == "erp")
    assert [(k["key_id"], k["label"], k["revoked_at"]) for k in erp_row["keys"]] == [
        (key_id, "nightly sync", None)
    ]
    assert key.split("_", 2)[2] not in str(listed)

    secret = key.split("_", 2)[2]  # olk_<hex id>_<secret, which may hold "_">
    for tampered in (key[:-1] + ("A" if key[-1] != "A" else "B"), f"olk_{key_id}_", "olk_x",
                     "Bearer", key.replace(key_id, "0" * 12)):  # fmt: skip
        refused = secured.client.get("/auth/me", headers={"Authorization": f"Bearer {tampered}"})
        assert_problem(refused, 401, "unauthenticated")

    disabled = secured.client.post("/users/erp/disable", json={"reason": "left"}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert_problem(secured.client.get("/auth/me", headers=erp), 401, "unauthenticated")
    secured.client.post("/users/erp/enable", json={"reason": "back"}, headers=admin)
    assert secured.client.get("/auth/me", headers=erp).status_code == 200

    revoked = secured.client.post(f"/keys/{key_id}/revoke", json={"reason": "rotated"},
                                  headers=admin)  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    assert_problem(secured.client.get("/auth/me", headers=erp), 401, "unauthenticated")
    again = secured.client.post(f"/keys/{key_id}/revoke", json={"reason": "x"}, headers=admin)
    assert_problem(again, 409, "key-revoked")
    assert secret.encode() not in stored_bytes(secured.runtime.settings)


def test_an_expired_key_is_refused(secured: Secured) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    _, key = secured.runtime.access.issue_key(admin_meta(), name="u.sales", expires_at=soon)
    assert secured.client.get("/auth/me", headers={"Authorization": f"Bearer {key}"}).is_success
    past = datetime.now(UTC) - timedelta(seconds=1)
    _, old = secured.runtime.access.issue_key(admin_meta(), name="u.sales", expires_at=past)
    refused = secured.client.get("/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert_problem(refused, 401, "unauthenticated")


def stored_bytes(settings: Settings) -> bytes:
    """Everything the event store holds, as bytes (states, topics, ids)."""
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo()) as connection:
            rows = connection.execute(
                f'SELECT * FROM "{settings.events_schema}".ledger_events'
            ).fetchall()
    else:
        with sqlite3.connect(settings.sqlite_path()) as connection:
            rows = connection.execute("SELECT * FROM stored_events").fetchall()
    return b"".join(v if isinstance(v, bytes) else str(v).encode() for r in rows for v in r)


def test_a_session_signs_in_works_by_token_or_cookie_and_ends_at_sign_out(
    secured: Secured,
) -> None:
    client = secured.client
    signed = client.post("/auth/sign-in", json={"username": "u.sales", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    session = signed.json()
    assert COOKIE in signed.cookies
    assert "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=strict" in signed.headers["set-cookie"].lower()
    bearer = {"Authorization": f"Bearer {session['token']}"}
    me = client.get("/auth/me", headers=bearer).json()
    assert (me["username"], me["role"], me["via"]) == ("u.sales", "sales", "session")

    # The cookie (kept by the client) reads; a change through it needs the CSRF token.
    assert client.get("/auth/me").json()["via"] == "session"
    body = {"code": "C-9", "name": "Nine", "billing_address": "a", "shipping_address": "b",
            "region": "north"}  # fmt: skip
    assert_problem(client.post("/customers", json=body), 403, "csrf")
    made = client.post("/customers", json=body, headers={CSRF_HEADER: session["csrf_token"]})
    assert made.status_code == 201, made.text

    out = client.post("/auth/sign-out", headers={CSRF_HEADER: session["csrf_token"]})
    assert out.status_code == 200, out.text
    assert_problem(client.get("/auth/me", headers=bearer), 401, "unauthenticated")
    client.cookies.set(COOKIE, session["token"])
    assert_problem(client.get("/auth/me"), 401, "unauthenticated")
    client.cookies.clear()

    # A key is not a session: nothing to sign out of.
    assert_problem(client.post("/auth/sign-out", headers=secured.as_role("sales")), 409,
                   "not-a-session")  # fmt: skip


def test_failed_sign_ins_are_refused_alike_and_lock_the_name_for_a_while(
    secured: Secured,
) -> None:
    client = secured.client
    unknown = client.post("/auth/sign-in", json={"username": "nobody", "password": PASSWORD})
    wrong = client.post("/auth/sign-in", json={"username": "u.finance", "password": "nope"})
    for refused in (unknown, wrong):
        problem = assert_problem(refused, 401, "sign-in-refused")
        assert problem["detail"] == "unknown user name or wrong password"
        assert COOKIE not in refused.cookies
    client.post("/auth/sign-in", json={"username": "u.finance", "password": "nope"})
    locked = client.post("/auth/sign-in", json={"username": "u.finance", "password": "nope"})
    assert_problem(locked, 429, "sign-in-locked")
    assert int(locked.headers["Retry-After"]) > 0
    # Locked: even the right password waits; another user is not affected.
    right = client.post("/auth/sign-in", json={"username": "u.finance", "password": PASSWORD})
    assert_problem(right, 429, "sign-in-locked")
    other = client.post("/auth/sign-in", json={"username": "u.manager", "password": PASSWORD})
    assert other.status_code == 200, other.text


def test_every_event_names_the_authenticated_user_and_role(secured: Secured) -> None:
    made = secured.client.post(
        "/warehouses", json={"code": "WH-9", "name": "Nine"}, headers=secured.as_role("manager")
    )
    assert made.status_code == 201, made.text
    trail = secured.client.get(
        "/audit/trail", params={"actor": "u.manager"}, headers=secured.as_role("auditor")
    )
    assert trail.status_code == 200, trail.text
    rows = trail.json()["entries"]
    assert [(r["event_type"], r["actor"], r["role"]) for r in rows][-1] == (
        "Warehouse.Registered", "u.manager", "manager",
    )  # fmt: skip
    # The users' own making is attributed too: who created whom is part of the trail.
    setup = secured.client.get(
        "/audit/trail", params={"actor": "setup"}, headers=secured.as_role("auditor")
    ).json()["entries"]
    assert {r["event_type"] for r in setup} >= {"User.Created", "ApiKey.Issued", "User.PasswordSet"}


def test_the_documented_matrix_is_the_one_in_force() -> None:
    from domain.permissions import matrix_markdown

    documented = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert matrix_markdown() in documented
    assert set(GRANTS) == set(ROLES)
    assert SIGNED_IN not in GRANTS["customer"]

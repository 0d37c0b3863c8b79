"""The console's front door with real credentials, on SQLite and PostgreSQL: sign-in and
sign-out pages, where a page sends a caller without a session, the page policy, assets."""

from __future__ import annotations

import re

from api.auth import COOKIE
from api.security_headers import PAGE_POLICY
from tests.api.secured import PASSWORD, Secured, secured

__all__ = ["secured"]  # the fixture, used by name


def _sign_in(secured: Secured, name: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return secured.client.post(
        "/console/sign-in", data={"username": name, "password": password, **extra},
        follow_redirects=False,
    )  # fmt: skip


def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(secured: Secured) -> None:
    secured.client.cookies.clear()
    asked = secured.client.get("/console/orders?status=late", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/console/sign-in?next=%2Fconsole%2Forders%3Fstatus%3Dlate"
    form = secured.client.get(asked.headers["location"])
    assert form.status_code == 200
    assert 'name="next" value="/console/orders?status=late"' in form.text

    signed = _sign_in(secured, "u.manager", next="/console/orders?status=late")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/orders?status=late"
    assert COOKIE in signed.cookies
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


def test_sign_in_never_follows_an_address_outside_the_console(secured: Secured) -> None:
    for elsewhere in (
        "https://evil.example/",
        "//evil.example/console/",
        "/orders",
        "javascript:x",
    ):
        signed = _sign_in(secured, "u.sales", next=elsewhere)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console/orders"  # the sales role's first section


def test_a_wrong_password_is_refused_on_the_page_and_the_name_locks_after_repeats(
    secured: Secured,
) -> None:
    head = secured.head()
    refused = _sign_in(secured, "u.finance", "not the password at all")
    assert refused.status_code == 401
    assert "The user name or password is wrong." in refused.text
    assert COOKIE not in refused.cookies
    unknown = _sign_in(secured, "nobody.here", "not the password at all")
    assert (unknown.status_code, "The user name or password is wrong." in unknown.text) == (
        401, True,
    )  # fmt: skip
    for _ in range(3):  # the fixture locks a name after 3 failures in a row
        _sign_in(secured, "u.finance", "not the password at all")
    locked = _sign_in(secured, "u.finance")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert secured.head() == head  # failures are counted in the credential store, not the log


def test_sign_out_needs_the_sessions_csrf_token_and_then_ends_the_session(
    secured: Secured,
) -> None:
    signed = _sign_in(secured, "u.manager")
    cookie = signed.cookies[COOKIE]
    page = secured.client.get("/console", cookies={COOKIE: cookie}, follow_redirects=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None, page.text[:500]
    forged = secured.client.post("/console/sign-out", data={"csrf": "forged"},
                                 cookies={COOKIE: cookie}, follow_redirects=False)  # fmt: skip
    assert forged.status_code == 303
    still = secured.client.get("/console", cookies={COOKIE: cookie}, follow_redirects=False)
    assert not still.headers["location"].startswith("/console/sign-in")  # the session lives on

    out = secured.client.post("/console/sign-out", data={"csrf": csrf.group(1)},
                              cookies={COOKIE: cookie}, follow_redirects=False)  # fmt: skip
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in")
    ended = secured.client.get("/console", cookies={COOKIE: cookie}, follow_redirects=False)
    assert ended.headers["location"].startswith("/console/sign-in")


def test_pages_carry_the_page_policy_and_no_inline_script(secured: Secured) -> None:
    page = secured.client.get("/console/sign-in")
    assert page.headers["content-security-policy"] == PAGE_POLICY
    assert page.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts
    assert all("src=" in attrs or "application/json" in attrs for attrs in scripts)
    assert "style=" not in page.text


def test_the_chart_library_is_served_from_its_package_and_cached_by_etag(secured: Secured) -> None:
    served = secured.client.get("/console/assets/plotly.min.js")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in served.content[:2000]
    assert len(served.content) > 1_000_000
    again = secured.client.get(
        "/console/assets/plotly.min.js", headers={"If-None-Match": served.headers["etag"]}
    )
    assert (again.status_code, again.content) == (304, b"")
    assert secured.client.get("/console/assets/secrets.txt").status_code == 404
    assert secured.client.get("/console/assets/..%2F..%2Fsettings.py").status_code == 404


def test_the_language_follows_the_browser_then_the_choice(secured: Secured) -> None:
    secured.client.cookies.clear()
    chinese = secured.client.get("/console/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text
    assert "登录" in chinese.text
    secured.client.cookies.clear()
    chosen = secured.client.get("/console/sign-in?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in chosen.text
    assert "Sign in to the OrderLedger console" in chosen.text


def test_a_role_without_the_permission_gets_a_page_saying_so(secured: Secured) -> None:
    refused = secured.client.get("/console/finance", headers=secured.as_role("warehouse"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Your role may not see this page." in refused.text


def test_an_unknown_console_address_is_a_page_and_an_unknown_api_address_a_problem(
    secured: Secured,
) -> None:
    page = secured.client.get("/console/no-such-page", headers=secured.as_role("manager"))
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no such page." in page.text
    api = secured.client.get("/no-such-route", headers=secured.as_role("manager"))
    assert (api.status_code, api.headers["content-type"]) == (404, "application/problem+json")

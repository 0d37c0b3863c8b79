"""Order tracking pages through the app with real credentials, on SQLite and PostgreSQL:
a customer's own orders and nobody else's, staff look-ups, shared links (their order
only, refused when tampered with or expired), no costs or notes, and Chinese labels."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from api.console.order_tracking import punctuality, stage_bar
from api.tracking_links import issue
from domain.workflows import DEFAULT_DEFINITION, Workflow
from tests.api.conftest import Api, TestClient, assert_problem
from tests.api.secured import Secured, secured

__all__ = ["secured"]

COST = "6.37"  # SKU-1's standard cost: a figure no tracking page may show
NOTE = "customer is a slow payer, keep an eye on it"
PROMISED = date.today() + timedelta(days=7)


def _order(api: Api, number: str, customer: str, *, ship: bool) -> None:
    api.ok("/sales-orders", {
        "number": number, "customer": customer, "warehouse": "WH-1", "salesperson": "maria",
        "promised_date": PROMISED.isoformat(),
        "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "10.00"}],
    }, 201)  # fmt: skip
    api.ok(f"/sales-orders/{number}/submit")
    if ship:
        api.ok(f"/sales-orders/{number}/shipments", {
            "shipment_ref": f"SH-{number}", "lines": [{"line_no": 1, "quantity": "2"}],
            "carrier": "DHL", "tracking_number": f"JD-{number}",
        }, 201)  # fmt: skip


@pytest.fixture
def shop(secured: Secured) -> dict[str, Any]:
    """SO-1 (C-1, shipped, with an internal note), SO-2 (C-2) and SO-3 (C-1, newer), made
    by the manager; every page read waits for the read models to have them."""
    manager = TestClient(secured.client.app)
    manager.headers["Authorization"] = f"Bearer {secured.keys['manager']}"
    api = Api(manager)
    api.warehouse("WH-1")
    api.product("SKU-1", standard_cost=COST)
    api.produce("SKU-1", "WH-1", "10")
    _order(api, "SO-1", "C-1", ship=True)
    api.ok("/sales-orders/SO-1/internal-notes", {"note": NOTE}, 201)
    _order(api, "SO-2", "C-2", ship=False)
    _order(api, "SO-3", "C-1", ship=False)
    assert secured.runtime.runner.wait_for(secured.head(), ["orders"], timeout=10)
    return {"secured": secured, "api": api}


def page(secured: Secured, role: str, path: str, **params: Any) -> httpx.Response:
    return secured.client.get(path, params=params, headers=secured.as_role(role),
                              follow_redirects=False)  # fmt: skip


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags and runs of space removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_customer_sees_their_own_orders_newest_first_each_linking_to_its_page(
    shop: dict[str, Any],
) -> None:
    listed = page(shop["secured"], "customer", "/console/track")
    assert listed.status_code == 200, listed.text
    numbers = re.findall(r'href="/console/track/(SO-\d+)"', listed.text)
    assert numbers == ["SO-3", "SO-1"]  # C-1's only; SO-2 is C-2's
    assert "SO-2" not in listed.text
    assert 'href="/console/track"' in listed.text  # "My orders" in the navigation


def test_a_customer_sees_stage_promised_date_shipments_and_history_as_the_api_says(
    shop: dict[str, Any],
) -> None:
    secured: Secured = shop["secured"]
    status = secured.client.get("/sales-orders/SO-1/status",
                                headers=secured.as_role("customer")).json()  # fmt: skip
    shown = page(secured, "customer", "/console/track/SO-1")
    assert shown.status_code == 200, shown.text
    html = shown.text
    (shipment,) = status["shipments"]
    row = re.search(r'<tr data-shipment="SH-SO-1">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert [text_of(c).strip() for c in cells[:3]] == [
        "SH-SO-1",
        "DHL",
        shipment["tracking_number"],
    ]
    label = status["stage_label"]
    assert f'data-field="stage">{label[:1].upper()}{label[1:]}</div>' in html
    assert status["promised_date"] == PROMISED.isoformat()
    assert f'data-field="promised">{PROMISED.isoformat()}' in html
    assert "Shipped on time" in html
    current = re.findall(r'<li class="step (\w+)"[^>]*data-stage="(\w+)"', html)
    assert ("current", status["stage"]) in current
    assert [key for state, key in current if state == "done"] == ["created", "approved",
                                                                    "stock_confirmed"]  # fmt: skip
    history = re.findall(r'<li data-kind="(\w+)">', html)
    assert history[0] == "StageChanged"
    assert history[-1] == "Created"  # newest first
    assert "Shipped" in history
    assert "Submitted" not in history
    assert "StockAllocated" not in history  # the business's own
    assert 'data-live-source="/sales-orders/SO-1/stream?after=' in html
    assert "Share this tracking page" not in html  # a customer is not offered links


def test_another_customers_order_is_not_found_exactly_like_an_unknown_one(
    shop: dict[str, Any],
) -> None:
    secured: Secured = shop["secured"]
    others = page(secured, "customer", "/console/track/SO-2")
    unknown = page(secured, "customer", "/console/track/SO-99")
    assert others.status_code == unknown.status_code == 404
    assert others.text.replace("SO-2", "N") == unknown.text.replace("SO-99", "N")
    for path in ("/console/track/SO-2/live", "/console/track/SO-2/stream"):
        assert page(secured, "customer", path).status_code == 404, path
    looked_up = page(secured, "customer", "/console/track", number="SO-2")
    assert looked_up.status_code == 404
    assert "There is no order SO-2." in looked_up.text
    staff = page(secured, "sales", "/console/track/SO-2")
    assert staff.status_code == 200


def test_staff_look_an_order_up_by_number(shop: dict[str, Any]) -> None:
    secured: Secured = shop["secured"]
    form = page(secured, "warehouse", "/console/track")
    assert form.status_code == 200
    assert 'name="number"' in form.text
    found = page(secured, "warehouse", "/console/track", number="SO-2")
    assert (found.status_code, found.headers["location"]) == (303, "/console/track/SO-2")
    missing = page(secured, "warehouse", "/console/track", number="SO-404")
    assert missing.status_code == 404
    assert "There is no order SO-404." in missing.text
    shown = page(secured, "warehouse", "/console/track/SO-2")
    assert "Nothing has shipped yet." in shown.text
    assert 'data-api="/sales-orders/SO-2/tracking-link"' in shown.text


def test_no_cost_margin_or_internal_note_is_shown_even_to_roles_that_may_see_them(
    shop: dict[str, Any],
) -> None:
    secured: Secured = shop["secured"]
    full = secured.client.get("/sales-orders/SO-1", headers=secured.as_role("manager")).json()
    assert full["internal_notes"]
    assert full["lines"][0]["standard_cost"] == COST
    for role in ("manager", "finance", "customer"):
        for path in ("/console/track/SO-1", "/console/track/SO-1/live"):
            html = page(secured, role, path).text
            assert NOTE not in html, (role, path)
            assert COST not in html, (role, path)
            assert "margin" not in html.lower(), (role, path)
            assert "maria" not in html, (role, path)  # nor who inside took it


def _link(secured: Secured, number: str, role: str = "sales") -> dict[str, Any]:
    made = secured.client.post(f"/sales-orders/{number}/tracking-link",
                               headers=secured.as_role(role))  # fmt: skip
    assert made.status_code == 200, made.text
    body: dict[str, Any] = made.json()
    return body


def anonymous(secured: Secured, path: str) -> httpx.Response:
    secured.client.cookies.clear()
    return secured.client.get(path, follow_redirects=False)


def test_a_signed_link_opens_its_order_without_a_sign_in_and_no_other(
    shop: dict[str, Any],
) -> None:
    secured: Secured = shop["secured"]
    head = secured.head()
    link = _link(secured, "SO-1")
    assert secured.head() == head  # nothing recorded
    expires = datetime.fromisoformat(link["expires_at"])
    days = secured.runtime.settings.tracking_link_days
    assert abs(expires - (datetime.now(UTC) + timedelta(days=days))) < timedelta(minutes=1)
    assert link["path"].startswith("/console/track/SO-1?link=")
    assert link["url"].endswith(link["path"])
    token = link["path"].split("link=", 1)[1]

    opened = anonymous(secured, link["path"])
    assert opened.status_code == 200, opened.text
    assert "JD-SO-1" in opened.text
    assert "DHL" in opened.text
    assert "Signed in as" not in opened.text
    assert 'class="sections"' not in opened.text
    assert NOTE not in opened.text
    assert COST not in opened.text
    assert f'data-live-source="/console/track/SO-1/stream?link={token}&amp;after=' in opened.text
    assert f'href="?link={token}&amp;lang=zh-CN"' in opened.text  # the language keeps the link
    live = anonymous(secured, f"/console/track/SO-1/live?link={token}")
    assert live.status_code == 200
    assert "JD-SO-1" in live.text
    assert "<html" not in live.text

    other = anonymous(secured, f"/console/track/SO-2?link={token}")
    assert other.status_code == 403
    assert "This tracking link is for another order" in other.text
    assert "JD-SO-1" not in other.text
    assert anonymous(secured, f"/console/track/SO-2/live?link={token}").status_code == 403
    bare = anonymous(secured, "/console/track/SO-1")
    assert bare.status_code == 303
    assert bare.headers["location"].startswith("/console/sign-in")
    assert anonymous(secured, f"/console/track?link={token}").status_code == 303


def test_a_tampered_expired_or_borrowed_token_is_refused(shop: dict[str, Any]) -> None:
    secured: Secured = shop["secured"]
    token = _link(secured, "SO-1")["path"].split("link=", 1)[1]
    header, claims, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    forged_claims = claims[:-1] + ("A" if claims[-1] != "A" else "B")
    access = secured.runtime.access
    long_ago = datetime.now(UTC) - timedelta(days=40)
    expired = issue(access, "SO-1", long_ago, 30).token
    session = secured.client.post(
        "/auth/sign-in", json={"username": "u.customer", "password": "a long enough password"}
    )
    for bad, status, says in (
        (f"{header}.{claims}.{flipped}", 403, "This tracking link is not valid"),
        (f"{header}.{forged_claims}.{signature}", 403, "This tracking link is not valid"),
        ("not-a-token", 403, "This tracking link is not valid"),
        (session.json()["token"], 403, "This tracking link is not valid"),  # a session is no link
        (expired, 410, "This tracking link has expired"),
    ):
        for path in ("/console/track/SO-1", "/console/track/SO-1/live",
                     "/console/track/SO-1/stream"):  # fmt: skip
            refused = anonymous(secured, f"{path}?link={bad}")
            assert refused.status_code == status, (bad, path)
            assert "text/html" in refused.headers["content-type"]
            assert says in refused.text
            assert "JD-SO-1" not in refused.text


def test_only_staff_make_links_and_an_unknown_order_has_none(shop: dict[str, Any]) -> None:
    secured: Secured = shop["secured"]
    made = secured.client.post("/sales-orders/SO-1/tracking-link",
                               headers=secured.as_role("customer"))  # fmt: skip
    assert_problem(made, 403, "forbidden")
    unknown = secured.client.post("/sales-orders/SO-404/tracking-link",
                                  headers=secured.as_role("warehouse"))  # fmt: skip
    assert_problem(unknown, 404, "not-found")


def test_the_links_stream_names_each_event_and_tells_nothing_else(shop: dict[str, Any]) -> None:
    secured: Secured = shop["secured"]
    shop["api"].ok("/sales-orders/SO-1/shipments/SH-SO-1/delivery", {"signed_by": "Goods in"})
    assert secured.runtime.runner.wait_for(secured.head(), ["orders"], timeout=10)
    token = _link(secured, "SO-1")["path"].split("link=", 1)[1]
    streamed = anonymous(secured, f"/console/track/SO-1/stream?link={token}&until_terminal=true")
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = re.findall(r"id: (\d+)\nevent: (\w+)\ndata: (.*)\n", streamed.text)
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "Created"
    assert "Shipped" in kinds
    assert kinds[-1] == "StageChanged"
    assert all(set(re.findall(r'"(\w+)":', data)) == {"position", "kind"} for _, _, data in events)
    assert "maria" not in streamed.text
    assert "u.manager" not in streamed.text
    last = int(events[-2][0])
    resumed = anonymous(secured, f"/console/track/SO-1/stream?link={token}&after={last}"
                                 "&until_terminal=true")  # fmt: skip
    assert re.findall(r"event: (\w+)", resumed.text) == ["StageChanged"]
    delivered = anonymous(secured, f"/console/track/SO-1?link={token}")
    assert "Goods in" in delivered.text  # signed for: who signed, when


def test_the_pages_speak_chinese(shop: dict[str, Any]) -> None:
    secured: Secured = shop["secured"]
    shown = page(secured, "customer", "/console/track/SO-1", lang="zh-CN")
    assert '<html lang="zh-CN">' in shown.text
    for label in ("承运商", "运单号", "历史记录", "承诺日期", "按时发货", "已收到订单", "已发货"):
        assert label in shown.text, label
    listed = page(secured, "customer", "/console/track", lang="zh-CN")
    assert "我的订单" in listed.text
    assert "下单日期" in listed.text
    token = _link(secured, "SO-1")["path"].split("link=", 1)[1]
    refused = anonymous(secured, f"/console/track/SO-2?link={token}&lang=zh-CN")
    assert "此跟踪链接属于另一个订单" in refused.text


FLOW = Workflow("standard", 1, DEFAULT_DEFINITION)


def _bar(stage: str, visited: list[str], cancelled: bool = False) -> list[tuple[str, str]]:
    steps = stage_bar(FLOW, stage, visited, lambda text, **_: text, cancelled)
    return [(step["key"], step["state"]) for step in steps]


def test_the_stage_bar_shows_the_way_taken_and_the_shortest_way_ahead() -> None:
    assert _bar("created", ["created"]) == [
        ("created", "current"), ("approved", "ahead"), ("stock_confirmed", "ahead"),
        ("shipped", "ahead"), ("delivered", "ahead"), ("completed", "ahead"),
    ]  # fmt: skip
    # Sent back by an approver and approved the second time: the first visit is gone.
    taken = ["created", "awaiting_approval", "created", "awaiting_approval", "approved",
             "production_scheduled"]  # fmt: skip
    assert _bar("production_scheduled", taken)[:4] == [
        ("created", "done"), ("awaiting_approval", "done"), ("approved", "done"),
        ("production_scheduled", "current"),
    ]  # fmt: skip
    assert _bar("cancelled", ["created", "awaiting_approval", "cancelled"], True) == [
        ("created", "done"), ("awaiting_approval", "done"), ("cancelled", "cancelled"),
    ]  # fmt: skip
    assert _bar("completed", ["created", "approved", "stock_confirmed", "shipped", "delivered",
                              "completed"])[-1] == ("completed", "current")  # fmt: skip


def test_an_order_is_late_past_its_promised_date_or_when_it_shipped_after_it() -> None:
    def judged(status: str, promised: date | None, *shipped: str) -> tuple[str, str]:
        sent = {f"SH-{n}": {"shipped_at": f"{day}T10:00:00+00:00"} for n, day in enumerate(shipped)}
        order: Any = SimpleNamespace(status=status, promised_date=promised, shipments=sent)
        found = punctuality(order, date(2026, 3, 10), lambda text, **v: text.format(**v))
        return found.state, found.text

    promised = date(2026, 3, 8)
    assert judged("approved", promised) == ("late", "Late: 2 day(s) past the promised date")
    assert judged("approved", date(2026, 3, 12)) == (
        "on-time", "On time: 2 day(s) to the promised date")  # fmt: skip
    assert judged("partially_shipped", promised, "2026-03-01") == (
        "late", "Late: 2 day(s) past the promised date")  # fmt: skip
    assert judged("shipped", promised, "2026-03-01", "2026-03-08") == ("on-time", "Shipped on time")
    assert judged("delivered", promised, "2026-03-09") == (
        "late", "Shipped 1 day(s) after the promised date")  # fmt: skip
    assert judged("approved", None) == ("none", "No promised date")
    assert judged("cancelled", promised) == ("none", "")

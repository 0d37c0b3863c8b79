"""The dashboard page through the app with real credentials, on SQLite and PostgreSQL: it
shows the KPI API's figures for the same periods (and the hand-computed ones of the small
history in tests/integration/test_kpis.py), each drill-down lists exactly the orders the
API names for that figure, the late-orders pivot counts what `GET /kpis/late` counts, the
labels come in Chinese, and a role without `kpis:read` is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from api.app import create_app
from api.runtime import Runtime
from domain.values import Meta
from tests.api.conftest import TestClient
from tests.conftest import command_meta, drop_schemas, make_settings
from tests.integration.helpers import catch_up_all
from tests.integration.test_kpis import history

PAGE = "/console/dashboard"
WINDOW = {"period": "month", "from": "2026-03-01", "to": "2026-04-30", "focus": "2026-03-01"}
ROLES = ("manager", "sales_director", "warehouse", "customer")


class Console:
    """The app with the KPI history, late orders and one user (with a key) per role."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def get(self, path: str, role: str = "manager", **params: str) -> Any:
        return self.client.get(path, params=params, follow_redirects=False,
                               headers={"Authorization": f"Bearer {self.keys[role]}"})  # fmt: skip

    def page(self, path: str = PAGE, **params: str) -> Page:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text[:500]
        return Page(answer.text)

    def api(self, path: str, **params: str) -> Any:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def late_orders(runtime: Runtime) -> None:
    """Three orders late in their stage now: one never submitted (nothing recorded holds
    it), one on credit hold in stock_confirmed, one shipped eleven days ago and not yet
    signed for (the shipped stage's SLA is ten days)."""
    ledger, now = runtime.ledger, datetime.now(UTC)
    lines = [{"sku": "SKU-1", "quantity": "1", "unit_price": "10"}]
    for number, days in (("SO-L1", 5), ("SO-L2", 3), ("SO-L3", 12)):
        then = now - timedelta(days=days)
        ledger.create_sales_order(
            command_meta("create_sales_order", at=then), number=number, customer="C-1",
            warehouse="WH1", currency_code="EUR", salesperson="cy", region="west", lines=lines,
            effective_at=then,
        )  # fmt: skip
        if number != "SO-L1":
            ledger.submit_sales_order(command_meta(), number=number, effective_at=then)
    finance = Meta(actor="fin", correlation_id="c-hold", command="hold", at=now, role="finance")
    ledger.hold_order_credit(finance, number="SO-L2", reason="overdue invoices")
    ledger.ship_sales_order(
        command_meta(), number="SO-L3", lines={1: "1"}, carrier="DHL", tracking_number="T-L3",
        shipment_ref="SH-L3", effective_at=now - timedelta(days=11),
    )  # fmt: skip
    catch_up_all(runtime)


@pytest.fixture
def console(store_kind: str, tmp_path: Path) -> Iterator[Console]:
    settings = make_settings(store_kind, tmp_path)
    try:
        with TestClient(create_app(settings)) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            history(runtime)
            late_orders(runtime)
            keys = {}
            for role in ROLES:
                runtime.access.create_user(
                    command_meta("setup", actor="setup"), name=f"u.{role}", role=role,
                    customer="C-1" if role == "customer" else None,
                )  # fmt: skip
                _, keys[role] = runtime.access.issue_key(command_meta("setup"), name=f"u.{role}")
            yield Console(client, keys)
    finally:
        if settings.is_postgres:
            drop_schemas(settings)


class Page(HTMLParser):
    """A page's elements with their attributes, and its JSON scripts by id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.elements: list[dict[str, str]] = []
        self.scripts: dict[str, Any] = {}
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.elements.append({"tag": tag, **found})
        if tag == "script" and found.get("type") == "application/json":
            self._script = found["id"]

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[self._script] = json.loads(data)
            self._script = None

    def having(self, attribute: str) -> list[dict[str, str]]:
        return [e for e in self.elements if attribute in e]

    def links(self) -> list[str]:
        return [e["href"] for e in self.elements if e["tag"] == "a" and "href" in e]


def figures(console: Console, kpi: str, by: str = "all", **window: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = console.api("/kpis", kpi=kpi, by=by, period="month",
                                              **window)["items"]  # fmt: skip
    return items


def test_the_dashboard_shows_the_apis_figures(console: Console) -> None:
    shown = console.page(**WINDOW, by="region")

    # Headline cards: March, by all, with February before it (as the API answers).
    cards = {(e["data-kpi"], Decimal(e["data-figure"])) for e in shown.having("data-kpi")
             if e["tag"] == "a"}  # fmt: skip
    march = {}
    for kpi in ("order_value", "on_time_rate", "cycle_time", "complaint_rate",
                "collection_rate", "dso"):  # fmt: skip
        rows = figures(console, kpi, **{"from": "2026-02-01", "to": "2026-03-31"})
        march[kpi] = [Decimal(r["figure"]) for r in rows if r["period_start"] == "2026-03-01"]
    assert march == {
        "order_value": [90], "on_time_rate": [Decimal("0.5")], "cycle_time": [Decimal("5.5")],
        "complaint_rate": [Decimal("0.5")], "collection_rate": [Decimal("0.4444")],
        "dso": march["dso"],
    }  # fmt: skip
    assert cards == {(kpi, figure) for kpi, found in march.items() for figure in found}

    # The order-value trend by region: one line per region, a point per month.
    window = {"from": "2026-03-01", "to": "2026-04-30"}
    lines = {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True))
        for trace in shown.scripts["chart-order-value"]["data"]
    }
    expected: dict[str, dict[str, float]] = {}
    for row in figures(console, "order_value", "region", **window):
        expected.setdefault(row["value"], {})[row["period_start"]] = float(row["figure"])
    assert lines == expected == {"north": {"2026-03-01": 40.0, "2026-04-01": 20.0},
                                 "south": {"2026-03-01": 50.0}}  # fmt: skip
    on_time = {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True))
        for trace in shown.scripts["chart-on-time"]["data"]
    }
    assert on_time == {"north": {"2026-03-01": 100.0}, "south": {"2026-03-01": 0.0}}

    # March's shares by product line, salespeople and stages.
    (pie,) = shown.scripts["chart-share-1"]["data"]
    assert dict(zip(pie["labels"], pie["values"], strict=True)) == {"SKU": 60.0, "BRK": 30.0}
    board = [Decimal(e["data-figure"]) for e in shown.elements if e["tag"] == "a"
             and "data-figure" in e and "salesperson" in e["href"]]  # fmt: skip
    assert board == [50, 40]  # bob, then ann

    # Late now: stage × reason, as the API counts them.
    cells = {(e["data-stage"], e["data-reason"]): int(e["text"]) for e in _cells(shown)}
    api = {(r["stage"], r["reason"]): r["orders"] for r in console.api("/kpis/late")["items"]}
    # SO-A, SO-B and SO-C were delivered weeks ago and nobody has closed them: the delivered
    # stage's SLA (72 h) has passed with nothing recorded holding them.
    assert cells == api == {("created", "none"): 1, ("stock_confirmed", "credit_hold"): 1,
                            ("shipped", "in_transit"): 1, ("delivered", "none"): 3}  # fmt: skip


def _cells(page: Page) -> list[dict[str, str]]:
    found = re.findall(
        r'<a href="[^"]*" data-stage="([^"]+)" data-reason="([^"]+)">(\d+)</a>', page.text
    )
    return [{"data-stage": s, "data-reason": r, "text": n} for s, r, n in found]


def drilled(console: Console, href: str) -> list[str]:
    """The order numbers a drill-down page lists (every page of it)."""
    numbers: list[str] = []
    while href:
        shown = console.page(href.split("?")[0], **dict(parse_qsl(urlsplit(href).query)))
        numbers += [e["data-number"] for e in shown.having("data-number")]
        following = [e["href"] for e in shown.elements if e["tag"] == "a"
                     and e.get("href", "").endswith(f"page={_page(href) + 1}")]  # fmt: skip
        href = following[0].replace("&amp;", "&") if following else ""
    return numbers


def _page(href: str) -> int:
    return int(dict(parse_qsl(urlsplit(href).query)).get("page", "1"))


def test_every_drill_down_lists_the_orders_the_api_names(console: Console) -> None:
    shown = console.page(**WINDOW, by="region")
    addresses = [href.replace("&amp;", "&") for href in shown.links()
                 if href.startswith("/console/dashboard/orders")]  # fmt: skip
    for chart in shown.scripts.values():
        for trace in chart["data"]:
            addresses += trace["customdata"]
    checked = 0
    for href in sorted(set(addresses)):
        asked = dict(parse_qsl(urlsplit(href).query))
        assert dict(parse_qsl(asked.pop("back"))) == {**WINDOW, "by": "region"}
        if asked.pop("late", None):
            expected = console.api("/kpis/late/orders", **asked)["orders"]
        else:
            kpi = asked.pop("kpi")
            expected = console.api(f"/kpis/{kpi}/orders", **asked)["orders"]
        assert drilled(console, href) == expected, href
        assert expected, f"{href} names no order"
        checked += 1
    assert checked >= 20
    # The March on-time point for the south is SO-B's, delivered after its promised date.
    assert drilled(console, "/console/dashboard/orders?kpi=on_time_rate&period=month"
                   "&period_start=2026-03-01&by=region&value=south") == ["SO-B"]  # fmt: skip
    # Its page leads back to the dashboard as it was, and only to the dashboard.
    back = "period=month&from=2026-03-01&to=2026-04-30&by=region&focus=2026-03-01&x=1"
    page = console.page("/console/dashboard/orders", late="1", back=back)
    assert 'href="/console/dashboard?period=month&amp;from=2026-03-01&amp;to=2026-04-30' \
           '&amp;by=region&amp;focus=2026-03-01"' in page.text  # fmt: skip


def test_labels_are_in_chinese_when_asked(console: Console) -> None:
    shown = console.page(**WINDOW, lang="zh-CN")
    assert '<html lang="zh-CN">' in shown.text
    for label in ("仪表盘", "准时交付率", "订单金额", "按产品线的销售", "当前延误：按阶段和原因"):
        assert label in shown.text, label
    drill = console.page("/console/dashboard/orders", kpi="cycle_time", period="month",
                         period_start="2026-03-01", lang="zh-CN")  # fmt: skip
    assert "订单周期" in drill.text
    assert "返回仪表盘" in drill.text


def test_a_role_without_kpis_read_is_refused_the_dashboard(console: Console) -> None:
    for role in ("warehouse", "customer"):
        for path in (PAGE, "/console/dashboard/orders?late=1"):
            refused = console.get(path, role)
            assert refused.status_code == 403, (role, path)
            assert "text/html" in refused.headers["content-type"]
    assert console.get(PAGE, "sales_director").status_code == 200
    anonymous = console.client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/sign-in?next=")


def test_a_figure_that_does_not_exist_is_not_found(console: Console) -> None:
    for asked in ({"kpi": "nonsense", "period_start": "2026-03-01"},
                  {"kpi": "cycle_time", "period_start": "2026-03-02"},
                  {"late": "1", "reason": "weather"}):  # fmt: skip
        assert console.get("/console/dashboard/orders", **asked).status_code == 404


def test_the_window_is_made_of_whole_periods(console: Console) -> None:
    shown = console.page(period="week", **{"from": "2026-03-04", "to": "2026-03-11"})
    assert 'name="from" value="2026-03-02"' in shown.text  # a Monday
    assert 'name="to" value="2026-03-15"' in shown.text  # a Sunday
    months = console.page(**{"from": "2026-04-30", "to": "2026-03-02"})  # swapped
    assert 'name="from" value="2026-03-01"' in months.text
    assert 'name="to" value="2026-04-30"' in months.text

"""The dashboard in a real browser on the demo data: the charts draw with data, a click on
a chart's point or slice and on a cell of the late-orders pivot opens the orders the API
names for that figure, and the page fits a phone."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.browser.conftest import Console

PAGE = "/console/dashboard"


def listed(page: Any) -> list[str]:
    numbers: list[str] = page.eval_on_selector_all(
        "tr[data-number]", "rows => rows.map(r => r.getAttribute('data-number'))"
    )
    return numbers


def expected(console: Console, address: str) -> list[str]:
    """What the API names for the figure a drill-down address is about."""
    asked = dict(parse_qsl(urlsplit(address).query))
    asked.pop("page", None)
    asked.pop("back", None)
    api = console.served.api("admin")
    if asked.pop("late", None):
        answer = api.get("/kpis/late/orders", params=asked)
    else:
        answer = api.get(f"/kpis/{asked.pop('kpi')}/orders", params=asked)
    assert answer.status_code == 200, answer.text
    orders: list[str] = answer.json()["orders"]
    return orders


def drawn(page: Any) -> list[dict[str, Any]]:
    """Every chart once drawn: its element id and how many points each trace has."""
    page.wait_for_selector("[data-chart][data-rendered='true']")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-chart]')]"
        ".every(el => el.getAttribute('data-rendered') === 'true')"
    )
    charts: list[dict[str, Any]] = page.evaluate(
        """[...document.querySelectorAll('[data-chart]')].map(el => ({
             id: el.getAttribute('data-chart'),
             points: el.data.map(trace => (trace.y || trace.values || []).length),
             svg: el.querySelectorAll('svg.main-svg').length,
           }))"""
    )
    return charts


def test_the_charts_draw_the_demo_data_and_a_clicked_point_opens_its_orders(
    console: Console,
) -> None:
    page = console.sign_in("manager", then=PAGE)
    assert page.url.endswith(PAGE)
    charts = drawn(page)
    assert [c["id"] for c in charts] == ["chart-order-value", "chart-on-time", "chart-share-1"]
    for chart in charts:
        assert chart["points"], chart
        assert all(points > 0 for points in chart["points"]), chart
        assert chart["svg"] > 0
    history = charts[0]["points"][0]
    assert history >= 6  # six months of orders before this one
    console.shot("dashboard-1280")

    # A click on the on-time line's first point: Plotly's click event, as the mouse sends it.
    address = page.evaluate(
        """() => {
             const el = document.querySelector('[data-chart="chart-on-time"]');
             const trace = el.data[0];
             const point = {curveNumber: 0, pointNumber: 0, customdata: trace.customdata[0],
                            x: trace.x[0], y: trace.y[0], data: trace};
             el.emit('plotly_click', {points: [point], event: {}});
             return trace.customdata[0];
           }"""
    )
    page.wait_for_url("**/console/dashboard/orders?**")
    assert listed(page) == expected(console, address)
    assert listed(page)
    console.shot("dashboard-drill-on-time")

    # A click on the largest product line's slice, through the drawn SVG.
    page.go_back()
    drawn(page)
    with page.expect_navigation():
        page.click("[data-chart='chart-share-1'] g.slice path.surface >> nth=0")
    assert "kpi=order_value" in page.url
    assert "by=product_line" in page.url
    assert listed(page) == expected(console, page.url)
    assert listed(page)


def test_a_cell_of_the_late_pivot_opens_the_orders_late_there(console: Console) -> None:
    page = console.sign_in("manager", then=PAGE)
    cell = page.locator("table.pivot a[data-reason]").first
    stage, reason = cell.get_attribute("data-stage"), cell.get_attribute("data-reason")
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_url("**/console/dashboard/orders?**")
    numbers = listed(page)
    assert len(numbers) == count
    assert numbers == expected(console, page.url)
    assert f"stage={stage}" in page.url
    assert f"reason={reason}" in page.url
    assert page.locator("tr[data-number] a").first.get_attribute("href") == (
        f"/console/orders/{numbers[0]}"
    )
    console.shot("dashboard-drill-late")


def test_the_dashboard_fits_a_phone_and_reads_in_chinese(phone: Console) -> None:
    page = phone.sign_in("manager", then=PAGE)
    drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("dashboard-phone")
    page.click('a[data-lang="zh-CN"]')
    drawn(page)
    assert page.locator("h1").inner_text() == "仪表盘"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("dashboard-phone-zh-CN")

"""The inventory and finance pages in a real browser on the demo data: the figures a manager
sees are the API's, also after filtering and after picking another day for the ageing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.browser.conftest import Console

DIMENSIONS = ("physical", "in_transit", "locked", "available", "projected", "safety_stock")


def shown_rows(page: Any, selector: str) -> list[dict[str, Any]]:
    """Each row's attributes and the API text (`data-value`) of each figure."""
    script = """rows => rows.map(row => {
        const found = {below: row.classList.contains('below-safety')};
        for (const [name, value] of Object.entries(row.dataset)) found[name] = value;
        for (const cell of row.querySelectorAll('[data-field]'))
            found[cell.dataset.field] = cell.dataset.value ?? cell.textContent.trim();
        return found;
    })"""
    rows: list[dict[str, Any]] = page.locator(selector).evaluate_all(script)
    return rows


def test_the_inventory_page_shows_what_the_api_answers(console: Console) -> None:
    page = console.sign_in("manager", then="/console/inventory")
    assert page.url.endswith("/console/inventory")

    items = console.served.api("admin").get("/inventory").json()["items"]
    rows = shown_rows(page, "#inventory tbody tr[data-sku]")

    assert len(rows) == len(items) == 100
    for row, item in zip(rows, items, strict=True):
        assert (row["sku"], row["warehouse"]) == (item["sku"], item["warehouse"])
        assert {name: row[name] for name in DIMENSIONS} == {name: item[name] for name in DIMENSIONS}
        assert row["below"] is item["below_safety"]
    console.shot("inventory-desktop")

    page.check('input[name="below"]')
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/console/inventory?*below=1*")
    below = console.served.api("admin").get("/inventory", params={"below_safety": "true"})
    expected = [(i["sku"], i["warehouse"]) for i in below.json()["items"]]
    rows = shown_rows(page, "#inventory tbody tr[data-sku]")
    assert [(r["sku"], r["warehouse"]) for r in rows] == expected
    assert expected, "the demo leaves some items below safety stock"
    assert all(r["below"] for r in rows)
    assert page.locator("#inventory tbody tr.below-safety .badge").count() == len(expected)
    console.shot("inventory-below-safety")


def test_a_skus_page_shows_its_warehouses_and_movements(console: Console) -> None:
    api = console.served.api("admin")
    below = api.get("/inventory", params={"below_safety": "true"}).json()["items"]
    sku = below[0]["sku"]
    page = console.sign_in("manager", then="/console/inventory?below=1")

    page.click(f'#inventory a[href="/console/inventory/{sku}"]')
    page.wait_for_url(f"**/console/inventory/{sku}")

    found = api.get(f"/inventory/{sku}").json()
    rows = shown_rows(page, "#warehouses tbody tr")
    assert [r["warehouse"] for r in rows] == [w["warehouse"] for w in found["warehouses"]]
    for row, item in zip(rows, found["warehouses"], strict=True):
        assert {n: row[n] for n in DIMENSIONS} == {n: item[n] for n in DIMENSIONS}
        assert row["below"] is item["below_safety"]
    moves = [
        move
        for item in found["warehouses"]
        for move in api.get(f"/inventory/{sku}/{item['warehouse']}/movements").json()["items"]
    ]
    newest = sorted((m["position"] for m in moves), reverse=True)[:50]
    shown = shown_rows(page, "#movement-list tbody tr[data-position]")
    assert [int(r["position"]) for r in shown] == newest
    console.shot("sku-desktop")

    warehouse = found["warehouses"][0]["warehouse"]
    page.select_option("#movements select[name=warehouse]", warehouse)
    page.click("#movements button[type=submit]")
    page.wait_for_url(f"**warehouse={warehouse}*")
    mine = api.get(f"/inventory/{sku}/{warehouse}/movements").json()["items"]
    shown = shown_rows(page, "#movement-list tbody tr[data-position]")
    assert [int(r["position"]) for r in shown] == sorted(
        (m["position"] for m in mine), reverse=True
    )[:50]


def ageing_totals(page: Any) -> dict[str, dict[str, str]]:
    rows = shown_rows(page, "#ageing tfoot tr.totals")
    return {r["currency"]: {k: v for k, v in r.items() if k not in ("currency", "below")}
            for r in rows}  # fmt: skip


def api_totals(console: Console, day: str | None = None) -> dict[str, dict[str, str]]:
    params = {"as_of": day} if day else {}
    answer = console.served.api("admin").get("/ar/ageing", params=params).json()
    return {code: {k: str(v) for k, v in t.items()} for code, t in answer["totals"].items()}


def test_the_ageing_page_equals_the_apis_ageing_also_on_a_day_picked(console: Console) -> None:
    page = console.sign_in("manager", then="/console/finance")

    today = api_totals(console)
    assert ageing_totals(page) == today
    assert today, "the demo has receivables"
    headline = page.locator('#headline [data-figure="total"][data-currency="EUR"]')
    assert headline.get_attribute("data-value") == today["EUR"]["total"]
    console.shot("finance-desktop")

    day = (datetime.now(UTC).date() - timedelta(days=45)).isoformat()
    page.fill('form.as-of input[name="as_of"]', day)
    page.click("form.as-of button[type=submit]")
    page.wait_for_url(f"**as_of={day}*")

    earlier = api_totals(console, day)
    assert ageing_totals(page) == earlier
    assert earlier != today  # the day chosen changes the figures, as it does for the API
    assert page.locator("h1").inner_text() == f"Receivables as of {day}"
    customers = console.served.api("admin").get("/ar/ageing", params={"as_of": day}).json()
    shown = shown_rows(page, "#ageing tbody tr[data-customer]")
    assert [(r["customer"], Decimal(r["total"])) for r in shown] == [
        (c["customer"], Decimal(c["total"])) for c in customers["customers"]
    ]
    console.shot("finance-as-of")

    page.click("nav.tabs >> text=Unapplied cash")
    page.wait_for_url("**view=unapplied*")
    queue = console.served.api("admin").get("/payments/unapplied").json()["items"]
    refs = page.locator("#unapplied tbody tr[data-bank-ref]").evaluate_all(
        "rows => rows.map(row => row.dataset.bankRef)"
    )
    assert refs == [p["bank_ref"] for p in queue]
    console.shot("finance-unapplied")


def test_a_customer_statement_from_the_ageing(console: Console) -> None:
    page = console.sign_in("manager", then="/console/finance")

    page.click("#ageing tbody tr[data-customer] a >> nth=0")
    page.wait_for_url("**/statement?*")

    code = page.url.split("/customers/")[1].split("/")[0]
    query = dict(part.split("=") for part in page.url.split("?")[1].split("&"))
    statement = console.served.api("admin").get(f"/customers/{code}/statement", params=query)
    closing = page.locator('#balances [data-figure="closing"]').get_attribute("data-value")
    assert closing == statement.json()["closing_balance"]
    console.shot("statement-desktop")


def test_the_pages_fit_a_phone(phone: Console) -> None:
    api = phone.served.api("admin")
    sku = api.get("/inventory").json()["items"][0]["sku"]
    page = phone.sign_in("manager", then="/console/inventory")
    for path, name in (
        ("/console/inventory", "inventory-phone"),
        (f"/console/inventory/{sku}", "sku-phone"),
        ("/console/finance", "finance-phone"),
        ("/console/finance/customers/C-ALPINE/statement", "statement-phone"),
    ):
        phone.open(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        phone.shot(name)

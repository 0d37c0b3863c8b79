"""Tracking an order in a real browser: the demo customer watches an order that has not
shipped yet, and the shipment appears on the open page without a reload; a shared link
does the same in a fresh browser with no session, at phone width."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.browser.conftest import Console, Served

SKU = "TRK-100"


def _stocked(served: Served) -> None:
    """A product of our own with stock in Berlin, whatever the demo left there."""
    admin = served.api("admin")
    if admin.get(f"/products/{SKU}").status_code == 404:
        made = admin.post("/products", json={
            "sku": SKU, "name": "Tracked bracket", "make_or_buy": "buy",
            "list_price": "19.90", "standard_cost": "11.37",
        })  # fmt: skip
        assert made.status_code == 201, made.text
    received = admin.post("/stock/finished-goods-receipts", json={
        "sku": SKU, "warehouse": "WH-BER", "production_ref": f"MO-{SKU}", "quantity": "50",
    }, headers={"Idempotency-Key": f"stock-{SKU}"})  # fmt: skip
    assert received.status_code in (200, 201), received.text


def ready_to_ship(served: Served, number: str) -> dict[str, Any]:
    """C-ALPINE's order `number`, approved (by whichever roles its rules ask) and reserved,
    not shipped yet."""
    _stocked(served)
    admin = served.api("admin")
    promised = date.today() + timedelta(days=5)
    made = admin.post("/sales-orders", json={
        "number": number, "customer": "C-ALPINE", "warehouse": "WH-BER",
        "salesperson": "sales.maria", "promised_date": promised.isoformat(),
        "lines": [{"sku": SKU, "quantity": "4", "unit_price": "19.90"}],
    })  # fmt: skip
    assert made.status_code == 201, made.text
    assert admin.post(f"/sales-orders/{number}/submit").status_code == 200
    order = admin.get(f"/sales-orders/{number}").json()
    while order["approval"]["awaiting_role"]:
        role = order["approval"]["awaiting_role"]
        approved = served.api(role).post(f"/sales-orders/{number}/approve", json={"comment": "ok"})
        assert approved.status_code == 200, approved.text
        order = admin.get(f"/sales-orders/{number}").json()
    assert order["status"] == "approved", order
    assert order["lines"][0]["reserved"] == "4"
    return order


def ship(served: Served, number: str, tracking: str) -> httpx.Response:
    shipped = served.api("admin").post(f"/sales-orders/{number}/shipments", json={
        "lines": [{"line_no": 1, "quantity": "4"}], "carrier": "DHL Express",
        "tracking_number": tracking,
    })  # fmt: skip
    assert shipped.status_code == 201, shipped.text
    return shipped


def _watch_the_shipment_arrive(view: Console, served: Served, number: str, tracking: str) -> None:
    page = view.page
    assert page.locator("[data-field=no-shipments]").is_visible()
    page.wait_for_selector("#tracking-live[data-live=open]")  # the stream is open
    page.evaluate("window.trackingMarker = 'still the same page'")
    ship(served, number, tracking)
    row = page.locator("tr[data-shipment] td.tracking-number")
    row.wait_for(timeout=20_000)
    assert row.inner_text() == tracking
    assert page.evaluate("window.trackingMarker") == "still the same page"  # no reload
    assert page.locator("#tracking-live").get_attribute("data-live-updated")
    current = page.locator(".stage-bar .step.current")
    assert current.get_attribute("data-stage") == "shipped"
    page.locator(".history li[data-kind=Shipped]").wait_for()


def test_the_customer_sees_the_shipment_appear_on_the_open_page(
    console: Console, served: Served
) -> None:
    ready_to_ship(served, "SO-TRACK-1")
    page = console.sign_in("customer")
    assert page.url.endswith("/console/track")
    assert page.locator('a[href="/console/track/SO-TRACK-1"]').is_visible()
    others = served.api("admin").get("/sales-orders", params={"customer": "C-BALTIC"}).json()
    assert page.locator(f'a[href="/console/track/{others["items"][0]["number"]}"]').count() == 0
    console.shot("tracking-list")
    page.click('a[href="/console/track/SO-TRACK-1"]')
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Order SO-TRACK-1"
    assert page.locator(".stage-bar .step.current").get_attribute("data-stage") == "stock_confirmed"
    assert "On time" in page.locator("[data-field=punctuality]").inner_text()
    assert "11.37" not in page.content()  # the standard cost
    _watch_the_shipment_arrive(console, served, "SO-TRACK-1", "JD-LIVE-0001")
    assert page.locator("[data-field=punctuality]").inner_text() == "Shipped on time"
    console.shot("tracking-order-shipped")

    others_page = console.open(f"/console/track/{others['items'][0]['number']}")
    assert others_page.locator("h1").inner_text() == "Not found"
    console.errors = [e for e in console.errors if "404" not in e]  # not found is the point


def test_a_shared_link_opens_the_order_without_a_session_and_follows_it_live(
    console: Console, phone: Console, served: Served
) -> None:
    ready_to_ship(served, "SO-TRACK-2")
    page = console.sign_in("warehouse", then="/console/track/SO-TRACK-2")
    assert page.url.endswith("/console/track/SO-TRACK-2")
    page.click(".share button[type=submit]")
    url_field = page.locator("#share-result input[data-fill-field=url]")
    url_field.wait_for()
    url = url_field.input_value()
    assert "/console/track/SO-TRACK-2?link=" in url
    assert page.locator("#share-result [data-fill-field=expires_at]").inner_text()
    console.shot("tracking-share-link")

    shared = phone.page  # a fresh browser context: no session at all
    shared.goto(url)
    assert shared.locator("h1").inner_text() == "Order SO-TRACK-2"
    assert shared.locator(".user").count() == 0
    assert shared.locator("nav.sections").count() == 0
    _watch_the_shipment_arrive(phone, served, "SO-TRACK-2", "JD-LIVE-0002")
    assert shared.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("tracking-shared-link-phone")

    shared.click('a[data-lang="zh-CN"]')  # the language switch keeps the link
    assert shared.locator("h1").inner_text() == "订单 SO-TRACK-2"
    assert shared.locator("th", has_text="运单号").count() == 1
    phone.shot("tracking-shared-link-phone-zh-CN")

    elsewhere = shared.goto(url.replace("SO-TRACK-2?", "SO-TRACK-1?"))
    assert elsewhere is not None
    assert elsewhere.status == 403
    phone.errors = [e for e in phone.errors if "403" not in e]  # the refusal is the point
    tampered = shared.goto(url[:-3] + ("xyz" if not url.endswith("xyz") else "abc"))
    assert tampered is not None
    assert tampered.status == 403
    phone.errors = [e for e in phone.errors if "403" not in e]

"""The order pages in a real browser against the demo data: filter the list, open an order,
approve from the inbox, read the late list; at desktop size and at a phone's width."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console


def listed(page: Any, selector: str = "table tbody tr[data-number]") -> list[str]:
    return [str(row.get_attribute("data-number")) for row in page.locator(selector).all()]


def test_a_manager_filters_the_list_and_opens_an_order_whole(console: Console) -> None:
    page = console.sign_in("manager", then="/console/orders")
    assert page.url.endswith("/console/orders")
    page.select_option('select[name="stage"]', "awaiting_approval")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**stage=awaiting_approval**")
    api = console.served.api("manager")
    waiting = api.get("/sales-orders", params={"stage": "awaiting_approval"}).json()["items"]
    assert listed(page) == [row["number"] for row in waiting]
    assert len(waiting) >= 3
    console.shot("orders-list-filtered")

    billed = api.get("/receivables", params={"status": "invoiced"}).json()["items"][0]
    number = billed["order_number"]
    page.goto(console.served.base + f"/console/orders?search={number}")
    page.click(f'table tbody a:text-is("{number}")')
    page.wait_for_url(f"**/console/orders/{number}")
    timeline = api.get(f"/sales-orders/{number}/timeline").json()["items"]
    assert page.locator("ol.steps li").count() == len(timeline)
    order = api.get(f"/sales-orders/{number}").json()
    tracking = page.locator('table.shipments [data-field="tracking_number"]').all_inner_texts()
    assert tracking == [sent["tracking_number"] for sent in order["shipments"]]
    invoice = billed["invoice_number"]
    assert page.locator(f'table.invoices tr[data-invoice="{invoice}"]').count() == 1
    assert page.locator('[data-field="margin"]').is_visible()  # a manager sees the margin
    console.shot("order-page")


def test_an_approver_approves_from_the_inbox_and_the_order_leaves_it(console: Console) -> None:
    page = console.sign_in("sales_director", then="/console/approvals")
    before = listed(page, "li.inbox-item")
    assert before, "the demo has orders waiting for the sales director"
    console.shot("approvals-inbox")
    number = before[0]
    item = page.locator(f'li.inbox-item[data-number="{number}"]')
    item.locator('form.approve input[name="comment"]').fill("agreed in the browser")
    item.locator('form.approve button[type="submit"]').click()
    page.wait_for_url("**/console/approvals?min_position=*")
    after = listed(page, "li.inbox-item")
    assert number not in after
    assert after == before[1:]
    approved = console.served.api("manager").get(f"/sales-orders/{number}").json()
    assert approved["approval"]["awaiting_role"] != "sales_director"
    console.shot("approvals-after-approving")


def test_the_late_list_shows_the_demo_orders_late_for_their_stage(console: Console) -> None:
    page = console.sign_in("manager", then="/console/late?state=late")
    late = console.served.api("manager").get("/sla/orders", params={"state": "late"}).json()
    expected = [row["number"] for row in late["items"]]
    assert expected, "the demo has late orders"
    assert listed(page) == expected
    assert page.locator('tr[data-state="late"] .badge.late').count() == len(expected)
    page.click("a.sort")
    page.wait_for_url("**sort=least**")
    assert listed(page) == list(reversed(expected))
    console.shot("late-orders")


def test_on_a_phone_the_order_pages_fit_the_width(phone: Console) -> None:
    page = phone.sign_in("manager", then="/console/orders")
    width = "document.documentElement.scrollWidth"
    assert page.evaluate(width) <= 390
    phone.shot("orders-list-phone")
    first = listed(page)[0]
    page.goto(phone.served.base + f"/console/orders/{first}")
    assert page.evaluate(width) <= 390
    phone.shot("order-page-phone")
    page.goto(phone.served.base + "/console/late")
    assert page.evaluate(width) <= 390
    phone.shot("late-orders-phone")
    director = phone.served.users["sales_director"]
    page.click("label.menu-button")
    page.click("form.sign-out button")
    page.goto(phone.served.base + "/console/sign-in?next=/console/approvals")
    page.fill('input[name="username"]', director.name)
    page.fill('input[name="password"]', director.password)
    page.click('button[type="submit"]')
    page.wait_for_url("**/console/approvals")
    assert page.locator("li.inbox-item").count() > 0
    assert page.evaluate(width) <= 390
    phone.shot("approvals-phone")

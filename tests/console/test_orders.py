"""The order pages with real credentials, on SQLite and PostgreSQL: the list, one order, the
approvals inbox and the late list show what the API answers, and only to whom they may."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.secured import Secured, secured

__all__ = ["secured"]  # the fixture, used by name

POLICY = {"rules": [{"name": "large order", "when": {"amount_over": "100", "currency": "EUR"},
                     "levels": ["sales_director"]}]}  # fmt: skip
STAFF_PAGES = ("/console/orders", "/console/orders/SO-1", "/console/approvals", "/console/late")


def call(secured: Secured, role: str, method: str, path: str, body: Any = None) -> Any:
    answer = secured.client.request(method, path, json=body, headers=secured.as_role(role))
    assert answer.is_success, answer.text
    return answer.json()


def page(secured: Secured, role: str, path: str, **params: Any) -> httpx.Response:
    # No params at all when none are given: httpx would drop the query written in `path`.
    answer = secured.client.get(path, params=params or None, headers=secured.as_role(role))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer


def numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)"', html) or re.findall(
        r'<li class="card inbox-item" data-number="([^"]+)"', html
    )


def money(amount: Any, currency: str | None = None) -> str:
    text = f"{Decimal(amount):,.2f}"
    return f"{text} {currency}" if currency else text


def order(secured: Secured, number: str, customer: str, price: str, **extra: Any) -> None:
    lines = [
        {"sku": "SKU-1", "quantity": "4", "unit_price": price},
        {"sku": "SKU-2", "quantity": "1", "unit_price": "3.00"},
    ]
    body = {"number": number, "customer": customer, "warehouse": "WH-1", "salesperson": "ann",
            "lines": lines, **extra}  # fmt: skip
    call(secured, "admin", "POST", "/sales-orders", body)


def seed(secured: Secured) -> int:
    """SO-1 (C-1) waits for the sales director, submitted three days ago (late); SO-2 (C-2)
    needed no approval, is shipped, invoiced and paid in part, with a note and a complaint;
    SO-3 (C-1, salesperson bob, region south) is not submitted yet."""
    admin = secured.as_role("admin")
    call(secured, "admin", "POST", "/warehouses", {"code": "WH-1", "name": "Main"})
    for sku, cost in (("SKU-1", "6.5"), ("SKU-2", "1.25")):
        product = {"sku": sku, "name": f"Product {sku}", "make_or_buy": "buy",
                   "list_price": "10", "standard_cost": cost}  # fmt: skip
        call(secured, "admin", "POST", "/products", product)
        made = {"sku": sku, "warehouse": "WH-1", "production_ref": f"MO-{sku}", "quantity": "50"}
        call(secured, "admin", "POST", "/stock/finished-goods-receipts", made)
    assert secured.client.put("/approval-policy", json=POLICY, headers=admin).is_success
    order(secured, "SO-1", "C-1", "50.00", promised_date="2026-12-01")
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    call(secured, "admin", "POST", "/sales-orders/SO-1/submit", {"effective_at": three_days_ago})
    order(secured, "SO-2", "C-2", "2.50")
    call(secured, "admin", "POST", "/sales-orders/SO-2/submit")
    shipped = [{"line_no": 1, "quantity": "4"}, {"line_no": 2, "quantity": "1"}]
    shipment = {"shipment_ref": "SH-1", "lines": shipped, "carrier": "DHL",
                "tracking_number": "JD-77"}  # fmt: skip
    call(secured, "admin", "POST", "/sales-orders/SO-2/shipments", shipment)
    billed = [{"order_number": "SO-2", "shipment_ref": "SH-1"}]
    invoice = call(secured, "admin", "POST", "/invoices", {"customer": "C-2", "shipments": billed})
    payment = {"bank_ref": "BNK-1", "payer": "C-2", "amount": "5.00", "currency": "EUR",
               "value_date": date.today().isoformat()}  # fmt: skip
    call(secured, "admin", "POST", "/payments", payment)
    allocation = {"invoice_number": invoice["number"], "amount": "5.00"}
    call(secured, "admin", "POST", "/payments/BNK-1/allocations", allocation)
    note = {"note": "customer asked for blue pallets"}
    call(secured, "admin", "POST", "/sales-orders/SO-2/internal-notes", note)
    complaint = {"category": "damaged", "reason": "one box dented"}
    call(secured, "admin", "POST", "/sales-orders/SO-2/complaints", complaint)
    order(secured, "SO-3", "C-1", "1.00", salesperson="bob", region="south")
    head = secured.head()
    for model in ("/sales-orders", "/receivables"):  # every read model the pages read
        call(secured, "admin", "GET", f"{model}?min_position={head}")
    return head


@pytest.fixture
def seeded(secured: Secured) -> Secured:
    seed(secured)
    return secured


def test_the_list_shows_the_api_list_under_each_filter_and_exports_it(seeded: Secured) -> None:
    today = datetime.now(UTC).date()
    cases: list[dict[str, str]] = [
        {}, {"status": "created"}, {"stage": "awaiting_approval"}, {"customer": "C-1"},
        {"salesperson": "bob"}, {"region": "south"}, {"search": "so-2"}, {"search": "c-1"},
        {"search": "so_2"}, {"search": "%"},
        {"ordered_from": today.isoformat(), "ordered_to": today.isoformat()},
        {"ordered_from": (today + timedelta(days=1)).isoformat()},
        {"ordered_to": (today - timedelta(days=1)).isoformat()},
    ]  # fmt: skip
    expected = {
        "": ["SO-1", "SO-2", "SO-3"], "status=created": ["SO-1", "SO-3"],
        "stage=awaiting_approval": ["SO-1"], "customer=C-1": ["SO-1", "SO-3"],
        "salesperson=bob": ["SO-3"], "region=south": ["SO-3"], "search=so-2": ["SO-2"],
        "search=c-1": ["SO-1", "SO-3"], "search=so_2": [], "search=%": [],
    }  # fmt: skip
    for filters in cases:
        listed = call(seeded, "manager", "GET", "/sales-orders", None) if not filters else (
            seeded.client.get("/sales-orders", params=filters,
                              headers=seeded.as_role("manager")).json()
        )  # fmt: skip
        api_numbers = [row["number"] for row in listed["items"]]
        html = page(seeded, "manager", "/console/orders", **filters).text
        assert numbers(html) == api_numbers, filters
        key = "&".join(f"{k}={v}" for k, v in filters.items())
        if key in expected:
            assert api_numbers == expected[key], filters
        for row in listed["items"]:
            assert money(row["total"], row["currency"]) in html
        export = re.search(r'href="(/sales-orders\?[^"]*format=csv[^"]*)"', html)
        assert export is not None
        link = export.group(1).replace("&amp;", "&")
        sheet = seeded.client.get(link, headers=seeded.as_role("manager"))
        assert sheet.status_code == 200, sheet.text
        assert [r["number"] for r in csv.DictReader(io.StringIO(sheet.text))] == api_numbers
    both = page(seeded, "manager", "/console/orders", ordered_from=today.isoformat(),
                ordered_to=today.isoformat()).text  # fmt: skip
    assert numbers(both) == ["SO-1", "SO-2", "SO-3"]
    late = page(seeded, "manager", "/console/orders", customer="C-1").text
    assert '<span class="badge late">Late</span>' in late  # SO-1, past its SLA


def test_the_list_pages_by_number_fifty_to_a_page(seeded: Secured) -> None:
    for n in range(4, 56):
        order(seeded, f"SO-{n:02d}", "C-2", "1.00")
    head = seeded.head()
    call(seeded, "admin", "GET", f"/sales-orders?min_position={head}")
    first = page(seeded, "manager", "/console/orders").text
    shown = numbers(first)
    assert len(shown) == 50
    assert shown == sorted(shown)
    follow = re.search(r'rel="next" href="/console/orders\?after=([^"]+)"', first)
    assert follow is not None
    rest = numbers(page(seeded, "manager", "/console/orders", after=follow.group(1)).text)
    every = [row["number"] for row in call(seeded, "manager", "GET", "/sales-orders")["items"]]
    assert shown + rest == every
    assert len(rest) == 55 - 50


def test_the_order_page_shows_the_order_its_timeline_shipments_and_receivable(
    seeded: Secured,
) -> None:
    view = call(seeded, "manager", "GET", "/sales-orders/SO-2")
    timeline = call(seeded, "manager", "GET", "/sales-orders/SO-2/timeline")
    html = page(seeded, "manager", "/console/orders/SO-2").text
    assert f'data-field="total">{money(view["total"], "EUR")}<' in html
    assert "C-2 · Customer C-2" in html
    assert f'data-field="margin">{money(view["margin"], "EUR")}<' in html
    assert 'data-field="standard_cost">6.50<' in html
    assert "customer asked for blue pallets" in html
    kinds = re.findall(r'<li data-kind="([^"]+)"', html)
    assert kinds == [step["kind"] for step in timeline["items"]]  # every step, newest last
    assert "ComplaintRecorded" in kinds
    assert 'data-field="tracking_number">JD-77<' in html
    assert "SKU-1 × 4, SKU-2 × 1" in html
    (owed,) = call(seeded, "manager", "GET", "/receivables?order_number=SO-2")["items"]
    status = call(seeded, "manager", "GET", f"/invoices/{owed['invoice_number']}/status")
    assert f'data-invoice="{owed["invoice_number"]}"' in html
    assert f'data-field="paid">{money(status["paid"])}<' in html
    assert f'data-field="open">{money(status["open"])}<' in html
    assert Decimal(status["paid"]) == 5
    assert "one box dented" in html


def test_cost_margin_notes_and_receivables_are_left_out_for_sales(seeded: Secured) -> None:
    html = page(seeded, "sales", "/console/orders/SO-2").text
    for hidden in ("Standard cost", "Margin", "margin", "standard_cost", "blue pallets",
                   "Internal notes"):  # fmt: skip
        assert hidden not in html
    assert "Your role does not see receivables." in html
    assert 'data-field="tracking_number">JD-77<' in html  # the rest is there


def test_an_approver_decides_from_the_order_page_only_at_their_level(seeded: Secured) -> None:
    director = page(seeded, "sales_director", "/console/orders/SO-1").text
    assert 'data-api="/sales-orders/SO-1/approve"' in director
    assert 'data-api="/sales-orders/SO-1/reject"' in director
    assert 'class="level-waiting"' in director
    manager = page(seeded, "manager", "/console/orders/SO-1").text
    assert "/sales-orders/SO-1/approve" not in manager  # the level is the director's
    assert "Waiting for approval by sales_director." in manager


def test_approving_through_the_api_from_the_inbox_takes_the_order_out_of_it(
    seeded: Secured,
) -> None:
    inbox = page(seeded, "sales_director", "/console/approvals").text
    assert numbers(inbox) == ["SO-1"]
    assert 'data-waiting="1"' in inbox
    form = re.search(r'data-api="(/sales-orders/SO-1/approve)" data-method="POST" '
                     r'data-after="([^"]+)"', inbox)  # fmt: skip
    assert form is not None
    assert numbers(page(seeded, "manager", "/console/approvals").text) == []
    approved = call(seeded, "sales_director", "POST", form.group(1), {"comment": "fine"})
    after = form.group(2).replace("{position}", str(approved["position"]))
    again = page(seeded, "sales_director", after).text
    assert numbers(again) == []
    assert "Nothing waits for your approval." in again
    decided = page(seeded, "manager", "/console/orders/SO-1").text
    assert '<span class="badge done">Approved</span>' in decided
    assert "u.sales_director" in decided  # who approved it


def test_the_late_list_is_the_sla_list_sorted_by_lateness(seeded: Secured) -> None:
    late = call(seeded, "manager", "GET", "/sla/orders?state=late")["items"]
    assert [row["number"] for row in late] == ["SO-1"]
    html = page(seeded, "manager", "/console/late", state="late").text
    assert numbers(html) == ["SO-1"]
    assert "Waiting for approval by sales_director" in html
    everything = call(seeded, "manager", "GET", "/sla/orders")["items"]
    most = numbers(page(seeded, "manager", "/console/late").text)
    assert most == [row["number"] for row in everything]
    least = numbers(page(seeded, "manager", "/console/late", sort="least").text)
    assert least == list(reversed(most))
    assert "SO-2" not in most  # shipped: its stage is not late yet


def test_staff_pages_refuse_a_customer_user_and_approvals_refuse_sales(seeded: Secured) -> None:
    for path in STAFF_PAGES:
        refused = seeded.client.get(path, headers=seeded.as_role("customer"))
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
        assert "SO-1" not in refused.text.replace(path, "")
    refused = seeded.client.get("/console/approvals", headers=seeded.as_role("sales"))
    assert refused.status_code == 403
    assert "Your role may not see this page." in refused.text


def test_an_unknown_order_is_a_not_found_page(seeded: Secured) -> None:
    missing = seeded.client.get("/console/orders/SO-404", headers=seeded.as_role("manager"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "There is no order SO-404." in missing.text


def test_the_order_pages_speak_chinese(seeded: Secured) -> None:
    listed = page(seeded, "manager", "/console/orders", lang="zh-CN").text
    assert '<html lang="zh-CN">' in listed
    assert "<h1>订单</h1>" in listed
    assert "待审批" in listed  # SO-1's stage
    assert "承诺日期" in listed
    one = page(seeded, "manager", "/console/orders/SO-2", lang="zh-CN").text
    assert "时间线" in one
    assert "运单号" in one
    late = page(seeded, "manager", "/console/late", lang="zh-CN").text
    assert "延误订单" in late
    assert re.search(r"延误 \d+ 天 \d+ 小时", late)
    inbox = page(seeded, "sales_director", "/console/approvals", lang="zh-CN").text
    assert "批准" in inbox
    assert "驳回" in inbox


def test_control_characters_in_filters_and_cursors_are_refused_or_ignored(
    seeded: Secured,
) -> None:
    """PostgreSQL refuses NUL in text: the API answers 422, the pages drop such a filter."""
    for name in ("search", "region", "salesperson"):
        refused = seeded.client.get("/sales-orders", params={name: "a\x00"},
                                    headers=seeded.as_role("manager"))  # fmt: skip
        assert refused.status_code == 422, name
    odd = {"search": "\x00", "customer": "C-1\x00", "after": "\x00"}
    assert numbers(page(seeded, "manager", "/console/orders", **odd).text) == [
        "SO-1", "SO-2", "SO-3",
    ]  # fmt: skip
    assert numbers(page(seeded, "sales_director", "/console/approvals", after="x|\x00").text) == [
        "SO-1"
    ]
    assert numbers(page(seeded, "manager", "/console/late", after="none|\x00").text)

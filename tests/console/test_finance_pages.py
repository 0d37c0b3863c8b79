"""The finance pages with real credentials, on SQLite and PostgreSQL: the ageing as of a
chosen day, its headline figures, the unapplied cash and a customer's statement show what
the API answers, a customer sees their own statement only, and other roles are refused."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.console import finance
from domain.permissions import allows
from domain.workflows import ROLES
from tests.api.secured import Secured, admin_meta, secured
from tests.console.tables import body, figures, foot
from tests.integration.ar_data import invoice, pay

__all__ = ["secured"]  # the fixture, used by name

COLUMNS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "over_90", "total")
INV1, INV2, INV3, INV4 = (f"INV-2026-00000{n}" for n in range(1, 5))


def receivables(secured: Secured) -> None:
    """C-1 and C-2 (EUR, 30 days): four invoices, two paid (one in part), one paid and the
    payment reversed later, and one payment nobody has allocated."""
    ledger, meta = secured.runtime.ledger, admin_meta()
    ledger.register_warehouse(meta, code_="WH1", name="Main")
    ledger.register_product(meta, sku="SKU-1", name="Product", unit="pcs", make_or_buy="buy",
                            standard=True, list_price="10", standard_cost="6.5",
                            currency_code="EUR")  # fmt: skip
    ledger.receive_finished_goods(meta, sku="SKU-1", warehouse="WH1", production_ref="MO-1",
                                  quantity_="100")  # fmt: skip
    assert invoice(ledger, 1, "C-1", "100.00", date(2026, 1, 10)) == INV1
    assert invoice(ledger, 2, "C-1", "200.00", date(2026, 2, 5)) == INV2
    assert invoice(ledger, 3, "C-2", "80.00", date(2026, 2, 20)) == INV3
    assert invoice(ledger, 4, "C-2", "50.25", date(2026, 3, 10)) == INV4
    pay(ledger, "BANK-1", INV1, "100.00", date(2026, 2, 15))
    pay(ledger, "BANK-2", INV2, "150.00", date(2026, 3, 5))
    pay(ledger, "BANK-3", INV3, "80.00", date(2026, 3, 1))
    ledger.unallocate_payment(meta, bank_ref="BANK-3", allocation_id="BANK-3-A1",
                              reason="bounced", effective_date=date(2026, 3, 20))  # fmt: skip
    position = ledger.record_payment(
        meta, bank_ref="BANK-9", payer="Somebody", amount="70.00", currency_code="EUR",
        value_date=date(2026, 3, 12), remittance="order 4471",
    ).position  # fmt: skip
    assert secured.runtime.runner.wait_for(position, ["receivables"], timeout=20)


def api(secured: Secured, path: str, role: str = "admin", **params: Any) -> Any:
    answer = secured.client.get(path, params=params or None, headers=secured.as_role(role))
    assert answer.status_code == 200, answer.text
    return answer.json()


def page(secured: Secured, path: str, role: str = "finance", **params: Any) -> str:
    answer = secured.client.get(path, params=params or None, headers=secured.as_role(role))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def ageing_rows(html: str) -> list[dict[str, Any]]:
    return [
        {"customer": row.attrs["data-customer"], "currency": row.attrs["data-currency"],
         **{name: row.value(name) for name in COLUMNS}, "items": int(row.value("items"))}
        for row in body(html, "ageing") if "data-customer" in row.attrs
    ]  # fmt: skip


def ageing_totals(html: str) -> dict[str, dict[str, Any]]:
    return {
        row.attrs["data-currency"]: {**{n: row.value(n) for n in COLUMNS},
                                     "items": int(row.value("items"))}
        for row in foot(html, "ageing")
    }  # fmt: skip


@pytest.mark.parametrize("day", ["2026-02-28", "2026-03-10", "2026-03-25", "2026-06-30"])
def test_the_ageing_page_shows_the_apis_buckets_and_totals_for_the_day(
    secured: Secured, day: str
) -> None:
    receivables(secured)

    html = page(secured, "/console/finance", as_of=day)

    ageing = api(secured, "/ar/ageing", as_of=day)
    assert ageing_rows(html) == ageing["customers"]
    assert ageing_totals(html) == ageing["totals"]
    assert f"Receivables as of {day}" in html
    assert f"/ar/ageing?as_of={day}&amp;format=csv" in html


def test_picking_another_day_changes_the_ageing_as_the_api_does(secured: Secured) -> None:
    receivables(secured)

    before = page(secured, "/console/finance", as_of="2026-03-10")
    after = page(secured, "/console/finance", as_of="2026-03-25")

    # On 03-10 C-2 owes INV-4 only (INV-3 was paid 03-01); the payment bounced with effect
    # from 03-20, so on 03-25 INV-3 is owed again, 3 days past due.
    c2_before = next(r for r in ageing_rows(before) if r["customer"] == "C-2")
    c2_after = next(r for r in ageing_rows(after) if r["customer"] == "C-2")
    assert (c2_before["total"], c2_before["items"]) == ("50.25", 1)
    assert (c2_after["days_1_30"], c2_after["not_due"], c2_after["items"]) == ("80", "50.25", 2)
    for day, html in (("2026-03-10", before), ("2026-03-25", after)):
        assert ageing_rows(html) == api(secured, "/ar/ageing", as_of=day)["customers"]


def test_the_headline_figures_are_the_apis_total_overdue_dso_and_unapplied_cash(
    secured: Secured,
) -> None:
    receivables(secured)
    day = date(2026, 3, 25)

    html = page(secured, "/console/finance", as_of=day.isoformat())

    shown = {f["data-figure"]: f["data-value"] for f in figures(html)
             if f["data-currency"] == "EUR"}  # fmt: skip
    totals = api(secured, "/ar/ageing", as_of=day.isoformat())["totals"]["EUR"]
    metrics = api(secured, "/ar/metrics", **{"from": (day - timedelta(days=29)).isoformat(),
                                             "to": day.isoformat()})  # fmt: skip
    queue = api(secured, "/payments/unapplied")["items"]
    assert shown["total"] == totals["total"] == "180.25"
    assert Decimal(shown["overdue"]) == Decimal(totals["total"]) - Decimal(totals["not_due"])
    assert shown["dso"] == metrics["currencies"]["EUR"]["dso_days"] != ""
    assert Decimal(shown["unapplied"]) == sum(Decimal(p["unapplied"]) for p in queue)
    assert shown["unapplied"] == "150"  # BANK-9, and BANK-3 since its allocation was undone


def test_a_payment_shows_at_once_though_the_days_figures_are_kept(secured: Secured) -> None:
    receivables(secured)
    first = page(secured, "/console/finance", as_of="2026-03-25")
    again = page(secured, "/console/finance", as_of="2026-03-25", sort="total")

    ledger = secured.runtime.ledger
    position = ledger.allocate_payment(admin_meta(), bank_ref="BANK-9", invoice_number=INV4,
                                       amount="20.25").position  # fmt: skip
    assert secured.runtime.runner.wait_for(position, ["receivables"], timeout=20)
    later = page(secured, "/console/finance", as_of="2026-03-25")

    assert ageing_totals(first) == ageing_totals(again)
    assert ageing_totals(first)["EUR"]["total"] == "180.25"
    assert ageing_totals(later) == api(secured, "/ar/ageing", as_of="2026-03-25")["totals"]
    assert ageing_totals(later)["EUR"]["total"] == "160"


def test_the_customer_rows_page_and_sort(secured: Secured, monkeypatch: pytest.MonkeyPatch) -> None:
    receivables(secured)
    monkeypatch.setattr(finance, "CUSTOMER_ROWS", 1)

    first = page(secured, "/console/finance", as_of="2026-03-25", sort="total")
    second = page(secured, "/console/finance", as_of="2026-03-25", sort="total", page="2")

    everyone = api(secured, "/ar/ageing", as_of="2026-03-25")["customers"]
    by_total = sorted(everyone, key=lambda row: -Decimal(row["total"]))
    assert ageing_rows(first) + ageing_rows(second) == by_total
    assert 'rel="next"' in first
    assert 'rel="prev"' in second
    assert ageing_totals(first) == ageing_totals(second)  # totals are of every customer


def test_the_unapplied_cash_view_lists_the_apis_queue(secured: Secured) -> None:
    receivables(secured)

    html = page(secured, "/console/finance", view="unapplied")

    queue = api(secured, "/payments/unapplied")["items"]
    rows = body(html, "unapplied")
    assert (
        [(r.attrs["data-bank-ref"], r.value("unapplied")) for r in rows]
        == [(p["bank_ref"], p["unapplied"]) for p in queue]
        == [("BANK-3", "80"), ("BANK-9", "70")]
    )
    assert "/payments/unapplied?format=csv" in html


def statement_lines(html: str) -> list[tuple[str, str, str]]:
    return [
        (row.attrs["data-kind"], row.attrs["data-reference"], row.value("balance"))
        for row in body(html, "statement") if "data-kind" in row.attrs
    ]  # fmt: skip


def test_the_statement_shows_the_apis_balances_line_by_line(secured: Secured) -> None:
    receivables(secured)
    period = {"from": "2026-02-01", "to": "2026-03-31"}

    html = page(secured, "/console/finance/customers/C-2/statement", **period)

    statement = api(secured, "/customers/C-2/statement", **period)
    assert statement_lines(html) == [
        (line["kind"], line["reference"], line["balance"]) for line in statement["lines"]
    ]
    assert [k for k, _, _ in statement_lines(html)] == [
        "invoice", "payment", "invoice", "payment_reversal",
    ]  # fmt: skip
    shown = {f["data-figure"]: f["data-value"] for f in figures(html)}
    assert (shown["opening"], shown["closing"], shown["unapplied"]) == (
        statement["opening_balance"], statement["closing_balance"], statement["unapplied_cash"],
    )  # fmt: skip
    assert shown["closing"] == "130.25"


def test_the_statement_export_is_the_apis_file_of_its_lines(secured: Secured) -> None:
    receivables(secured)
    period = {"from": "2026-01-01", "to": "2026-03-31", "currency": "EUR"}
    html = page(secured, "/console/finance/customers/C-1/statement", **period)

    link = re.search(r'href="(/customers/C-1/statement\?[^"]+format=csv)"', html)

    assert link
    answer = secured.client.get(link.group(1).replace("&amp;", "&"),
                                headers=secured.as_role("finance"))  # fmt: skip
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="statement-')
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    statement = api(secured, "/customers/C-1/statement", **period)
    assert [(r["kind"], r["reference"], r["amount"], r["balance"]) for r in rows] == [
        (line["kind"], line["reference"], line["amount"], line["balance"])
        for line in statement["lines"]
    ]
    assert rows[0]["due_date"] == "2026-02-09"  # every line has every column, blank if none
    assert [r["bank_ref"] for r in rows if r["kind"] == "payment"] == ["BANK-1", "BANK-2"]


def test_a_customer_sees_their_own_statement_only(secured: Secured) -> None:
    receivables(secured)
    period = {"from": "2026-01-01", "to": "2026-03-31"}

    own = page(secured, "/console/finance/customers/C-1/statement", role="customer", **period)
    other = secured.client.get("/console/finance/customers/C-2/statement", params=period,
                               headers=secured.as_role("customer"))  # fmt: skip
    unknown = secured.client.get("/console/finance/customers/C-9/statement",
                                 headers=secured.as_role("finance"))  # fmt: skip

    mine = api(secured, "/customers/C-1/statement", role="customer", **period)
    assert statement_lines(own) == [
        (x["kind"], x["reference"], x["balance"]) for x in mine["lines"]
    ]
    assert "format=csv" not in own  # files are for staff
    assert other.status_code == unknown.status_code == 404
    assert "text/html" in other.headers["content-type"]
    assert "No customer C-2." in other.text
    refused = secured.client.get("/console/finance", headers=secured.as_role("customer"))
    assert refused.status_code == 403


def test_roles_without_finance_read_are_refused(secured: Secured) -> None:
    receivables(secured)
    for role in ROLES:
        for path in ("/console/finance", "/console/finance/customers/C-1/statement"):
            answer = secured.client.get(path, headers=secured.as_role(role))
            staff_page = path == "/console/finance"
            allowed = allows(role, "finance:read") and (role != "customer" or not staff_page)
            assert answer.status_code == (200 if allowed else 403), (role, path)


def test_a_day_that_is_not_a_date_is_said_so_and_today_is_shown(secured: Secured) -> None:
    html = page(secured, "/console/finance", as_of="2026-02-30")

    assert "Not a date (YYYY-MM-DD): 2026-02-30" in html
    assert f"Receivables as of {datetime.now(UTC).date().isoformat()}" in html


def test_the_pages_speak_chinese(secured: Secured) -> None:
    receivables(secured)

    overview = page(secured, "/console/finance", as_of="2026-03-25", lang="zh-CN")
    statement = page(secured, "/console/finance/customers/C-2/statement", lang="zh-CN",
                     **{"from": "2026-02-01", "to": "2026-03-31"})  # fmt: skip

    for label in ("截至 2026-03-25 的应收账款", "未到期", "1–30 天", "90 天以上", "对账单", "逾期"):
        assert label in overview
    for label in ("C-2 的对账单", "期初余额", "期末余额", "付款冲回", "余额"):
        assert label in statement

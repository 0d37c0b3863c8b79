"""The inventory pages with real credentials, on SQLite and PostgreSQL: the list and a SKU's
page show what the API answers for the same filters, mark what is below safety stock, and
only to roles that may read stock."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from api.console import inventory
from domain.permissions import allows
from domain.workflows import ROLES
from tests.api.secured import Secured, admin_meta, secured
from tests.console.tables import body, foot

__all__ = ["secured"]  # the fixture, used by name

DIMENSIONS = ("physical", "in_transit", "locked", "available", "projected", "safety_stock")


def stock(secured: Secured) -> None:
    """AB-1, AB-2 and B-1 in WH-1 and WH-2: received, reserved, sent between the two, and
    safety levels that leave AB-2 in WH-1 and B-1 in WH-2 below safety stock."""
    ledger, meta = secured.runtime.ledger, admin_meta()
    for code in ("WH-1", "WH-2"):
        ledger.register_warehouse(meta, code_=code, name=f"Warehouse {code}")
    for sku in ("AB-1", "AB-2", "B-1"):
        ledger.register_product(meta, sku=sku, name=f"Product {sku}", unit="pcs",
                                make_or_buy="buy", standard=True, list_price="10",
                                standard_cost="6.5", currency_code="EUR")  # fmt: skip
    for n, sku in enumerate(("AB-1", "AB-2", "B-1"), start=1):
        for m, warehouse in enumerate(("WH-1", "WH-2"), start=1):
            ledger.receive_finished_goods(
                meta, sku=sku, warehouse=warehouse, production_ref=f"MO-{n}{m}",
                quantity_=str(10 * n + m),
            )  # fmt: skip
    ledger.reserve(meta, sku="AB-1", warehouse="WH-1", order_ref="SO-1", quantity_="4")
    ledger.transfer(meta, sku="AB-1", from_warehouse="WH-2", to_warehouse="WH-1",
                    quantity_="2", transfer_ref="TR-1")  # fmt: skip
    ledger.set_safety_stock(meta, sku="AB-2", warehouse="WH-1", level="50")
    ledger.set_safety_stock(meta, sku="AB-1", warehouse="WH-1", level="5")
    position = ledger.set_safety_stock(meta, sku="B-1", warehouse="WH-2", level="40").position
    runner = secured.runtime.runner
    assert runner.wait_for(position, ["inventory", "safety_stock"], timeout=20)


def api(secured: Secured, path: str, **params: Any) -> Any:
    answer = secured.client.get(path, params=params or None, headers=secured.as_role("admin"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def page(secured: Secured, path: str, role: str = "warehouse", **params: Any) -> str:
    answer = secured.client.get(path, params=params or None, headers=secured.as_role(role))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["server-timing"].startswith("page;dur=")
    return answer.text


def listed(html: str) -> list[dict[str, Any]]:
    rows = body(html, "inventory")
    return [
        {"sku": row.attrs["data-sku"], "warehouse": row.attrs["data-warehouse"],
         "below": row.attrs.get("class") == "below-safety",
         **{name: row.value(name) for name in DIMENSIONS}}
        for row in rows if "data-sku" in row.attrs
    ]  # fmt: skip


def from_api(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"sku": item["sku"], "warehouse": item["warehouse"], "below": item["below_safety"],
         **{name: item[name] for name in DIMENSIONS}}
        for item in items
    ]  # fmt: skip


def test_the_list_shows_the_apis_four_dimensions_and_marks_below_safety(secured: Secured) -> None:
    stock(secured)

    html = page(secured, "/console/inventory")

    shown = listed(html)
    assert shown == from_api(api(secured, "/inventory")["items"])
    assert [(r["sku"], r["warehouse"]) for r in shown if r["below"]] == [
        ("AB-2", "WH-1"), ("B-1", "WH-2"),
    ]  # fmt: skip
    ab1 = next(r for r in shown if (r["sku"], r["warehouse"]) == ("AB-1", "WH-1"))
    assert (ab1["physical"], ab1["in_transit"], ab1["locked"], ab1["available"]) == (
        "11", "2", "4", "7",
    )  # fmt: skip
    below = next(row for row in body(html, "inventory") if row.attrs.get("data-sku") == "AB-2"
                 and row.attrs["data-warehouse"] == "WH-1")  # fmt: skip
    assert below.attrs["class"] == "below-safety"
    assert below.cells[-1].text == "below safety 50"
    (totals,) = foot(html, "inventory")
    for name in ("physical", "in_transit", "locked", "available"):
        assert Decimal(totals.value(name)) == sum(Decimal(r[name]) for r in shown)


@pytest.mark.parametrize(
    ("query", "api_query"),
    [
        ({"warehouse": "WH-2"}, {"warehouse": "WH-2"}),
        ({"sku": "AB"}, {"sku_prefix": "AB"}),
        ({"below": "1"}, {"below_safety": "true"}),
        ({"warehouse": "WH-1", "sku": "AB-", "below": "1"},
         {"warehouse": "WH-1", "sku_prefix": "AB-", "below_safety": "true"}),
    ],
)  # fmt: skip
def test_filters_list_what_the_api_lists_and_export_the_same_list(
    secured: Secured, query: dict[str, str], api_query: dict[str, str]
) -> None:
    stock(secured)

    html = page(secured, "/console/inventory", **query)

    assert listed(html) == from_api(api(secured, "/inventory", **api_query)["items"])
    exports = _links(html, "/inventory?")
    assert {parse_qs(urlsplit(link).query)["format"][0] for link in exports} == {"csv", "xlsx"}
    for link in exports:
        asked = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items() if k != "format"}
        assert asked == api_query
    csv_link = next(link for link in exports if "format=csv" in link)
    answer = secured.client.get(csv_link, headers=secured.as_role("warehouse"))
    assert answer.status_code == 200
    lines = answer.text.strip().splitlines()
    assert len(lines) - 1 == len(listed(html))


def test_a_sku_that_is_not_a_code_is_refused_on_the_page_not_by_a_crash(secured: Secured) -> None:
    stock(secured)

    html = page(secured, "/console/inventory", sku="AB 1")

    assert "A SKU has only letters, digits, dots, dashes and underscores." in html
    assert len(listed(html)) == 6  # the filter is left out, not half-applied


def test_pages_of_the_list_walk_every_row_once_both_ways(
    secured: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock(secured)
    monkeypatch.setattr(inventory, "PAGE_ROWS", 4)

    first = page(secured, "/console/inventory")
    second = page(secured, _link(first, "next"))
    back = page(secured, _link(second, "prev"))

    keys = [(r["sku"], r["warehouse"]) for r in listed(first) + listed(second)]
    assert keys == [(i["sku"], i["warehouse"]) for i in api(secured, "/inventory")["items"]]
    assert listed(back) == listed(first)
    assert 'rel="prev"' not in first
    assert 'rel="next"' not in second


def test_a_page_before_the_first_row_is_the_first_page(secured: Secured) -> None:
    stock(secured)

    html = page(secured, "/console/inventory", before="AA-0/WH-1")

    assert listed(html) == listed(page(secured, "/console/inventory"))
    assert 'rel="prev"' not in html


def test_a_skus_page_shows_it_per_warehouse_with_its_movements_newest_first(
    secured: Secured,
) -> None:
    stock(secured)

    html = page(secured, "/console/inventory/AB-1")

    sku = api(secured, "/inventory/AB-1")
    rows = body(html, "warehouses")
    assert [
        {"warehouse": r.attrs["data-warehouse"], **{n: r.value(n) for n in DIMENSIONS}}
        for r in rows
    ] == [{"warehouse": w["warehouse"], **{n: w[n] for n in DIMENSIONS}} for w in sku["warehouses"]]
    (total,) = foot(html, "warehouses")
    assert {n: total.value(n) for n in DIMENSIONS} == {n: sku["total"][n] for n in DIMENSIONS}
    moves = [
        {**move, "warehouse": warehouse}
        for warehouse in ("WH-1", "WH-2")
        for move in api(secured, f"/inventory/AB-1/{warehouse}/movements")["items"]
    ]
    moves.sort(key=lambda move: -move["position"])
    shown = body(html, "movement-list")
    assert [int(row.attrs["data-position"]) for row in shown] == [m["position"] for m in moves]
    assert [row.attrs["data-kind"] for row in shown] == [m["kind"] for m in moves]
    assert [row.cells[3].attrs["data-value"] for row in shown] == [m["quantity"] for m in moves]
    assert {row.cells[-1].text for row in shown} == {m["actor"] for m in moves} == {"setup"}
    assert "Transfer TR-1" in html
    assert "Sales order SO-1" in html
    for warehouse in ("WH-1", "WH-2"):
        assert f"/inventory/AB-1/{warehouse}/movements?format=csv" in html


def test_a_skus_movements_page_back_and_forth_and_by_warehouse(
    secured: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock(secured)
    monkeypatch.setattr(inventory, "MOVEMENT_ROWS", 2)
    every = [m["position"] for warehouse in ("WH-1", "WH-2")
             for m in api(secured, f"/inventory/AB-1/{warehouse}/movements")["items"]]  # fmt: skip

    first = page(secured, "/console/inventory/AB-1")
    older = page(secured, _link(first, "next"))
    newer = page(secured, _link(older, "prev"))
    wh2 = page(secured, "/console/inventory/AB-1", warehouse="WH-2")

    def positions(html: str) -> list[int]:
        return [int(r.attrs["data-position"]) for r in body(html, "movement-list")]

    assert positions(first) + positions(older) == sorted(every, reverse=True)[:4]
    assert positions(newer) == positions(first)
    assert {r.attrs["data-warehouse"] for r in body(wh2, "warehouses")} == {"WH-1", "WH-2"}
    wh2_moves = api(secured, "/inventory/AB-1/WH-2/movements")["items"]
    assert positions(wh2) == sorted((m["position"] for m in wh2_moves), reverse=True)[:2]


def test_a_skus_open_safety_alert_is_shown_with_its_gap(secured: Secured) -> None:
    stock(secured)

    html = page(secured, "/console/inventory/AB-2")

    alerts = [a for a in api(secured, "/safety-alerts")["items"] if a["sku"] == "AB-2"]
    assert [a["status"] for a in alerts] == ["open"]
    (row,) = body(html, "alerts")
    assert row.attrs == {"class": "below-safety", "data-warehouse": "WH-1"}
    assert row.cells[4].text == alerts[0]["gap"]
    below = [r for r in body(html, "warehouses") if r.attrs.get("class") == "below-safety"]
    assert [r.attrs["data-warehouse"] for r in below] == ["WH-1"]


def test_an_unknown_sku_is_a_not_found_page(secured: Secured) -> None:
    answer = secured.client.get("/console/inventory/NOPE-1", headers=secured.as_role("warehouse"))

    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "No stock of SKU NOPE-1." in answer.text


def test_roles_without_stock_read_are_refused_and_no_session_signs_in(secured: Secured) -> None:
    stock(secured)
    for role in ROLES:
        for path in ("/console/inventory", "/console/inventory/AB-1"):
            answer = secured.client.get(path, headers=secured.as_role(role))
            if allows(role, "stock:read") and role != "customer":
                assert answer.status_code == 200, (role, path)
            else:
                assert answer.status_code == 403, (role, path)
                assert "Your role may not see this page." in answer.text
    anonymous = secured.client.get("/console/inventory", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/sign-in?next=")


def test_the_pages_speak_chinese(secured: Secured) -> None:
    stock(secured)

    listing = page(secured, "/console/inventory", lang="zh-CN", below="1")
    one = page(secured, "/console/inventory/AB-1", lang="zh-CN")

    assert '<html lang="zh-CN">' in listing
    labels = ("实物库存", "在途", "锁定", "可用", "安全库存", "低于安全库存", "本页合计（2 行）")
    for label in labels:
        assert label in listing
    for label in ("各仓库库存", "库存变动（最新在前）", "已预留", "调拨出库", "操作人"):
        assert label in one


def _links(html: str, prefix: str) -> list[str]:
    """Every link address in the page that starts with `prefix`."""
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)"', html)
            if link.startswith(prefix)]  # fmt: skip


def _link(html: str, rel: str) -> str:
    """The address of the pager's link `rel` (next, prev), without its fragment."""
    found = re.search(rf'<a rel="{rel}" href="([^"#]+)', html)
    assert found, f"no {rel} link"
    return found.group(1).replace("&amp;", "&")

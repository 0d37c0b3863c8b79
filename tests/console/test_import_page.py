"""The import page through the app with real credentials, on SQLite and PostgreSQL: each
kind's columns as the layouts say, example files the API itself accepts, the form that
posts to the API, refusals for roles without imports:write, and Chinese labels."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import orjson

from domain.import_layouts import KINDS, LAYOUTS
from tests.api.secured import Secured, secured

__all__ = ["secured"]


def page(secured: Secured, role: str, path: str, **params: Any) -> httpx.Response:
    return secured.client.get(path, params=params, headers=secured.as_role(role),
                              follow_redirects=False)  # fmt: skip


def test_each_kind_shows_its_columns_and_a_form_posting_to_the_api(secured: Secured) -> None:
    first = page(secured, "manager", "/console/import")
    assert first.status_code == 200, first.text
    assert 'data-api="/imports/customers"' in first.text  # the first kind unless one is chosen
    for kind in KINDS:
        html = page(secured, "manager", "/console/import", kind=kind).text
        form = re.search(r"<form class=\"upload\"[^>]*>", html)
        assert form is not None
        assert f'data-api="/imports/{kind}"' in form.group(0)
        assert "data-keep" in form.group(0)
        assert 'data-import-report="import-report"' in form.group(0)
        assert re.search(r'<input type="file" name="file"[^>]*required', html)
        assert 'name="skip_bad_rows" value="true"' in html
        shown = re.findall(r"<tr><td><code>(\w+)</code></td><td>(yes|)</td>", html)
        assert shown == [(c.name, "yes" if c.required else "") for c in LAYOUTS[kind]], kind
        assert f'href="/console/import/{kind}/example.csv"' in html
        assert 'aria-current="page">' in html
        labels = re.search(r'<script type="application/json" id="import-labels">(.*?)</script>',
                           html)  # fmt: skip
        assert labels is not None
        assert orjson.loads(labels.group(1))["bad_rows"] == "Bad rows"
    unknown = page(secured, "manager", "/console/import", kind="suppliers")
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]


def _example(secured: Secured, kind: str) -> bytes:
    got = page(secured, "manager", f"/console/import/{kind}/example.csv")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert f'filename="{kind}-example.csv"' in got.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(got.text)))
    assert header == [column.name for column in LAYOUTS[kind]]
    return got.content


def test_the_example_files_import_as_they_are_in_order(secured: Secured) -> None:
    """Customers, then products, then (with the warehouse there) stock, then orders: each
    example is valid once the ones before it are in, so a newcomer can start from them."""
    admin = secured.as_role("admin")
    made = secured.client.post("/warehouses", json={"code": "WH-BER", "name": "Berlin"},
                               headers=admin)  # fmt: skip
    assert made.status_code == 201, made.text
    secured.client.post("/products", headers=admin, json={
        "sku": "P-101", "name": "Gadget", "make_or_buy": "make", "list_price": "30",
        "standard_cost": "18"})  # fmt: skip
    for kind in KINDS:
        files = {"file": (f"{kind}-example.csv", _example(secured, kind))}
        done = secured.client.post(f"/imports/{kind}", files=files,
                                   headers=secured.as_role("manager"))  # fmt: skip
        assert done.status_code == 201, (kind, done.text)
        assert (done.json()["created"], done.json()["bad_rows"]) == (1, 0), kind


def test_roles_without_imports_write_are_refused_the_page_and_its_examples(
    secured: Secured,
) -> None:
    for role in ("sales", "warehouse", "finance", "customer", "auditor"):
        for path in ("/console/import", "/console/import/products/example.csv"):
            refused = page(secured, role, path)
            assert refused.status_code == 403, (role, path)
            assert "text/html" in refused.headers["content-type"]
    for role in ("manager", "integration", "admin"):
        assert page(secured, role, "/console/import").status_code == 200, role
    anonymous = secured.client.get("/console/import", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fimport"


def test_the_import_page_speaks_chinese(secured: Secured) -> None:
    html = page(secured, "manager", "/console/import", kind="stock", lang="zh-CN").text
    assert '<html lang="zh-CN">' in html
    for label in ("从电子表格导入", "期初库存", "跳过错误行", "示例文件", "已登记的仓库", "必填"):
        assert label in html, label
    labels = re.search(r'id="import-labels">(.*?)</script>', html)
    assert labels is not None
    assert orjson.loads(labels.group(1))["errors"] == "原因"

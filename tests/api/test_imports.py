"""`POST /imports/{kind}` on real SQLite and PostgreSQL: a multipart upload, 201 with the
report, 422 problem+json listing every bad row with nothing stored, dry runs, re-imports."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Api, assert_problem
from tests.spreadsheets import CUSTOMERS, STOCK, csv_bytes, plus, xlsx_bytes


def upload(api: Api, kind: str, data: bytes, query: str = "", role: str = "admin",
           **fields: str) -> httpx.Response:  # fmt: skip
    files: dict[str, Any] = {"file": (f"{kind}.xlsx", data)}
    return api.client.post(f"/imports/{kind}{query}", files=files, data=fields,
                           headers={"X-Role": role})  # fmt: skip


def test_an_upload_is_validated_whole_applied_once_and_reported(api: Api) -> None:
    api.warehouse("WH1")
    api.warehouse("WH2")
    api.product("P-100")
    api.product("P-101")
    bad = xlsx_bytes(plus(STOCK, ["P-404", "WH1", "x", "OPENING-2025", ""]))
    head = api.head()
    body = assert_problem(upload(api, "stock", bad), 422, "import-has-bad-rows")
    assert body["report"]["bad"] == [{"row": 5, "errors": ["quantity is not a number: 'x'"]}]
    assert api.head() == head
    dry = upload(api, "stock", xlsx_bytes(STOCK), "?dry_run=true")
    assert dry.status_code == 200, dry.text
    assert (dry.json()["created"], dry.json()["applied"]) == (3, False)
    assert api.head() == head
    done = upload(api, "stock", bad, skip_bad_rows="true")
    assert done.status_code == 201, done.text
    report = done.json()
    assert (report["created"], report["unchanged"], report["bad_rows"]) == (3, 0, 1)
    assert done.headers["X-Log-Position"] == str(report["position"])
    item = api.read("/stock-items/P-100/WH1", min_position=report["position"])
    assert item["physical"] == "40"
    again = upload(api, "stock", xlsx_bytes(STOCK)).json()
    assert (again["created"], again["unchanged"]) == (0, 3)
    assert api.head() == report["position"]


def test_imports_need_imports_write_and_an_unreadable_file_is_a_problem(api: Api) -> None:
    data = csv_bytes(CUSTOMERS)
    assert_problem(upload(api, "customers", data, role="sales"), 403, "forbidden")
    assert upload(api, "customers", data, role="integration").status_code == 201
    assert_problem(upload(api, "customers", b"code,name\n"), 422, "unreadable-import-file")
    # No upload route is there for it: refused before any routing, as any body would be.
    assert_problem(upload(api, "suppliers", data), 415, "unsupported-media-type")

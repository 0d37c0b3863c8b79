"""KPI figures and AR metrics as CSV and XLSX files, on SQLite and PostgreSQL: each file
holds the JSON answer's rows (the KPI's items; the metrics per currency for all customers,
then per customer and currency), and a customer user gets no file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.api.conftest import Api
from tests.api.test_exports import as_csv, csv_rows, same_cell, xlsx_rows
from tests.integration.test_kpis import history

KPI_COLUMNS = ["period_start", "by", "value", "key", "figure", "unit", "numerator",
               "denominator", "orders"]  # fmt: skip


def test_kpi_figures_answer_as_files_holding_the_json_items(api: Api) -> None:
    history(api.runtime)
    asked = {"kpi": "order_value", "period": "month", "by": "product_line"}
    items: list[dict[str, Any]] = api.read("/kpis", **asked)["items"]
    assert [(i["period_start"], i["value"], Decimal(i["figure"])) for i in items] == [
        ("2026-03-01", "BRK", 30), ("2026-03-01", "SKU", 60), ("2026-04-01", "BRK", 20),
    ]  # fmt: skip

    as_file = api.get("/kpis", **asked, format="csv")
    assert 'filename="kpi-order_value-' in as_file.headers["content-disposition"]
    rows = csv_rows(as_file)
    assert list(rows[0]) == KPI_COLUMNS
    assert rows == [{k: as_csv(v) for k, v in item.items()} for item in items]
    sheet = xlsx_rows(api.get("/kpis", **asked, format="xlsx"))
    assert len(sheet) == len(items)
    for cells, item in zip(sheet, items, strict=True):
        for column in KPI_COLUMNS:
            expected = item[column]
            if column == "period_start":  # a date cell
                assert cells[column].date() == date.fromisoformat(expected)
            else:
                assert same_cell(cells[column], expected), (column, cells[column], expected)


def test_ar_metrics_answer_as_a_file_of_all_customers_then_each_customer(api: Api) -> None:
    history(api.runtime)
    window = {"from": "2026-03-01", "to": "2026-03-31"}
    report = api.read("/ar/metrics", **window)
    rows = csv_rows(api.get("/ar/metrics", **window, format="csv"))
    assert [(r["customer"], r["currency"]) for r in rows] == [("", "EUR"), ("C-1", "EUR")]
    figures = report["currencies"]["EUR"]
    shown = {k: as_csv(v) for k, v in figures.items()}
    assert rows[0] == {"customer": "", "currency": "EUR", "from": "2026-03-01",
                       "to": "2026-03-31", **shown}  # fmt: skip
    (mine,) = report["customers"]
    assert rows[1]["collected"] == as_csv(mine["currencies"]["EUR"]["collected"])
    sheet = xlsx_rows(api.get("/ar/metrics", **window, format="xlsx"))
    assert [(r["customer"], r["currency"]) for r in sheet] == [(None, "EUR"), ("C-1", "EUR")]

    customer = {"X-Role": "customer", "X-Customer": "C-1"}
    refused = api.client.get("/ar/metrics", params={**window, "format": "csv"}, headers=customer)
    assert refused.status_code == 403

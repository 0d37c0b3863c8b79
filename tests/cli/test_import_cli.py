"""`orderledger import KIND FILE` on real SQLite and PostgreSQL: a summary table, bad rows
listed, refusals as one line with exit 1 and nothing stored."""

from __future__ import annotations

from pathlib import Path

from api.runtime import open_runtime
from api.settings import Settings
from tests.cli.test_cli import invoke
from tests.spreadsheets import PRODUCTS, csv_bytes, plus, xlsx_bytes


def head(settings: Settings) -> int:
    opened = open_runtime(settings, start_projections=False)
    try:
        return opened.ledger.head()
    finally:
        opened.close()


def test_import_prints_a_summary_refuses_bad_files_whole_and_reimports_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    good, bad = tmp_path / "products.xlsx", tmp_path / "bad.csv"
    good.write_bytes(xlsx_bytes(PRODUCTS))
    bad.write_bytes(csv_bytes(plus(PRODUCTS, ["P-9", "", "pcs", "sell", "1", "1", "EUR", ""])))
    code, output = invoke(settings, "import", "products", str(bad))
    assert code == 1, output
    assert "row 4: name is required; make_or_buy must be one of make, buy, got 'sell'" in output
    assert output.strip().splitlines()[-1].startswith("error: 1 bad row in the products file")
    assert head(settings) == 0
    code, output = invoke(settings, "import", "products", str(good), "--dry-run")
    assert code == 0, output
    assert "dry run" in output
    assert _count(output, "to create") == 2
    assert head(settings) == 0
    code, output = invoke(settings, "import", "products", str(good))
    assert code == 0, output
    assert (_count(output, "created"), _count(output, "unchanged")) == (2, 0)
    stored = head(settings)
    code, output = invoke(settings, "import", "products", str(bad), "--skip-bad-rows")
    assert code == 0, output
    assert (_count(output, "created"), _count(output, "unchanged"), _count(output, "bad rows")) == (
        0, 2, 1)  # fmt: skip
    assert "row 4: name is required" in output
    assert head(settings) == stored


def test_unknown_kinds_formats_and_unreadable_files_are_one_line_and_exit_1(
    settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "p.csv"
    file.write_bytes(b"sku,name,colour\nP-1,x,red\n")
    for args, said in (
        (["import", "suppliers", str(file)], "unknown import kind 'suppliers'"),
        (["import", "products", str(file), "--format", "ods"], "--format must be one of"),
        (["import", "products", str(tmp_path / "none.csv")], "cannot read"),
        (["import", "products", str(file)], "a products file needs the column(s) unit,"),
        (["import", "products", str(file), "--format", "xlsx"], "not a readable XLSX workbook"),
    ):
        code, output = invoke(settings, *args)
        assert code == 1, output
        assert said in output
        assert len(output.strip().splitlines()) == 1, output


def _count(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if f"│ {label} " in line)
    return int(line.split("│")[2])

"""The orderledger command line on real SQLite and PostgreSQL: demo, status, rebuild, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import cli
from api.settings import Settings
from tests.conftest import settings_env


def env_for(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env_for(settings))
    return result.exit_code, result.output


def inventory_rows(settings: Settings) -> list[tuple[object, ...]]:
    sql = "SELECT sku, warehouse, physical, locked, in_transit FROM inventory_items ORDER BY 1, 2"
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo()) as connection:
            connection.execute(f"SET search_path TO {settings.views_schema}")
            rows = connection.execute(sql).fetchall()
            return [(r[0], r[1], *(str(v.normalize()) for v in r[2:])) for r in rows]
    with sqlite3.connect(settings.views_path()) as connection:
        return [tuple(r) for r in connection.execute(sql).fetchall()]


def test_demo_loads_realistic_data_and_projections_catch_up(settings: Settings) -> None:
    code, output = invoke(settings, "demo", "--skus", "20")
    assert code == 0, output
    assert "demo data:" in output
    code, output = invoke(settings, "projections", "status")
    assert code == 0, output
    for name in ("catalog", "inventory", "purchasing", "orders", "receivables", "outbox"):
        line = next(line for line in output.splitlines() if name in line)
        assert line.split("│")[-2].strip() == "0", f"{name} still lags: {line}"
    rows = inventory_rows(settings)
    assert {row[1] for row in rows} == {"WH-BER", "WH-HAM", "WH-MUC"}
    assert len({row[0] for row in rows}) == 20


def test_the_demo_bank_statement_is_matched_mostly_by_rule_when_imported(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a PostgreSQL ledger's demo statement goes to ./var
    code, output = invoke(settings, "demo", "--skus", "20")
    assert code == 0, output
    statement = (
        Path("var") if settings.is_postgres else settings.sqlite_path().parent
    ) / "demo-bank-statement.xml"
    said = "".join(output.split())  # the console wraps long lines anywhere
    assert f"importitwith`orderledgerfinanceimport-statement{statement}`" in said
    assert (tmp_path / statement).is_file()

    code, output = invoke(settings, "finance", "import-statement", str(statement))

    assert code == 0, output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in output.splitlines() if line.count("│") == 3}  # fmt: skip
    # Every payment the demo statement holds finds its invoices but the unknown payer's.
    assert (rows["debits skipped"], rows["unmatched"]) == ("1", "1")
    matched = " ".join(
        line.split("│")[2].strip() for line in output.splitlines()
        if line.count("│") == 3 and line.split("│")[1].strip() in ("matched by rule", "")
    )  # fmt: skip
    by_rule = dict(part.split(": ") for part in matched.split(", "))
    assert set(by_rule) == {"invoice_reference", "exact_amount_customer", "oldest_open_items"}
    assert sum(int(n) for n in by_rule.values()) == int(rows["imported"]) - 1


def test_rebuild_reproduces_the_live_read_model(settings: Settings) -> None:
    assert invoke(settings, "demo", "--skus", "10")[0] == 0
    before = inventory_rows(settings)
    code, output = invoke(settings, "projections", "rebuild", "inventory")
    assert code == 0, output
    assert "inventory: rebuilt from" in output
    assert inventory_rows(settings) == before


def test_loading_the_demo_twice_is_refused_with_one_line(settings: Settings) -> None:
    assert invoke(settings, "demo", "--skus", "10")[0] == 0
    code, output = invoke(settings, "demo", "--skus", "10")
    assert code == 1
    assert output.strip().splitlines() == [
        "error: the ledger already has events; use --force to add the demo data anyway"
    ]


@pytest.mark.parametrize("args", [["rebuild", "nonsense"], ["run", "inventory", "nonsense"]])
def test_an_unknown_projection_is_a_clear_error(settings: Settings, args: list[str]) -> None:
    code, output = invoke(settings, "projections", *args)
    assert code == 1
    assert "unknown projection 'nonsense'; known: catalog, inventory," in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["mysql://nowhere/db", "postgresql://nobody@127.0.0.1:1/none"])
def test_an_unusable_database_url_is_one_line_and_non_zero(url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["projections", "status"], env={"ORDERLEDGER_DATABASE_URL": url}
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot open the ledger")

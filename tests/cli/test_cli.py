"""The orderledger command line on real SQLite and PostgreSQL: demo, status, rebuild, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import cli
from api.settings import Settings


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "ORDERLEDGER_DATABASE_URL": settings.database_url,
        "ORDERLEDGER_EVENTS_SCHEMA": settings.events_schema,
        "ORDERLEDGER_VIEWS_SCHEMA": settings.views_schema,
    }


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


def test_an_unknown_projection_is_a_clear_error(settings: Settings) -> None:
    code, output = invoke(settings, "projections", "rebuild", "nonsense")
    assert code == 1
    assert "unknown projection 'nonsense'" in output
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

"""`orderledger replay as-of` on real SQLite and PostgreSQL: tables, and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.runtime import open_runtime
from api.settings import Settings
from tests.cli.test_cli import invoke
from tests.integration.helpers import produce, seed_catalog


def seeded(settings: Settings) -> tuple[int, int]:
    """SKU-1 at WH1: 3 produced, then 4 more; the positions after each."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        first = produce(runtime.ledger, "SKU-1", "3", ref="MO-1").position
        second = produce(runtime.ledger, "SKU-1", "4", ref="MO-2").position
        return first, second
    finally:
        runtime.close()


def test_inventory_as_of_a_position_is_printed_as_a_table(settings: Settings) -> None:
    first, second = seeded(settings)
    code, output = invoke(settings, "replay", "as-of", "inventory", "--position", str(first))
    assert code == 0, output
    assert f"as known at position {first} of {second}" in output
    [row] = [line for line in output.splitlines() if "SKU-1" in line]
    assert [cell.strip() for cell in row.split("│")[1:7]] == ["SKU-1", "WH1", "3", "0", "0", "3"]
    code, output = invoke(settings, "replay", "as-of", "inventory", "--sku", "SKU-1")
    assert code == 0, output
    row = next(line for line in output.splitlines() if "SKU-1" in line)
    assert [cell.strip() for cell in row.split("│")][3] == "7"


def test_effective_inventory_orders_and_ageing_answer(settings: Settings) -> None:
    seeded(settings)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    code, output = invoke(settings, "replay", "as-of", "inventory", "--effective", past)
    assert code == 0, output
    assert f"effective {past}" in output
    assert "movements" in output
    code, output = invoke(settings, "replay", "as-of", "orders")
    assert code == 0, output
    assert "orders as known at position" in output
    code, output = invoke(settings, "replay", "as-of", "ageing", "--as-of-date", "2026-03-01")
    assert code == 0, output
    assert "ageing as known at position" in output


def test_bad_moments_are_one_line_and_exit_1(settings: Settings) -> None:
    _, second = seeded(settings)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = {
        (
            "--position",
            "0",
        ): f"error: position 0 is not in the log: positions run from 1 to {second}",
        ("--position", str(second + 1)): f"error: position {second + 1} is not in the log",
        ("--at", "2000-01-01T00:00:00+00:00"): "error: 2000-01-01T00:00:00+00:00 is before",
        ("--at", future): f"error: {future} is in the future",
        ("--at", "yesterday"): "error: --at 'yesterday' is not an ISO time",
        ("--at", "2024-01-01T00:00:00"): "error: --at '2024-01-01T00:00:00' must carry a time zone",
    }
    for args, message in cases.items():
        code, output = invoke(settings, "replay", "as-of", "inventory", *args)
        assert code == 1, (args, output)
        lines = output.strip().splitlines()
        assert len(lines) == 1, (args, output)
        assert lines[0].startswith(message), (args, output)
    code, output = invoke(settings, "replay", "as-of", "stock")
    assert code == 1
    assert output.strip() == "error: unknown model 'stock'; models are inventory, ageing, orders"

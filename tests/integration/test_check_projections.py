"""`audit check-projections` on real SQLite and PostgreSQL: every read model rebuilt at its
live position by its own projection code equals the live tables; an edited, deleted or added
read-model row is found, named by table, and exits 1 in the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.runtime import Runtime, notification_routing, read_models
from api.settings import Settings
from replay.check import check_projections
from replay.scratch import scratch_factory
from tests.cli.test_cli import invoke
from tests.conftest import command_meta as meta
from tests.integration.helpers import busy_day, seed_catalog, settle


def check(runtime: Runtime, *only: str) -> dict[str, int]:
    """Differing rows per table, of every read model (or `only` these)."""
    settings = runtime.settings
    projections = [
        p for p in read_models(None, notification_routing(settings)) if not only or p.name in only
    ]
    scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
    results = check_projections(runtime.ledger, runtime.store, runtime.runner, projections, scratch)
    assert {r.projection for r in results} == {p.name for p in projections}
    return {f"{r.projection}.{r.table}": r.differing for r in results}


@pytest.fixture
def busy(runtime: Runtime) -> Runtime:
    seed_catalog(runtime.ledger)
    busy_day(runtime.ledger)  # receipts, a reservation, a shipment, a transfer, a count…
    runtime.ledger.set_safety_stock(meta(), sku="SKU-2", warehouse="WH1", level="50")
    settle(runtime)  # the safety-stock follower raises a requisition: followers write too
    return runtime


def test_every_read_model_equals_a_replay_of_the_log(busy: Runtime) -> None:
    found = check(busy)

    assert {table for table, n in found.items() if n} == set(), found
    assert {"safety_stock.safety_alerts", "audit_chain.audit_chain"} <= set(found)
    with (
        busy.store.read() as cur
    ):  # the follower's requisition is in the live row the replay matched
        alerts = cur.execute("SELECT requisition_number FROM safety_alerts").fetchall()
    assert alerts
    assert all(str(a[0]).startswith("REQ-") for a in alerts)


def test_an_edited_row_is_found_in_its_table_and_nowhere_else(busy: Runtime) -> None:
    with busy.store.transaction() as cur:
        cur.execute(
            "UPDATE inventory_items SET physical = physical + 1"
            " WHERE sku = 'SKU-1' AND warehouse = 'WH1'"
        )

    found = check(busy, "inventory", "catalog")

    assert found["inventory.inventory_items"] == 2  # the live row, and the one it should be
    assert {k: n for k, n in found.items() if n} == {"inventory.inventory_items": 2}


def test_a_deleted_and_an_added_row_are_found(busy: Runtime) -> None:
    with busy.store.transaction() as cur:
        cur.execute(
            "DELETE FROM stock_movements WHERE position = (SELECT MIN(position) FROM"
            " stock_movements)"
        )
        cur.execute(
            "INSERT INTO warehouses (code, warehouse_id, name, address, registered_at)"
            " SELECT 'WH9', warehouse_id, 'Ghost', 'Nowhere', registered_at FROM warehouses"
            " WHERE code = 'WH1'"
        )

    found = check(busy, "inventory", "catalog")

    assert found["inventory.stock_movements"] == 1
    assert found["catalog.warehouses"] == 1


def test_the_cli_exits_1_naming_the_table_and_0_when_clean(
    busy: Runtime, settings: Settings
) -> None:
    code, output = invoke(settings, "audit", "check-projections", "--only", "inventory")
    assert code == 0, output
    assert "2 read-model tables of 1 read models equal a replay" in " ".join(output.split())

    with busy.store.transaction() as cur:
        cur.execute("UPDATE inventory_items SET locked = locked + 3 WHERE sku = 'SKU-2'")
    code, output = invoke(settings, "audit", "check-projections", "--only", "inventory")

    assert code == 1
    assert "inventory.inventory_items at position" in output
    assert output.strip().splitlines()[-1].startswith("error: 1 of 2 read-model tables differ")
    code, output = invoke(settings, "audit", "check-projections", "--only", "nonsense")
    assert code == 1
    assert "error: unknown read model 'nonsense'" in output


def test_the_demo_data_equals_a_replay_of_its_log(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo writes its bank statement under ./var on PostgreSQL
    code, output = invoke(settings, "demo", "--skus", "20")
    assert code == 0, output

    code, output = invoke(settings, "audit", "check-projections")

    assert code == 0, output
    assert "tables of 13 read models equal a replay" in " ".join(output.split())

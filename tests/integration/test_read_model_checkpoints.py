"""Read-model checkpoints on SQLite and PostgreSQL: as-of answers are the same with them,
without them, after deleting them, and when one is damaged or foreign (it is skipped)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.runtime import Runtime, open_runtime
from domain.exceptions import InvalidInput
from projections.inventory import InventoryProjection
from replay import answers
from replay.asof import MODELS, replay_as_of
from replay.checkpoint_files import SQLiteCheckpointStore
from replay.checkpoint_schemas import PostgresCheckpointStore
from replay.checkpoint_store import REGISTRY
from replay.model_checkpoints import build
from replay.moments import at_position
from replay.scratch import scratch_factory
from tests.conftest import drop_schemas, make_settings
from tests.integration.ar_data import customer, invoice, pay
from tests.integration.helpers import create_po, produce, seed_catalog

EFFECTIVE = datetime(2026, 1, 5, tzinfo=UTC)
DAY = date(2026, 3, 1)


def history(runtime: Runtime) -> int:
    """Stock movements (a back-dated receipt, a count), orders shipped and billed, payments."""
    ledger = runtime.ledger
    seed_catalog(ledger)
    produce(ledger, "SKU-1", "10")
    customer(ledger, "C-1", 30, "EUR")
    invoice(ledger, 1, "C-1", "100.00", date(2026, 1, 10))
    create_po(ledger, "PO-1", [("SKU-2", "6")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.receive_purchase_order(
        meta(), number="PO-1", lines={1: "6"}, effective_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    invoice(ledger, 2, "C-1", "200.00", date(2026, 2, 5))
    pay(ledger, "BANK-1", "INV-2026-000001", "100.00", date(2026, 2, 15))
    ledger.count_stock(meta(), sku="SKU-1", warehouse="WH1", counted="5", reason="cycle count")
    invoice(ledger, 3, "C-1", "50.00", date(2026, 2, 20))
    return ledger.head()


def meta() -> Any:
    from tests.conftest import command_meta

    return command_meta()


def scratch(runtime: Runtime) -> Any:
    s = runtime.settings
    return scratch_factory(s.postgres_conninfo() if s.is_postgres else None)


def answer(runtime: Runtime, position: int, *, checkpoints: bool = True) -> dict[str, Any]:
    """Every as-of answer at `position`, without the timing and checkpoint details."""
    ledger, store = runtime.ledger, (runtime.checkpoints if checkpoints else None)
    moment = at_position(ledger, position)
    reports = {
        "inventory": answers.inventory_as_of(ledger, scratch(runtime), moment, checkpoints=store),
        "effective": answers.inventory_as_of(
            ledger, scratch(runtime), moment, effective=EFFECTIVE, checkpoints=store
        ),
        "ageing": answers.ageing_as_of(
            ledger, scratch(runtime), moment, as_of=DAY, checkpoints=store
        ),
        "orders": answers.orders_as_of(ledger, scratch(runtime), moment, checkpoints=store),
    }
    return {name: {k: v for k, v in r.items() if k != "replay"} for name, r in reports.items()}


def build_all(runtime: Runtime, every: int) -> list[int]:
    made: list[int] = []
    for model in ("inventory", "orders", "receivables"):
        made += build(runtime.ledger, runtime.checkpoints, scratch(runtime), model, every).positions
    return made


def inventory_events(runtime: Runtime, after: int, upto: int) -> int:
    """The inventory model's own events in positions after…upto: what a replay folds."""
    topics = list(InventoryProjection().topics)
    found = runtime.ledger.recorder.select_notifications(
        start=after + 1, limit=upto, stop=upto, topics=topics
    )
    return len(found)


def used(runtime: Runtime, position: int) -> dict[str, Any]:
    moment = at_position(runtime.ledger, position)
    report = answers.inventory_as_of(
        runtime.ledger, scratch(runtime), moment, checkpoints=runtime.checkpoints
    )
    return dict(report["replay"])


def test_as_of_answers_are_the_same_with_without_and_after_deleting_checkpoints(
    runtime: Runtime,
) -> None:
    head = history(runtime)
    positions = [*range(1, head + 1, 3), head]
    without = {p: answer(runtime, p, checkpoints=False) for p in positions}
    assert build_all(runtime, 7)
    for position in positions:
        assert answer(runtime, position) == without[position], f"position {position}"
    replay = used(runtime, head)
    assert replay["checkpoint"] == head // 7 * 7
    assert replay["events_read"] == inventory_events(runtime, head // 7 * 7, head)
    assert replay["ignored_checkpoints"] == []
    assert runtime.checkpoints.delete() > 0
    assert runtime.checkpoints.list() == []
    assert used(runtime, head)["checkpoint"] is None
    for position in positions[::4]:
        assert answer(runtime, position) == without[position]


def test_building_is_incremental_and_skips_what_exists(runtime: Runtime) -> None:
    head = history(runtime)
    first = build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10, until=20)
    assert first.positions == [10, 20]
    again = build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    assert again.positions == list(range(30, head + 1, 10))
    # folded from the checkpoint at 20
    assert again.events_read == inventory_events(runtime, 20, again.positions[-1])
    assert [i.position for i in runtime.checkpoints.list()] == list(range(10, head + 1, 10))
    with pytest.raises(InvalidInput, match="positive"):
        build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 0)
    with pytest.raises(InvalidInput, match="unknown model"):
        build(runtime.ledger, runtime.checkpoints, scratch(runtime), "stock", 10)


def test_a_foreign_checkpoint_is_ignored_and_named(runtime: Runtime) -> None:
    head = history(runtime)
    expected = answer(runtime, head, checkpoints=False)
    build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    newest = head // 10 * 10
    _sql(runtime, f"UPDATE {{}}{REGISTRY} SET fingerprint = 'sha256:other' WHERE position = ?",
         (newest,))  # fmt: skip
    replay = used(runtime, head)
    assert replay["checkpoint"] == newest - 10
    [ignored] = replay["ignored_checkpoints"]
    assert ignored["position"] == newest
    assert "another version" in ignored["reason"]
    assert answer(runtime, head) == expected
    # The builder retires what it cannot trust and builds again from the start.
    rebuilt = build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    assert rebuilt.retired == 1
    assert rebuilt.positions == list(range(10, head + 1, 10))


def test_a_damaged_checkpoint_is_ignored_and_the_answer_is_unchanged(runtime: Runtime) -> None:
    head = history(runtime)
    expected = answer(runtime, head, checkpoints=False)
    build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    newest = head // 10 * 10
    _sql(runtime, "DROP TABLE {}inventory_items__c" + str(newest))
    replay = used(runtime, head)
    assert replay["checkpoint"] == newest - 10
    assert "unreadable" in replay["ignored_checkpoints"][0]["reason"]
    # A movement gone from the shared ledger: the checkpoint whose rows it was is skipped.
    _sql(runtime, "DELETE FROM {0}stock_movements WHERE position = (SELECT max(position)"
                  " FROM {0}stock_movements WHERE position <= ?)", (newest - 10,))  # fmt: skip
    replay = used(runtime, head)
    assert (replay["checkpoint"] or 0) < newest - 10
    assert any("ledger rows" in i["reason"] for i in replay["ignored_checkpoints"])
    assert answer(runtime, head) == expected


def test_an_unreadable_checkpoint_file_is_ignored(tmp_path: Path) -> None:
    """SQLite only: PostgreSQL keeps its checkpoints in a schema, not a file."""
    runtime = open_runtime(make_settings("sqlite", tmp_path), start_projections=False)
    try:
        _unreadable_file_is_ignored(runtime)
    finally:
        runtime.close()


def _unreadable_file_is_ignored(runtime: Runtime) -> None:
    head = history(runtime)
    expected = answer(runtime, head, checkpoints=False)
    build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    store = runtime.checkpoints
    assert isinstance(store, SQLiteCheckpointStore)
    store.path.write_bytes(b"not a database" * 100)
    replay = used(runtime, head)
    assert replay["checkpoint"] is None
    assert "unreadable" in replay["ignored_checkpoints"][0]["reason"]
    assert answer(runtime, head) == expected
    store.delete()
    assert not store.path.exists()


def test_checkpoints_live_apart_from_the_live_read_models(runtime: Runtime) -> None:
    history(runtime)
    build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    with runtime.store.read() as cur:
        if runtime.settings.is_postgres:
            names = cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (runtime.settings.views_schema,),
            ).fetchall()
        else:
            names = cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert not [n for (n,) in names if "__c" in n or n == REGISTRY]


def _sql(runtime: Runtime, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run `sql` in the checkpoint store, `{}` standing for its schema prefix."""
    store = runtime.checkpoints
    if isinstance(store, PostgresCheckpointStore):
        with psycopg.connect(store.conninfo, autocommit=True) as connection:
            connection.execute(sql.format(f'"{store.schema}".').replace("?", "%s"), params)
        return
    assert isinstance(store, SQLiteCheckpointStore)
    with sqlite3.connect(store.path) as connection:
        connection.execute(sql.format(""), params)


def test_old_positions_before_any_checkpoint_replay_from_the_start(runtime: Runtime) -> None:
    history(runtime)
    build(runtime.ledger, runtime.checkpoints, scratch(runtime), "inventory", 10)
    replay = used(runtime, 9)
    assert replay["checkpoint"] is None
    assert replay["events_read"] == inventory_events(runtime, 0, 9) > 0
    assert used(runtime, 10) | {"seconds": 0} == {
        **replay, "checkpoint": 10, "events_read": 0, "seconds": 0
    }  # fmt: skip


def test_the_server_takes_checkpoints_in_the_background_unless_the_interval_is_0(
    tmp_path: Path, store_kind: str
) -> None:
    on = make_settings(store_kind, tmp_path / "on", read_model_checkpoint_interval=6)
    running = open_runtime(on, start_projections=True, start_notifications=False)
    try:
        head = history(running)
        follower = running.checkpoint_follower
        assert follower is not None
        assert follower.run_once()  # one round, as the thread does every few seconds
        grid = list(range(6, head + 1, 6))
        assert [i.position for i in running.checkpoints.list() if i.model == "orders"] == grid
        assert follower.run_once() == []  # nothing due until the head moves on
    finally:
        running.close()
        if on.is_postgres:
            running.checkpoints.delete()
            drop_schemas(on)
    off = make_settings(store_kind, tmp_path / "off", read_model_checkpoint_interval=0)
    idle = open_runtime(off, start_projections=True, start_notifications=False)
    try:
        assert idle.checkpoint_follower is None
    finally:
        idle.close()
        if off.is_postgres:
            drop_schemas(off)


def test_every_table_of_every_model_is_the_same_row_for_row_from_a_checkpoint(
    runtime: Runtime,
) -> None:
    head = history(runtime)
    build_all(runtime, 5)
    for model, makers in MODELS.items():
        for position in (4, 5, 13, head):
            moment = at_position(runtime.ledger, position)
            seen = []
            for store in (runtime.checkpoints, None):
                replaying = replay_as_of(
                    runtime.ledger, scratch(runtime), model, moment, checkpoints=store
                )
                with replaying as replayed, replayed.read() as cur:
                    seen.append({
                        t: sorted(cur.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                        for make in makers for t in make.tables
                    })  # fmt: skip
            assert seen[0] == seen[1], f"{model} as of {position}"

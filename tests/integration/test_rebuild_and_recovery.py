"""Rebuilds give the live rows; a runner that dies mid-stream loses and repeats nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from api.runtime import Runtime
from domain.ledger import Ledger
from projections.inventory import InventoryProjection
from projections.runner import ProjectionRunner
from projections.store import Cursor
from tests.conftest import command_meta as meta
from tests.conftest import settings_json
from tests.integration.helpers import (
    assert_exactly_once,
    busy_day,
    catch_up_all,
    create_po,
    many_movements,
    produce,
    read_model,
    rows,
    settle,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("projection", ["inventory", "catalog", "purchasing"])
def test_a_rebuild_gives_the_same_rows_as_the_live_projection(
    runtime: Runtime, ledger: Ledger, projection: str
) -> None:
    busy_day(ledger)
    create_po(ledger, "PO-2", [("SKU-2", "4")])
    settle(runtime)
    live = read_model(runtime, projection)
    assert any(live.values())
    position = runtime.runner.position(projection)

    runtime.runner.rebuild(projection)

    assert read_model(runtime, projection) == live
    assert runtime.runner.position(projection) == position


def test_a_second_rebuild_after_more_events_matches_the_live_projection_again(
    runtime: Runtime, ledger: Ledger
) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    runtime.runner.rebuild("inventory")
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH2", order_ref="SO-9", quantity_="1")
    ledger.count_stock(meta(), sku="SKU-2", warehouse="WH1", counted="1", reason="recount")
    catch_up_all(runtime)
    live = read_model(runtime, "inventory")
    runtime.runner.rebuild("inventory")
    assert read_model(runtime, "inventory") == live
    assert_exactly_once(runtime, ledger)


def test_a_rebuild_while_the_live_projection_lags_includes_every_event(
    runtime: Runtime, ledger: Ledger
) -> None:
    busy_day(ledger)
    runtime.runner.catch_up("inventory", until=5)
    runtime.runner.rebuild("inventory")
    assert runtime.runner.position("inventory") == ledger.head()
    assert_exactly_once(runtime, ledger)


def test_events_written_and_projected_during_a_rebuild_are_in_the_switched_tables(
    runtime: Runtime, ledger: Ledger
) -> None:
    many_movements(ledger, rounds=4)
    runtime.runner.page_size = 5
    runtime.runner.rebuild_page_size = 5  # several shadow pages, with live writes between
    catch_up_all(runtime)
    written: list[int] = []

    def meanwhile(_position: int) -> None:
        """While the shadow fills, the live system keeps writing and projecting."""
        if len(written) < 3:
            n = len(written)
            outcome = produce(ledger, "SKU-1", "1", warehouse="WH2", ref=f"MO-LIVE-{n}")
            written.append(outcome.position)
            runtime.runner.catch_up("inventory")

    runtime.runner.rebuild("inventory", on_page=meanwhile)

    assert len(written) == 3
    assert runtime.runner.position("inventory") >= written[-1]
    runtime.runner.catch_up("inventory")
    assert_exactly_once(runtime, ledger)
    switched = read_model(runtime, "inventory")
    runtime.runner.rebuild("inventory")
    assert read_model(runtime, "inventory") == switched


class CrashingInventory(InventoryProjection):
    """Writes a page's rows, then dies before the page commits, on the Nth page."""

    def __init__(self, crash_on_page: int) -> None:
        super().__init__()
        self.crash_on_page = crash_on_page
        self.pages = 0

    def apply(self, cur: Cursor, events: Any) -> None:
        super().apply(cur, events)
        self.pages += 1
        if self.pages == self.crash_on_page:
            raise RuntimeError("simulated crash in the middle of a page")


def test_a_projection_that_fails_mid_stream_resumes_without_losing_or_repeating_events(
    runtime: Runtime, ledger: Ledger
) -> None:
    many_movements(ledger)
    crashing = ProjectionRunner(
        ledger, runtime.store, [CrashingInventory(crash_on_page=4)], page_size=7
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.catch_up("inventory")
    stopped_at = runtime.runner.position("inventory")
    assert 0 < stopped_at < ledger.head()
    # Three whole pages of 7 of its own events (only its topics are read); the fourth
    # rolled back.
    assert stopped_at == own_positions(ledger, InventoryProjection())[20]
    assert all(
        r["position"] <= stopped_at for r in rows(runtime, "SELECT position FROM stock_movements")
    )

    restarted = ProjectionRunner(ledger, runtime.store, [InventoryProjection()], page_size=7)
    restarted.catch_up("inventory")

    assert_exactly_once(runtime, ledger)
    resumed = read_model(runtime, "inventory")
    runtime.runner.rebuild("inventory")
    assert read_model(runtime, "inventory") == resumed


def own_positions(ledger: Ledger, projection: InventoryProjection) -> list[int]:
    """Log positions of the events the projection reads, in order."""
    notes = ledger.recorder.select_notifications(start=1, limit=ledger.head(), stop=ledger.head())
    return [n.id for n in notes if n.topic in projection.topics]


CHILD = """
import sys, time
from api.runtime import open_runtime
from api.settings import Settings
from projections.inventory import InventoryProjection

original = InventoryProjection.apply

def slow_apply(self, cur, events):
    original(self, cur, events)
    time.sleep(0.03)  # inside the page's transaction: the kill lands mid-page

InventoryProjection.apply = slow_apply
runtime = open_runtime(Settings.model_validate_json(sys.argv[1]), start_projections=False)
runtime.runner.page_size = 3
runtime.runner.catch_up("inventory")
print("finished", flush=True)
"""


def test_a_runner_process_killed_mid_stream_resumes_to_the_same_rows_as_a_rebuild(
    runtime: Runtime, ledger: Ledger
) -> None:
    many_movements(ledger, rounds=10)
    head = ledger.head()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, settings_json(runtime.settings)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while runtime.runner.position("inventory") < 12 and child.poll() is None:
            assert time.monotonic() < deadline, "the child runner made no progress"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    stopped_at = runtime.runner.position("inventory")
    assert 0 < stopped_at < head

    runtime.runner.catch_up("inventory")

    assert runtime.runner.position("inventory") == head
    assert_exactly_once(runtime, ledger)
    resumed = read_model(runtime, "inventory")
    runtime.runner.rebuild("inventory")
    assert read_model(runtime, "inventory") == resumed

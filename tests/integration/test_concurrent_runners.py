"""Two runners on one read model (two API workers, or a worker and a rebuild) at once."""

from __future__ import annotations

import threading

from api.runtime import Runtime, read_models
from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from tests.integration.helpers import (
    assert_exactly_once,
    busy_day,
    many_movements,
    num,
    rows,
    stored_events,
)


def race(runtime: Runtime, name: str, page_size: int) -> list[str]:
    """Two independent runners catch `name` up at the same moment; returns their errors."""
    runners = [
        ProjectionRunner(
            runtime.ledger, runtime.store, read_models(runtime.ledger), page_size=page_size
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def run(runner: ProjectionRunner) -> None:
        barrier.wait(30)
        try:
            runner.catch_up(name)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_two_runners_starting_on_an_empty_read_model_both_finish_and_apply_each_event_once(
    runtime: Runtime, ledger: Ledger
) -> None:
    busy_day(ledger)
    errors = race(runtime, "inventory", page_size=1000)
    assert errors == []
    assert runtime.runner.position("inventory") == ledger.head()
    assert_exactly_once(runtime, ledger)


def test_two_runners_racing_over_many_pages_apply_each_event_once(
    runtime: Runtime, ledger: Ledger
) -> None:
    many_movements(ledger, rounds=6)
    runtime.runner.catch_up("inventory", until=1)  # the tracking row exists from here on
    runtime.runner.catch_up("purchasing", until=1)
    assert race(runtime, "inventory", page_size=3) == []
    assert race(runtime, "purchasing", page_size=2) == []
    assert_exactly_once(runtime, ledger)
    lines = rows(runtime, "SELECT received FROM purchase_order_lines ORDER BY number, line_no")
    received = [e for _, e in stored_events(ledger) if type(e).__name__ == "GoodsReceived"]
    assert sum(num(r["received"]) for r in lines) == sum(
        sum(e.quantities.values()) for e in received
    )

"""A runner wakes when another process commits events (PostgreSQL LISTEN on the event store's
channel), instead of waiting for its next poll: what makes a read at a command's position
quick when the projections run in a worker process of their own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from tests.conftest import drop_schemas, make_settings
from tests.integration.helpers import produce, seed_catalog

NEVER = 600.0  # a poll interval no test outlives: only a wake-up can move the runner


@pytest.fixture
def slow_polling(tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings("postgres", tmp_path, projection_poll_seconds=NEVER)
    yield settings
    drop_schemas(settings)


@pytest.fixture
def writer(slow_polling: Settings) -> Iterator[Runtime]:
    """Another process's ledger, as far as the worker can tell: its saves wake nobody there."""
    opened = open_runtime(slow_polling, start_projections=False)
    seed_catalog(opened.ledger)
    yield opened
    opened.close()


def reaches(runtime: Runtime, position: int, timeout: float = 30.0) -> bool:
    """Whether inventory's tracking row reaches `position` (read, never waking the runner)."""
    deadline = time.monotonic() + timeout
    while runtime.runner.position("inventory") < position:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.postgres
def test_a_worker_folds_another_processes_commit_without_waiting_for_its_poll(
    slow_polling: Settings, writer: Runtime
) -> None:
    worker = open_runtime(slow_polling, start_projections=False)
    try:
        worker.runner.projections = {"inventory": worker.runner.projections["inventory"]}
        worker.start_projections()
        assert reaches(worker, writer.ledger.head())  # caught up, now asleep for NEVER s

        written = produce(writer.ledger, "SKU-1", "5")

        assert reaches(worker, written.position)
    finally:
        worker.close()


def test_listening_is_for_postgresql_and_can_be_turned_off(
    tmp_path: Path, subtests: pytest.Subtests
) -> None:
    with subtests.test("sqlite"):
        runtime = open_runtime(make_settings("sqlite", tmp_path), start_projections=False)
        assert runtime.log_wakeup is None
        runtime.close()
    with subtests.test("postgres, turned off"):
        settings = make_settings("postgres", tmp_path, projection_listen=False)
        runtime = open_runtime(settings, start_projections=False)
        try:
            assert runtime.log_wakeup is None
        finally:
            runtime.close()
            drop_schemas(settings)

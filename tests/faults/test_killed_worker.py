"""A projection worker killed with SIGKILL mid-page, five times over a stream of commands:
the read models still equal a fresh replay of the log."""

from __future__ import annotations

import pytest

from api.settings import Settings
from bench.faults.killed_worker import kill_projection_workers
from tests.faults.conftest import assert_held

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_workers_killed_mid_page_lose_and_repeat_nothing(
    settings: Settings, store_kind: str
) -> None:
    result = kill_projection_workers(settings, store_kind, kills=5)

    assert_held(result)
    assert result.trials == 5
    assert result.counts["kills mid-page"] >= 4  # a kill may rarely land as a page commits
    assert result.commands > 100
    assert result.recovery_seconds is not None

"""PostgreSQL restarted twice (cleanly, then as a crash) under the served API while clients
send reservations with Idempotency-Keys: successes are stored once, failures are 503s."""

from __future__ import annotations

import pytest

from bench.faults.postgres_restart import restart_postgres
from tests.faults.conftest import assert_held, require_root_and_initdb

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_a_restarted_database_loses_no_success_and_stores_no_key_twice() -> None:
    require_root_and_initdb()

    result = restart_postgres(restarts=2, clients=4)

    assert_held(result)
    assert result.trials == 2
    successes = result.counts["answered 2xx"] + result.counts["answered 2xx, replayed"]
    assert successes >= result.commands > 0
    answers = {"answered 2xx", "answered 2xx, replayed", "answered 503 store-unavailable"}
    assert set(result.counts) <= answers, result.counts
    assert result.recovery_seconds is not None
    assert result.recovery_seconds < 10

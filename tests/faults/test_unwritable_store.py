"""A store made read-only or full under the served API: commands fail with a clear problem
(503 read-only, 507 full) and change nothing, the CLI says why in one line, and the same keys
succeed once the store is writable again."""

from __future__ import annotations

import pytest

from bench.faults.storage import unwritable_store
from tests.faults.conftest import assert_held, require_root_and_initdb

pytestmark = [pytest.mark.faults, pytest.mark.slow]
COMMANDS = 5


@pytest.mark.parametrize(
    ("kind", "condition", "answer"),
    [
        ("sqlite", "read-only", {"answered 503 store-unavailable", "answered 503 store-read-only"}),
        ("sqlite", "full", {"answered 507 store-full"}),
        ("postgres", "read-only", {"answered 503 store-read-only"}),
        ("postgres", "full", {"answered 507 store-full"}),
    ],
)
def test_an_unwritable_store_refuses_clearly_changes_nothing_and_recovers(
    kind: str, condition: str, answer: set[str]
) -> None:
    require_root_and_initdb()

    result = unwritable_store(kind, condition, COMMANDS)

    assert_held(result)
    refusals = set(result.counts) - {"answered 2xx"}
    assert refusals, result.counts
    assert refusals <= answer, result.counts
    assert result.counts["answered 2xx"] == 3 + COMMANDS  # before, and every key once mended
    assert any(note.startswith("CLI: error: ") for note in result.notes), result.notes
    assert result.recovery_seconds is not None
    assert result.recovery_seconds < 10

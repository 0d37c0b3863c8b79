"""A snapshot is taken after a command's events are committed: a store failure while taking
it (a restart, a full disk) must not turn the stored command into an error, which the API
would answer as "503, nothing was stored" — a client without an Idempotency-Key would then
send it again."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError

from domain.ledger import Ledger
from domain.stock_items import StockItem
from tests.integration.helpers import produce, stored_events


def test_a_command_whose_snapshot_fails_after_the_commit_still_succeeds(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "snapshotting_intervals", {StockItem: 2})  # version 2: a snapshot
    assert ledger.snapshots is not None

    def store_gone(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ledger.snapshots, "put", store_gone)
    head = ledger.head()

    outcome = produce(ledger, "SKU-1", "7")

    assert outcome.position > head
    saved = [e for _, e in stored_events(ledger, head + 1)]
    assert [type(e).__name__ for e in saved] == ["Opened", "FinishedGoodsReceived"]
    assert ledger.stock_item("SKU-1", "WH1").physical == 7

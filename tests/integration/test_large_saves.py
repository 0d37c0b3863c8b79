"""Saves of thousands of events on PostgreSQL: the library's pipelined insert can deadlock
with psycopg on large saves (the client flushing, the server writing the returned ids), so
large saves go through `LargeSaveRecorder`'s plain path. These would hang without it."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from api.runtime import open_runtime
from domain.postgres_recorder import PIPELINE_LIMIT_EVENTS, LargeSaveRecorder
from domain.values import stable_id
from tests.conftest import drop_schemas, make_settings

pytestmark = pytest.mark.postgres


class Note(Aggregate):
    @staticmethod
    def create_id(key: str, text: str) -> UUID:
        return stable_id("large-save-note", key)

    def __init__(self, key: str, text: str) -> None:
        self.key = key
        self.text = text


@pytest.mark.parametrize(("count", "size"), [(20_000, 100), (4_000, 1_500)])
def test_a_save_of_thousands_of_events_is_stored_whole_and_in_order(
    tmp_path: Path, count: int, size: int
) -> None:
    settings = make_settings("postgres", tmp_path)
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        assert isinstance(ledger.recorder, LargeSaveRecorder)
        notes = [Note(f"n{i}", "x" * size) for i in range(count)]

        recordings = ledger.save(*notes)

        assert [r.notification.id for r in recordings] == list(range(1, count + 1))
        assert ledger.head() == count
        assert ledger.repository.get(notes[-1].id).text == "x" * size
        again = [Note(f"n{i}", "y") for i in range(count - 1, count + PIPELINE_LIMIT_EVENTS)]
        with pytest.raises(IntegrityError):  # one id taken: the whole save is refused
            ledger.save(*again)
        assert ledger.head() == count
    finally:
        runtime.close()
        drop_schemas(settings)

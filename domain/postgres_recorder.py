"""The library's PostgreSQL application recorder, with large saves sent outside pipeline mode.

The library inserts a save's events as one `INSERT … SELECT FROM unnest(%s) RETURNING
notification_id` inside a psycopg pipeline. With a large save (a bank statement of
thousands of lines: ~9,000 small events, or ~4,000 with long remittance texts) the client
and the server can both wait for the other for ever: the server blocked writing the
returned ids, the client blocked flushing the pipeline without reading them. Measured here
with psycopg 3.3.9 and the bare library alone (`Application.save` of 20,000 events hangs).

A save above `PIPELINE_LIMIT_EVENTS` events or `PIPELINE_LIMIT_BYTES` of state is sent the
plain way instead — the same statements (table lock, NOTIFY, the insert) in one
transaction, the statement sent in full before its results are read — so it cannot
deadlock. Small saves, the usual case, keep the library's pipelined path unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

PIPELINE_LIMIT_EVENTS = 1_000
PIPELINE_LIMIT_BYTES = 256 * 1024


class LargeSaveRecorder(PostgresApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions or (
            len(stored_events) <= PIPELINE_LIMIT_EVENTS
            and sum(len(e.state) for e in stored_events) <= PIPELINE_LIMIT_BYTES
        ):
            return super().insert_events(stored_events, **kwargs)
        return self._insert_unpipelined(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_unpipelined(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

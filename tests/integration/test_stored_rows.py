"""The stored log read as plain rows for the chain, on real SQLite and PostgreSQL: the same
fields the library reads, the id in its text form, so a chain linked from notifications
verifies from rows."""

from __future__ import annotations

import pytest

from api.runtime import Runtime
from replay import audit
from replay.chain import GENESIS, Linker, chain_links
from replay.chain_follower import ChainProjection
from replay.stored_rows import Row, row_pages
from tests.integration import tampering
from tests.integration.test_audit_chain import record


def rows_of(runtime: Runtime, *, page_size: int, prefetch: bool) -> list[Row]:
    recorder, head = runtime.ledger.recorder, runtime.ledger.head()
    pages = row_pages(recorder, stop=head, page_size=page_size, prefetch=prefetch)
    return [row for page in pages for row in page]


@pytest.mark.parametrize("prefetch", [False, True])
def test_rows_hold_the_fields_the_library_reads_with_the_id_as_text(
    runtime: Runtime, prefetch: bool
) -> None:
    record(runtime.ledger, 7)
    notes = runtime.ledger.recorder.select_notifications(start=1, limit=100)
    rows = rows_of(runtime, page_size=3, prefetch=prefetch)
    expected = [(n.id, n.topic, str(n.originator_id), n.originator_version, n.state) for n in notes]
    assert rows == expected
    assert all(len(row[2]) == 36 and row[2] == row[2].lower() for row in rows)
    linked_from_rows = Linker().link_rows(rows).rows()
    assert linked_from_rows == chain_links(notes, GENESIS)


def test_pages_run_after_a_position_up_to_the_stop_across_gaps(runtime: Runtime) -> None:
    record(runtime.ledger, 6)
    tampering.move(runtime.settings, 4, 9)  # a gap at 4, as PostgreSQL leaves them
    pages = list(row_pages(runtime.ledger.recorder, after=2, stop=9, page_size=2))
    assert [[row[0] for row in page] for page in pages] == [[3, 5], [6, 9]]
    assert list(row_pages(runtime.ledger.recorder, after=9, stop=9)) == []


def test_an_id_respelled_in_the_store_is_caught_where_the_store_keeps_the_spelling(
    runtime: Runtime,
) -> None:
    record(runtime.ledger, 4)
    runtime.runner.catch_up(ChainProjection.name)
    if runtime.settings.is_postgres:  # a uuid column: any spelling is stored as the same id
        statement = "UPDATE {events} SET originator_id = upper(originator_id::text)::uuid"
    else:  # text: the library wrote 32 lower-case hex digits
        statement = "UPDATE {events} SET originator_id = upper(originator_id)"
    tampering.tamper(runtime.settings, statement + " WHERE {id} = ?", (3,))
    finding = audit.verify_log(runtime.ledger, runtime.store).finding
    if runtime.settings.is_postgres:
        assert finding is None
    else:
        assert finding is not None
        assert (finding.kind, finding.position) == ("changed", 3)

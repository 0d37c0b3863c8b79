"""Rebuilding every read model in one pass over the log gives exactly the tables that each
projection gives on its own, on real SQLite and PostgreSQL: the pass reads each page once,
selects only the topics the projections read, and hands every projection its own events."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from api.runtime import Runtime, notification_routing, read_models
from bench.mixed_log import generate_mixed_log
from replay.check import _rows, check_projections
from replay.scratch import scratch_factory
from tests.conftest import command_meta as meta
from tests.integration.helpers import settle


@pytest.fixture
def company(runtime: Runtime) -> Runtime:
    """Orders through every stage, stock bought and counted, invoices paid, and a
    safety-stock alert with its requisition; every read model caught up one by one."""
    generate_mixed_log(runtime.settings, 800, skus=12)
    runtime.ledger.set_safety_stock(meta(), sku="MX-0001", warehouse="WH1", level="5000")
    settle(runtime)  # the follower's requisition is an event the others read too
    return runtime


def tables(runtime: Runtime) -> dict[str, Counter[tuple[Any, ...]]]:
    found = {}
    for projection in runtime.runner.projections.values():
        for base in projection.tables:
            found[base] = Counter(_rows(runtime.store, projection.t(base)))
    return found


@pytest.mark.parametrize("page_size", [1000, 25])
def test_one_pass_gives_the_tables_each_projection_gives_alone(
    company: Runtime, page_size: int
) -> None:
    before, head = tables(company), company.ledger.head()
    assert sum(len(rows) for rows in before.values()) > 500
    company.runner.rebuild_page_size = page_size

    folded = company.runner.rebuild_all()

    assert tables(company) == before
    assert set(folded) == set(company.runner.projections)
    assert folded["audit_chain"] == head  # the raw chain reads every notification
    assert 0 < folded["orders"] < head  # the others only their own topics
    assert {s.name: s.position for s in company.runner.status()} == dict.fromkeys(
        company.runner.projections, head
    )


def test_rebuilt_tables_equal_a_replay_of_each_projection_at_its_position(
    company: Runtime,
) -> None:
    company.runner.rebuild_all()

    settings = company.settings
    scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
    projections = read_models(None, notification_routing(settings))
    results = check_projections(
        company.ledger, company.store, company.runner, projections, scratch, page_size=50
    )
    assert {r.projection for r in results} == {p.name for p in projections}
    assert [f"{r.projection}.{r.table}" for r in results if not r.ok] == []


def test_a_projection_whose_events_stopped_long_ago_still_reaches_the_head(
    company: Runtime,
) -> None:
    """Its pages come back short of its own events: the position moves on to where the
    select stopped, not to its last event."""
    catalog = company.runner.projections["catalog"]
    notes = company.ledger.recorder.select_notifications(start=1, limit=10**6)
    last_own = max(n.id for n in notes if n.topic in catalog.topics)
    assert last_own < company.ledger.head()
    company.runner.rebuild("catalog")
    assert company.runner.position("catalog") == company.ledger.head()


def indexes_of(runtime: Runtime, table: str) -> set[str]:
    with runtime.store.read() as cur:
        if cur.dialect == "postgres":
            cur.execute(
                "SELECT indexname FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = ?",
                (table,),
            )
        else:
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                " AND sql IS NOT NULL",  # not the automatic ones of primary keys
                (table,),
            )
        found = {row[0] for row in cur.fetchall()}
    # Only the projections' declared indexes (not those of primary keys or UNIQUE columns).
    declared = {i.name for p in runtime.runner.projections.values() for i in p.indexes}
    return {name for name in found if name.removesuffix("__shadow") in declared}


def test_shadow_tables_fill_with_their_lookup_indexes_and_switch_with_every_index(
    company: Runtime,
) -> None:
    """A shadow table has only the indexes its projection's own writes look rows up by
    while it fills; the others are built once it is full, under their live names."""
    projections = company.runner.projections.values()
    during: dict[str, set[str]] = {}

    def look(_position: int) -> None:
        for projection in projections:
            for base in projection.tables:
                during[base] = indexes_of(company, f"{base}__shadow")

    company.runner.rebuild_page_size = 200
    company.runner.rebuild_all(on_page=look)

    for projection in projections:
        lookups = {i.name + "__shadow" for i in projection.indexes if i.lookup}
        for base in projection.tables:
            declared = [i for i in projection.indexes if i.table == base]
            assert during[base] == {i.name + "__shadow" for i in declared} & lookups
            assert indexes_of(company, base) == {i.name for i in declared}
    assert any(index.lookup for p in projections for index in p.indexes)
    assert any(not index.lookup for p in projections for index in p.indexes)

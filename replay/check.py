"""`audit check-projections`: every read model rebuilt at the live position by the same
projection code into a scratch store, and compared with the live tables row for row.

A live row the replay does not produce, or a replayed row the live table lacks, is a
finding: someone edited a read model, or a projection applied an event twice or skipped one.
The live position is read before and after the live rows; if the live projection moved in
between (a running API), that model is read again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import Application

from projections.base import Projection
from projections.deliveries import create_delivery_tables
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from replay.scratch import ScratchFactory

ATTEMPTS = 3
SHOWN = 3  # differing rows shown per table


@dataclass(frozen=True)
class TableCheck:
    projection: str
    table: str
    position: int
    live_rows: int
    replayed_rows: int
    only_live: list[tuple[Any, ...]]  # up to SHOWN of each
    only_replayed: list[tuple[Any, ...]]
    differing: int  # rows in one and not the other, counted with multiplicity

    @property
    def ok(self) -> bool:
        return self.differing == 0


def check_projections(
    app: Application,  # type: ignore[type-arg]
    live: ViewStore,
    live_runner: ProjectionRunner,
    projections: list[Projection],
    scratch: ScratchFactory,
    *,
    page_size: int = 1000,
    on_checked: Callable[[TableCheck], None] | None = None,
) -> list[TableCheck]:
    """Each projection (fresh instances that never act: the safety-stock follower without
    a ledger) replayed up to its live position and compared table by table."""
    results: list[TableCheck] = []
    for projection in projections:
        for check in _check(app, live, live_runner, projection, scratch, page_size):
            results.append(check)
            if on_checked:
                on_checked(check)
    return results


def _check(
    app: Application,  # type: ignore[type-arg]
    live: ViewStore,
    live_runner: ProjectionRunner,
    projection: Projection,
    scratch: ScratchFactory,
    page_size: int,
) -> Iterator[TableCheck]:
    name = projection.name
    for _ in range(ATTEMPTS):
        position = live_runner.position(name)
        live_rows = {base: _rows(live, projection.t(base)) for base in projection.tables}
        if live_runner.position(name) == position:
            break
    with scratch() as store:
        if name == "outbox":  # its deliveries live beside it (sent or not: not replayed)
            with store.transaction() as cur:
                create_delivery_tables(cur, 0)
        runner = ProjectionRunner(app, store, [projection], page_size=page_size)
        try:
            runner.setup()
            runner.catch_up(name, until=position)
        finally:
            runner.stop()
        for base, rows in live_rows.items():
            replayed = _rows(store, projection.t(base))
            only_live, only_replayed = Counter(rows), Counter(replayed)
            only_live.subtract(replayed)
            only_replayed.subtract(rows)
            extra = [row for row, n in only_live.items() if n > 0]
            missing = [row for row, n in only_replayed.items() if n > 0]
            yield TableCheck(
                name, projection.t(base), position, len(rows), len(replayed),
                sorted(extra, key=repr)[:SHOWN], sorted(missing, key=repr)[:SHOWN],
                sum(n for n in only_live.values() if n > 0)
                + sum(n for n in only_replayed.values() if n > 0),
            )  # fmt: skip


def _rows(store: ViewStore, table: str) -> list[tuple[Any, ...]]:
    with store.read() as cur:
        rows = cur.execute(f"SELECT * FROM {table}").fetchall()
    return [tuple(_plain(v) for v in row) for row in rows]


def _plain(value: Any) -> Any:
    """Comparable across the two stores' drivers: exact decimals without trailing zeros,
    times as instants."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, memoryview):
        return bytes(value)
    return value

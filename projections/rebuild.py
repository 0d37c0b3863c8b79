"""Rebuilding read models from position 0: shadow tables filled in one pass, then switched.

Each projection gets shadow tables (`<table>__shadow`), with only the indexes its `apply`
looks rows up by, and a shadow tracking row; the live tables keep serving meanwhile. One
pass over the log fills every shadow: each page is selected once (the union of the
projections' topics, or everything when the hash chain is among them), each event decoded
once, and every projection handed its own events in one transaction that advances every
shadow position. Rebuilding the projections one after the other instead would select and
decode the whole log once per projection.

The switch is per projection, in one transaction: whatever the live projection processed
while the shadow filled is applied to the shadow too, the live tables are dropped and the
shadow ones renamed, every declared index is built on them (a sort of the finished table,
cheaper than keeping it current through the fill), and the live tracking row takes the
shadow's position.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from eventsourcing.persistence import Notification

from domain.exceptions import RuleViolation
from projections.base import PositionedEvent, Projection
from projections.runner import ProjectionRunner, read_topics
from projections.store import Cursor

SHADOW = "__shadow"


def rebuild(
    runner: ProjectionRunner,
    names: Sequence[str],
    *,
    on_page: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Rebuild `names` from position 0 and switch each over; events folded per name."""
    unknown = [name for name in names if name not in runner.projections]
    if unknown:
        raise KeyError(f"unknown projection {unknown[0]!r}")
    _refuse_dependents(runner, [runner.projections[name] for name in names])
    shadows = {name + SHADOW: runner.projections[name].with_suffix(SHADOW) for name in names}
    _prepare(runner, shadows)
    with _fewer_collections():
        folded = fill(runner, shadows, until=runner.head(), on_page=on_page)
    for name in names:
        _switch(runner, name, shadows[name + SHADOW])
    return {name: folded[name + SHADOW] for name in names}


@contextmanager
def _fewer_collections(allocations: int = 50_000) -> Iterator[None]:
    """Run the youngest garbage collection every `allocations` net allocations instead of
    Python's default 700. Decoding a page allocates hundreds of thousands of objects that
    live until the page is written, and each collection walks all of them: measured over a
    100,000-event log, the default threshold took a fifth of the rebuild's CPU time (the
    decoding's share of it halved). The threshold is the process's own; it is put back."""
    before = gc.get_threshold()
    gc.set_threshold(allocations, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# Views (plain or materialised) and foreign keys of other tables that rest on a table: the
# switch drops the live table, which PostgreSQL refuses while they exist.
_DEPENDENTS = """
SELECT DISTINCT n.nspname || '.' || c.relname AS dependent, t.relname AS used
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = d.refobjid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(?)
  AND c.oid <> t.oid
UNION
SELECT DISTINCT n.nspname || '.' || c.relname, t.relname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = k.confrelid
WHERE k.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
  AND t.relname = ANY(?) AND c.oid <> t.oid
ORDER BY 1, 2
"""


def _refuse_dependents(runner: ProjectionRunner, projections: Sequence[Projection]) -> None:
    """Refuse, before any work, to rebuild tables that others' views or foreign keys rest on
    (SQLite resolves views by name when they are read: nothing rests on a table there)."""
    if runner.store.dialect != "postgres":
        return
    tables = [projection.t(base) for projection in projections for base in projection.tables]
    with runner.store.read() as cur:
        found = cur.execute(_DEPENDENTS, (tables, tables)).fetchall()
    if found:
        named = ", ".join(f"{dependent} (on {used})" for dependent, used in found)
        raise RuleViolation(
            f"cannot rebuild: {named} rest on the read-model tables; a rebuild replaces those"
            " tables, so drop them first and create them again afterwards",
            rule="rebuild-blocked",
        )


def _prepare(runner: ProjectionRunner, shadows: dict[str, Projection]) -> None:
    with runner.store.transaction() as cur:
        for shadow_name, shadow in shadows.items():
            shadow.drop_tables(cur)
            shadow.create_tables(cur, lookups_only=True)
            cur.execute("DELETE FROM projection_tracking WHERE name = ?", (shadow_name,))
            runner.ensure_tracking_row(cur, shadow_name)


def fill(
    runner: ProjectionRunner,
    projections: dict[str, Projection],
    *,
    until: int,
    on_page: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Fold the log up to `until` into projections that all start at position 0, reading
    and decoding each page once; events folded per projection.

    Pages are the runner's rebuild size, and their transactions commit without waiting for
    the disk (a crash only loses shadow pages, which a new rebuild fills again from 0; the
    switch commits normally)."""
    topics = read_topics(projections.values())
    names = sorted(projections)
    size = runner.rebuild_page_size
    folded = dict.fromkeys(projections, 0)
    position = 0
    pending = runner.fetch(position, until, topics, size)
    while position < until:
        notifications = pending.result()
        last = runner.page_end(notifications, until, size)
        if last < until:
            pending = runner.fetch(last, until, topics, size)
        handed = _hand_out(runner, projections, notifications)
        with runner.store.transaction(synchronous=False) as cur:
            _claim(runner, cur, names, position)
            for name, projection in projections.items():
                projection.apply(cur, handed[name])
                folded[name] += len(handed[name])
            _advance(cur, names, position, last)
        position = last
        if on_page:
            on_page(position)
    return folded


def _claim(runner: ProjectionRunner, cur: Cursor, names: list[str], position: int) -> None:
    """Lock every shadow's tracking row (one statement) and check it is where we left it."""
    marks = ",".join("?" * len(names))
    found = dict(
        cur.execute(
            f"SELECT name, position FROM projection_tracking WHERE name IN ({marks})"
            + runner.store.lock_tracking_sql(),
            names,
        ).fetchall()
    )
    for name in names:
        if int(found.get(name, 0)) != position:
            raise RuntimeError(f"{name} was moved by someone else during its rebuild")


def _advance(cur: Cursor, names: list[str], position: int, last: int) -> None:
    """Move every shadow from `position` to `last` in one statement."""
    marks = ",".join("?" * len(names))
    cur.execute(
        f"UPDATE projection_tracking SET position = ?, updated_at = ?"
        f" WHERE name IN ({marks}) AND position = ?",
        (last, datetime.now(UTC), *names, position),
    )
    if cur.rowcount != len(names):
        raise RuntimeError(f"a shadow's tracking position would not move to {last}")


def _hand_out(
    runner: ProjectionRunner,
    projections: dict[str, Projection],
    notifications: Sequence[Notification],
) -> dict[str, list[PositionedEvent]]:
    """Each projection's events of the page, every notification decoded at most once and
    appended to the lists of the projections that read its topic (one lookup per event,
    not one scan of the page per projection)."""
    handed: dict[str, list[PositionedEvent]] = {name: [] for name in projections}
    readers: dict[str, list[list[PositionedEvent]]] = {}
    raw: list[PositionedEvent] | None = None
    for name, projection in projections.items():
        if projection.raw:
            raw = runner.raw_events(notifications) if raw is None else raw
            handed[name] = raw
            continue
        for topic in projection.topics:
            readers.setdefault(topic, []).append(handed[name])
    decode = runner.app.mapper.to_domain_event
    for notification in notifications:
        lists = readers.get(notification.topic)
        if lists:
            positioned = (notification.id, decode(notification))
            for events in lists:
                events.append(positioned)
    return handed


def _switch(runner: ProjectionRunner, name: str, shadow: Projection) -> None:
    live = runner.projections[name]
    shadow_name = name + SHADOW
    with runner.store.transaction() as cur:
        live_position = runner.locked_position(cur, name)
        position = runner.locked_position(cur, shadow_name)
        if live_position > position:
            notes = runner.app.recorder.select_notifications(
                start=position + 1,
                limit=live_position - position,
                stop=live_position,
                topics=_topics(shadow),
            )
            shadow.apply(cur, runner.events_for(shadow, notes))
            position = live_position
        live.drop_tables(cur)
        shadow.rename_tables(cur, live.suffix)
        cur.execute("DELETE FROM projection_tracking WHERE name = ?", (shadow_name,))
        cur.execute(
            "UPDATE projection_tracking SET position = ?, updated_at = ? WHERE name = ?",
            (position, datetime.now(UTC), name),
        )
        if cur.rowcount == 0 and position > 0:
            runner.record_position(cur, name, position)


def _topics(projection: Projection) -> list[str]:
    return [] if projection.raw else sorted(projection.topics)

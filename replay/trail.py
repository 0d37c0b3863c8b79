"""The audit trail: who did what, when — the log filtered by actor, role, aggregate, event
type and a range of positions or recorded times.

Filters on what the database can see are pushed down: event types and aggregate types become
the `topics` of `select_notifications`, and a time range becomes a position range by
`replay/moments.py`'s binary search, so only that part of the log is read. Actor and role
live in each event's metadata, inside its stored state, so those filters decode the events
in range. Pages are streamed (never the whole log in memory) with keyset pagination: `after`
a position, `limit` entries, and the last entry's position as the next cursor.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.exceptions import InvalidInput, NotFound
from replay.history import (
    Entry,
    aggregate_classes,
    creation_key,
    entry,
    event_types,
    notifications,
)
from replay.moments import at_position, at_time, head

MAX_LIMIT = 1000


@dataclass(frozen=True)
class TrailFilter:
    """A resolved trail question: positions `start`…`stop`, topics (empty: every topic)."""

    start: int
    stop: int
    topics: tuple[str, ...] = ()
    aggregate_ids: frozenset[UUID] | None = None
    key: str | None = None  # the business key asked for, shown on its entries
    actor: str | None = None
    role: str | None = None
    nothing: bool = False  # the filters exclude every event (e.g. a type of another aggregate)

    def keeps(self, found: Entry) -> bool:
        return (self.actor is None or found.actor == self.actor) and (
            self.role is None or found.role == self.role
        )


def resolve_filter(
    app: Any,
    *,
    now: datetime,
    actor: str | None = None,
    role: str | None = None,
    aggregate: str | None = None,
    types: list[str] | None = None,
    from_position: int | None = None,
    to_position: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
) -> TrailFilter:
    """Check and resolve every filter; bad input raises InvalidInput / NotFound."""
    start, stop = _range(app, now, from_position, to_position, from_time, to_time)
    topics = _topics(types or [])
    found = TrailFilter(start, stop, topics, actor=actor, role=role)
    if aggregate:
        found = _aggregate(app, found, aggregate)
    return found


def _range(
    app: Any,
    now: datetime,
    from_position: int | None,
    to_position: int | None,
    from_time: datetime | None,
    to_time: datetime | None,
) -> tuple[int, int]:
    for a, b, what in ((from_position, from_time, "from"), (to_position, to_time, "to")):
        if a is not None and b is not None:
            raise InvalidInput(
                f"give a {what} position or a {what} time, not both", rule="two-moments"
            )
    last = at_position(app, head(app) or 1).head  # refuses an empty log
    start = at_position(app, from_position).position if from_position is not None else 1
    stop = at_position(app, to_position).position if to_position is not None else last
    if from_time is not None:
        start = _first_recorded_from(app, from_time, now)
    if to_time is not None:
        stop = at_time(app, to_time, now).position
    if from_time is not None and to_time is not None and from_time >= to_time:
        raise InvalidInput(
            f"the range is empty: {from_time.isoformat()} is not before {to_time.isoformat()}",
            rule="empty-range",
        )
    if start > stop:
        raise InvalidInput(
            f"the range is empty: from {start} is after to {stop}", rule="empty-range"
        )
    return start, stop


def _first_recorded_from(app: Any, when: datetime, now: datetime) -> int:
    """The first position recorded at or after `when` (events at exactly `when` are in)."""
    at_time(app, when, now)  # refuses a time before the first event or in the future
    try:
        return at_time(app, when - timedelta(microseconds=1), now).position + 1
    except InvalidInput:  # `when` is the first event's own time
        return 1


def _topics(types: list[str]) -> tuple[str, ...]:
    known = event_types()
    topics = set(known.values())
    chosen = []
    for name in types:
        if name in known:
            chosen.append(known[name])
        elif name in topics:
            chosen.append(name)
        else:
            raise InvalidInput(
                f"unknown event type {name!r}; event types are named like SalesOrder.Shipped"
                " (see `orderledger audit event-types`)",
                rule="unknown-event-type",
            )
    return tuple(sorted(set(chosen)))


def _aggregate(app: Any, found: TrailFilter, spec: str) -> TrailFilter:
    """`SalesOrder` (a type), `SalesOrder:SO-1` (a type and a key), `SO-1`, `SKU-1@WH1` or an
    aggregate id."""
    kind, _, key = spec.partition(":") if ":" in spec else ("", "", spec)
    classes = aggregate_classes()
    if not kind and spec in classes:
        kind, key = spec, ""
    if kind and kind not in classes:
        raise InvalidInput(
            f"unknown aggregate type {kind!r}; types are {', '.join(classes)}",
            rule="unknown-aggregate-type",
        )
    if kind:
        own = tuple(t for n, t in event_types().items() if n.startswith(kind + "."))
        topics = tuple(sorted(set(own) & set(found.topics))) if found.topics else own
        found = replace(found, topics=topics, nothing=not topics)
    if not key:
        return found
    ids = _ids_for(app, key, [kind] if kind else list(classes))
    if not ids:
        what = f"{kind} {key!r}" if kind else f"anything known as {key!r}"
        raise NotFound(f"the log has no {what}")
    return replace(found, aggregate_ids=frozenset(ids), key=key)


def _ids_for(app: Any, key: str, kinds: list[str]) -> set[UUID]:
    """The ids of aggregates of `kinds` that `key` names and that have events."""
    candidates: set[UUID] = set()
    with contextlib.suppress(ValueError):
        candidates.add(UUID(key))
    parts = key.split("@") if "@" in key else [key]
    for kind in kinds:
        make = getattr(aggregate_classes()[kind], "create_id", None)
        if make is not None and len(inspect.signature(make).parameters) == len(parts):
            candidates.add(make(*parts))
    return {c for c in candidates if app.recorder.select_events(c, limit=1)}


def entries(app: Any, trail: TrailFilter, *, after: int = 0) -> Iterator[Entry]:
    """Every entry the filter keeps after position `after`, streamed page by page."""
    if trail.nothing:
        return
    keys: dict[UUID, str | None] = {}
    for notification in notifications(app, max(trail.start, after + 1), trail.stop, trail.topics):
        if (
            trail.aggregate_ids is not None
            and notification.originator_id not in trail.aggregate_ids
        ):
            continue
        found = entry(notification.id, app.mapper.to_domain_event(notification))
        if found.business_key is not None:
            keys.setdefault(found.aggregate_id, found.business_key)
        if not trail.keeps(found):
            continue
        if found.aggregate_id not in keys:  # created before the range: ask its first event
            keys[found.aggregate_id] = creation_key(app, found.aggregate_id)
        yield replace(found, business_key=found.business_key or keys[found.aggregate_id])


def page(app: Any, trail: TrailFilter, *, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """At most `limit` entries after `after`; `next` is the cursor for the next page (None at
    the end of the range)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 … {MAX_LIMIT}, got {limit}", rule="bad-limit")
    found: list[Entry] = []
    for each in entries(app, trail, after=after):
        found.append(each)
        if len(found) == limit:
            break
    more = len(found) == limit and found[-1].position < trail.stop
    return {
        "entries": [e.as_dict() for e in found],
        "next": found[-1].position if more else None,
        "range": {"from_position": trail.start, "to_position": trail.stop},
    }

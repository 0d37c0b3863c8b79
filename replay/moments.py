"""Moments in the log: a position, or the position a recorded time falls on.

Positions are the log's only total order. A recorded time is the `timestamp` of an event,
kept inside its stored state, so mapping a time to a position reads single notifications:
a binary search over positions costs about log2(head) one-row selects and decodes, never a
pass over the whole log.

The rule: *as known at R* is the log up to the last position whose event was recorded at or
before R (events recorded at exactly R are included). The search assumes recorded times do
not decrease along the log, which holds between saves of one writer. Two places bend it,
both by about the duration of one save: the events of one save are stamped when each is
triggered but stored aggregate by aggregate, and concurrent writers stamp events before
they take the table lock. A time R inside such a window may fall on either side of it; a
position is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from domain.exceptions import InvalidInput


@dataclass(frozen=True)
class Moment:
    """A prefix of the log: every event at or before `position`."""

    position: int
    head: int
    recorded_at: datetime | None  # recorded time of the last event at or before `position`
    asked: str  # what was asked, for messages and reports

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "head": self.head,
            "recorded_at": self.recorded_at,
            "asked": self.asked,
        }


def head(app: Any) -> int:
    return int(app.recorder.max_notification_id() or 0)


def _first_from(app: Any, position: int, stop: int | None = None) -> Notification | None:
    """The first notification at or after `position` (positions can have gaps)."""
    found = app.recorder.select_notifications(start=position, limit=1, stop=stop)
    return found[0] if found else None


def _last_up_to(app: Any, position: int) -> Notification | None:
    """The notification at `position`, or the last one before it when `position` is a gap."""
    low = max(1, position - 64)
    while True:
        found = app.recorder.select_notifications(start=low, limit=64, stop=position)
        if found:
            return found[-1]
        if low == 1:
            return None
        low = max(1, low - 64)


def recorded_at(notification: Notification, app: Any) -> datetime:
    stamp = app.mapper.to_domain_event(notification).timestamp
    assert isinstance(stamp, datetime)
    return stamp


def at_position(app: Any, position: int) -> Moment:
    """The log up to `position`, which must lie between 1 and the head."""
    last = _require_log(app)
    if not 1 <= position <= last:
        raise InvalidInput(
            f"position {position} is not in the log: positions run from 1 to {last}",
            rule="unknown-position",
        )
    found = _last_up_to(app, position)
    when = recorded_at(found, app) if found is not None else None
    return Moment(position, last, when, f"position {position}")


def at_time(app: Any, when: datetime, now: datetime) -> Moment:
    """The log as known at recorded time `when`: up to the last event recorded by then."""
    if when.tzinfo is None:
        raise InvalidInput("the time must carry a time zone offset (e.g. 2024-05-03T12:00Z)")
    last = _require_log(app)
    if when > now:
        raise InvalidInput(
            f"{when.isoformat()} is in the future (now is {now.isoformat()})", rule="future-time"
        )
    first = _first_from(app, 1)
    assert first is not None
    first_at = recorded_at(first, app)
    if when < first_at:
        raise InvalidInput(
            f"{when.isoformat()} is before the first event (recorded {first_at.isoformat()})",
            rule="before-first-event",
        )
    position, stamp = _search(app, when, first.id, first_at, last)
    return Moment(position, last, stamp, f"recorded time {when.isoformat()}")


def _search(
    app: Any, when: datetime, low: int, low_at: datetime, last: int
) -> tuple[int, datetime]:
    """Binary search: `low` is a stored position recorded at or before `when`; every stored
    position at or after `high` was recorded after it."""
    high = last + 1
    while low + 1 < high:
        middle = (low + high) // 2
        probe = _first_from(app, middle, stop=high - 1)
        if probe is None:  # only a gap between middle and high
            high = middle
            continue
        stamp = recorded_at(probe, app)
        if stamp <= when:
            low, low_at = probe.id, stamp
        else:
            high = middle
    return low, low_at


def _require_log(app: Any) -> int:
    last = head(app)
    if last == 0:
        raise InvalidInput("the log is empty: there is no moment to replay", rule="empty-log")
    return last


def resolve(app: Any, *, position: int | None, at: datetime | None, now: datetime) -> Moment:
    """The moment asked for: a position, a recorded time, or (neither) the log as it is."""
    if position is not None and at is not None:
        raise InvalidInput("give a position or a recorded time, not both", rule="two-moments")
    if position is not None:
        return at_position(app, position)
    if at is not None:
        return at_time(app, at, now)
    return at_position(app, _require_log(app))

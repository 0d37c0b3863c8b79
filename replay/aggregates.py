"""An aggregate as of a log position: the version it had then, rebuilt by the library.

The position → version map reads the log's notifications up to the position (only the
aggregate's own event topics, and without decoding them): the last one of this aggregate
gives its version, and `repository.get(id, version=…)` rebuilds it from its own events
(from a snapshot at or below that version where there is one).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.exceptions import NotFound
from replay.moments import Moment

PAGE = 5000


def event_topics(aggregate_class: type) -> tuple[str, ...]:
    """The topics of every event class defined on an aggregate class."""
    found = {
        get_topic(value)
        for name in dir(aggregate_class)
        if isinstance(value := getattr(aggregate_class, name, None), type)
        and issubclass(value, CanMutateAggregate)
    }
    return tuple(sorted(found))


def version_at(app: Any, aggregate_class: type, aggregate_id: UUID, position: int) -> int:
    """The aggregate's version after every event at or before `position` (0: not yet)."""
    topics = event_topics(aggregate_class)
    version, start = 0, 1
    while start <= position:
        page = app.recorder.select_notifications(
            start=start, limit=PAGE, stop=position, topics=topics
        )
        for notification in page:
            if notification.originator_id == aggregate_id:
                version = notification.originator_version
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    return version


def aggregate_as_of(
    app: Any, aggregate_class: type, aggregate_id: UUID, moment: Moment, what: str
) -> Any:
    """The aggregate as it was at `moment`; NotFound when it did not exist yet."""
    version = version_at(app, aggregate_class, aggregate_id, moment.position)
    if version == 0:
        raise NotFound(f"{what} did not exist as of {moment.asked} (position {moment.position})")
    return app.repository.get(aggregate_id, version=version)

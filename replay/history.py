"""The log read as history: who did what, when — one entry per stored event.

Shared by the audit trail and the explanations. An entry names the event by position and
recorded time, its aggregate (type, id, and a business key such as `SO-1` or `SKU-1@WH1`
where the event or the caller knows it), its version and short type (`SalesOrder.Shipped`),
and the metadata every command stamps on its events (`actor`, `role`, `command`,
`correlation_id`; see `LedgerBase.save_with_meta`), with the event's effective time when it
has one (stock movements' `effective_at`, finance's `effective_date`).

Aggregate classes are found by walking the subclasses of the library's `Aggregate` defined
in `domain`: a new aggregate appears here without being listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from domain import ledger as _ledger  # noqa: F401  (imports every aggregate module)
from projections.base import meta_of

PAGE = 1000
KEY_FIELDS = ("number", "code", "bank_ref", "sku")


@cache
def aggregate_classes() -> dict[str, type]:
    """Every aggregate class of the domain by its short name (`SalesOrder`)."""
    found: dict[str, type] = {}
    pending = list(Aggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("domain."):
            found[cls.__name__] = cls
    return dict(sorted(found.items()))


@cache
def event_types() -> dict[str, str]:
    """Short event type (`SalesOrder.Shipped`) → topic, for every domain event class."""
    types: dict[str, str] = {}
    for name, cls in aggregate_classes().items():
        for event_class in _recorded_classes(cls):
            types[f"{name}.{event_class.__name__}"] = get_topic(event_class)
    return dict(sorted(types.items()))


def _recorded_classes(aggregate_class: type) -> list[type]:
    """The event classes an aggregate records: its own, less the library's bases (`Event`,
    and `Created` where a decorated `__init__` named the creation, e.g. `Invoice.Issued`)."""
    own = {
        value
        for attribute in dir(aggregate_class)
        if isinstance(value := getattr(aggregate_class, attribute, None), type)
        and issubclass(value, CanMutateAggregate)
        and value.__qualname__.split(".")[0] == aggregate_class.__name__
    }
    kept = [c for c in own if not any(o is not c and issubclass(o, c) for o in own)]
    creations = [c for c in kept if issubclass(c, Aggregate.Created)]
    if len(creations) > 1:  # a decorated `__init__` named its own creation event
        kept = [c for c in kept if c.__name__ != "Created"]
    return kept


def short_type(domain_event: Any) -> str:
    return str(type(domain_event).__qualname__)


def effective_of(domain_event: Any) -> datetime | date | None:
    """The business time an event counts from, where it carries one."""
    for name in ("effective_at", "effective_date"):
        value = getattr(domain_event, name, None)
        if value is not None:
            return value
    return None


def business_key(domain_event: Any) -> str | None:
    """The business key a creation event names (`SO-1`, `SKU-1@WH1`, a bank reference);
    later events name other things (an invoice's payment names its bank reference)."""
    if domain_event.originator_version != 1:
        return None
    if hasattr(domain_event, "sku") and hasattr(domain_event, "warehouse"):
        return f"{domain_event.sku}@{domain_event.warehouse}"
    for name in KEY_FIELDS:
        value = getattr(domain_event, name, None)
        if isinstance(value, str):
            return value
    return None


def creation_key(app: Any, aggregate_id: UUID) -> str | None:
    """The business key the aggregate's first event names (one indexed read of the
    aggregate's own sequence), for entries whose creation lies outside the range read."""
    first = app.recorder.select_events(aggregate_id, lte=1, limit=1)
    return business_key(app.mapper.to_domain_event(first[0])) if first else None


@dataclass(frozen=True)
class Entry:
    """One stored event as history."""

    position: int
    recorded_at: datetime
    aggregate_type: str
    aggregate_id: UUID
    business_key: str | None
    version: int
    event_type: str
    actor: str | None
    role: str | None
    command: str | None
    correlation_id: str | None
    effective: datetime | date | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def entry(position: int, domain_event: Any, key: str | None = None) -> Entry:
    meta = meta_of(domain_event)
    event_type = short_type(domain_event)
    return Entry(
        position=position,
        recorded_at=domain_event.timestamp,
        aggregate_type=event_type.split(".")[0],
        aggregate_id=domain_event.originator_id,
        business_key=key or business_key(domain_event),
        version=domain_event.originator_version,
        event_type=event_type,
        actor=meta.get("actor"),
        role=meta.get("role"),
        command=meta.get("command"),
        correlation_id=meta.get("correlation_id"),
        effective=effective_of(domain_event),
    )


def aggregate_events(
    app: Any, aggregate_class: type, aggregate_id: UUID, position: int
) -> list[tuple[int, Any]]:
    """The aggregate's events at or before `position`, each with its log position.

    Read from the log's notifications of the aggregate's own topics (decoding only this
    aggregate's), which is what gives each event its position."""
    topics = tuple(
        t for n, t in event_types().items() if n.startswith(aggregate_class.__name__ + ".")
    )
    found: list[tuple[int, Any]] = []
    for notification in notifications(app, 1, position, topics):
        if notification.originator_id == aggregate_id:
            found.append((notification.id, app.mapper.to_domain_event(notification)))
    return found


def notifications(app: Any, start: int, stop: int, topics: tuple[str, ...] = ()) -> Iterator[Any]:
    """Stored notifications from `start` to `stop` (inclusive), page by page, undecoded."""
    while start <= stop:
        page = app.recorder.select_notifications(start=start, limit=PAGE, stop=stop, topics=topics)
        yield from page
        if len(page) < PAGE:
            return
        start = page[-1].id + 1

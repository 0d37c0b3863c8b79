"""An aggregate as of an effective time (business date) as known at a moment.

*Effective at E as known at R*: take the aggregate's events known at R (at or before the
moment's position) and fold, by the aggregate's own event code, only those whose effective
time is at or before E; the creation event always, and events that carry no effective time
(they are not business movements) as they come. A goods receipt keyed in on the 3rd for goods
that arrived on the 1st is recorded on the 3rd, effective the 1st: the stock item effective
the 2nd as known the 4th has it on hand; effective the 2nd as known the 2nd it is still in
transit (nobody knew of it yet).

`@event` methods only assign, so folding a subset of an aggregate's events in log order is
safe; a count (`Counted`) sets physical stock to what was counted, so a back-dated movement
before a count is overridden by it exactly as the live aggregate was.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.exceptions import InvalidInput, NotFound
from domain.stock_items import StockItem, stock_item_id
from replay.history import aggregate_events, effective_of
from replay.moments import Moment


def counts_by(event_time: datetime | date | None, effective: datetime) -> bool:
    """Whether an event effective at `event_time` had taken effect at `effective`; a bare
    business date counts from that day."""
    if event_time is None:
        return True
    if isinstance(event_time, datetime):
        return event_time <= effective
    return event_time <= effective.date()


def aggregate_effective_as_of(
    app: Any, aggregate_class: type, aggregate_id: UUID, moment: Moment, effective: datetime,
    what: str,
) -> tuple[Any, int, int]:  # fmt: skip
    """(aggregate, events folded, events known): `what` as effective at `effective` among
    the events known at `moment`."""
    if effective.tzinfo is None:
        raise InvalidInput("the effective time must carry a time zone offset")
    events = aggregate_events(app, aggregate_class, aggregate_id, moment.position)
    if not events:
        raise NotFound(f"{what} did not exist as of {moment.asked} (position {moment.position})")
    aggregate, folded = None, 0
    for _, e in events:
        if aggregate is not None and not counts_by(effective_of(e), effective):
            continue
        if aggregate is not None:
            aggregate.version = e.originator_version - 1  # skipped events leave gaps
        aggregate = e.mutate(aggregate)
        folded += 1
    return aggregate, folded, len(events)


def stock_item_effective(
    app: Any, moment: Moment, sku: str, warehouse: str, effective: datetime
) -> dict[str, Any]:
    """The stock item of `sku` in `warehouse` effective at `effective` as known at `moment`."""
    item, folded, known = aggregate_effective_as_of(
        app, StockItem, stock_item_id(sku, warehouse), moment, effective,
        f"stock of {sku} in {warehouse}",
    )  # fmt: skip
    assert isinstance(item, StockItem)
    return {
        "moment": moment.as_dict(), "effective": effective, "sku": sku, "warehouse": warehouse,
        "physical": item.physical, "in_transit": item.in_transit, "locked": item.locked,
        "available": item.available, "safety_stock": item.safety_stock,
        "reservations": dict(sorted(item.reservations.items())),
        "inbound": dict(sorted(item.inbound.items())),
        "events_folded": folded, "events_known": known,
    }  # fmt: skip

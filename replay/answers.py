"""What the CLI and the API ask of a replay: inventory, ageing, orders, one sales order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from domain.sales_orders import SalesOrder, sales_order_id
from projections import ar, queries
from replay.aggregates import aggregate_as_of
from replay.asof import ReplayedModel, replay_as_of
from replay.checkpoint_store import CheckpointStore
from replay.inventory import inventory_effective, inventory_rows
from replay.moments import Moment
from replay.scratch import ScratchFactory

Progress = Callable[[int], None] | None
PAGE = 500


def _about(replayed: ReplayedModel) -> dict[str, Any]:
    return {
        "moment": replayed.moment.as_dict(),
        "replay": {
            "model": replayed.model,
            "events_read": replayed.events_read,
            "seconds": round(replayed.seconds, 3),
            **replayed.checkpoints.as_json(),
        },
    }


def inventory_as_of(
    app: Any,
    scratch: ScratchFactory,
    moment: Moment,
    *,
    effective: datetime | None = None,
    sku: str | None = None,
    on_page: Progress = None,
    checkpoints: CheckpointStore | None = None,
) -> dict[str, Any]:
    """Inventory as known at `moment`; with `effective`, only what had taken effect by then."""
    with replay_as_of(
        app, scratch, "inventory", moment, on_page=on_page, checkpoints=checkpoints
    ) as replayed:
        with replayed.read() as cur:
            if effective is None:
                items = inventory_rows(cur, sku)
            else:
                items = inventory_effective(cur, effective, sku)
        return {**_about(replayed), "effective": effective, "items": items}


def ageing_as_of(
    app: Any,
    scratch: ScratchFactory,
    moment: Moment,
    *,
    as_of: date | None = None,
    customer: str | None = None,
    on_page: Progress = None,
    checkpoints: CheckpointStore | None = None,
) -> dict[str, Any]:
    """AR ageing on business day `as_of` (default: the moment's day) as known at `moment`."""
    day = as_of or (moment.recorded_at.date() if moment.recorded_at else date.today())
    with replay_as_of(
        app, scratch, "receivables", moment, on_page=on_page, checkpoints=checkpoints
    ) as replayed:
        with replayed.read() as cur:
            report = ar.ageing(cur, as_of=day, customer=customer)
        return {**_about(replayed), "ageing": report}


def orders_as_of(
    app: Any,
    scratch: ScratchFactory,
    moment: Moment,
    *,
    customer: str | None = None,
    on_page: Progress = None,
    checkpoints: CheckpointStore | None = None,
) -> dict[str, Any]:
    """Every sales order (of one customer if given) as known at `moment`."""
    with replay_as_of(
        app, scratch, "orders", moment, on_page=on_page, checkpoints=checkpoints
    ) as replayed:
        orders: list[dict[str, Any]] = []
        with replayed.read() as cur:
            after: str | None = None
            while True:
                page = queries.list_sales_orders(
                    cur, status=None, customer=customer, salesperson=None, after=after,
                    limit=PAGE,
                )  # fmt: skip
                orders += page
                if len(page) < PAGE:
                    break
                after = page[-1]["number"]
        return {**_about(replayed), "orders": orders}


def sales_order_as_of(app: Any, moment: Moment, number: str) -> SalesOrder:
    """The sales order aggregate as it was at `moment`."""
    order = aggregate_as_of(
        app, SalesOrder, sales_order_id(number), moment, f"sales order {number}"
    )
    assert isinstance(order, SalesOrder)
    return order

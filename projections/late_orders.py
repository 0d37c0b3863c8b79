"""Orders late in their stage now, by stage and by what holds them (docs/kpis.md).

An order is late when it has sat in its workflow stage past the stage's SLA due time (the
SLA list's `late`, cancelled orders aside). Its reason is the first of these that the read
models record for it: on credit hold (`credit_orders`), waiting for an approval
(`sales_orders.awaiting_role`), waiting for production made for it (`production_orders` not
yet received), partly shipped, shipped and not yet signed for; else `none`: nothing
recorded holds it, the stage's role simply has not acted. The pivot and the list behind
each of its cells are the same query, so they cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.exceptions import InvalidInput
from domain.workflows import DEFAULT_DEFINITION
from projections.store import Cursor

REASONS = ("credit_hold", "approval", "production", "partly_shipped", "in_transit", "none")
STAGE_ORDER = [stage["key"] for stage in DEFAULT_DEFINITION["stages"]]

_REASON = (
    "CASE WHEN EXISTS (SELECT 1 FROM credit_orders c"
    "  WHERE c.number = o.number AND c.held_at IS NOT NULL) THEN 'credit_hold'"
    " WHEN o.awaiting_role IS NOT NULL THEN 'approval'"
    " WHEN EXISTS (SELECT 1 FROM production_orders p WHERE p.sales_order = o.number"
    "  AND p.status NOT IN ('received', 'cancelled')) THEN 'production'"
    " WHEN o.status = 'partially_shipped' THEN 'partly_shipped'"
    " WHEN o.status = 'shipped' THEN 'in_transit'"
    " ELSE 'none' END"
)
# Materialized, so that the planner starts from the SLA index (the late orders), not from
# an index that suits the grouping but visits every order.
_LATE = (
    "WITH late AS MATERIALIZED (SELECT o.number, o.customer, o.stage, o.stage_role, o.status,"
    " o.awaiting_role, o.sla_due_at, o.salesperson, o.region, o.currency, o.total,"
    f" {_REASON} AS reason FROM sales_orders o"
    " WHERE o.sla_due_at <= ? AND o.status <> 'cancelled')"
)


def late_pivot(cur: Cursor, *, now: datetime) -> list[dict[str, Any]]:
    """Late orders counted by stage × reason, stages in the standard workflow's order."""
    rows = cur.execute(
        f"{_LATE} SELECT stage, reason, COUNT(*) AS orders FROM late GROUP BY stage, reason",
        [now],
    ).fetchdicts()
    return sorted(rows, key=lambda r: (stage_rank(r["stage"]), REASONS.index(r["reason"])))


def late_orders(
    cur: Cursor, *, now: datetime, stage: str | None, reason: str | None, offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The late orders of one pivot cell (or row, or column), most overdue first."""
    if reason is not None and reason not in REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(REASONS)}, got {reason!r}")
    sql = f"{_LATE} SELECT * FROM late WHERE 1 = 1"
    params: list[Any] = [now]
    for column, value in (("stage", stage), ("reason", reason)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    sql += " ORDER BY sla_due_at, number"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return cur.execute(sql, params).fetchdicts()


def stage_rank(stage: str) -> tuple[int, str]:
    """Standard workflow stages in their order, any other stage after them by name."""
    return (STAGE_ORDER.index(stage), "") if stage in STAGE_ORDER else (len(STAGE_ORDER), stage)

"""Work lists read from the orders read model: the approvals inbox and the late list.

Both are keyset pages along an index, so a page costs the rows it shows, not the orders
open: the inbox walks (`awaiting_role`, `sla_due_at`, `number`), the late list the SLA due
time. Cursors are plain text (`<due time>|<number>`), safe in an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from projections.queries import ORDER_LIST_COLUMNS, _aware, _order_row
from projections.store import Cursor

SlaState = Literal["late", "at_risk", "all"]
Lateness = Literal["most", "least"]
NO_SLA = "none"  # the cursor's first part once the inbox reaches orders without an SLA


def awaiting_approval(
    cur: Cursor, role: str, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Orders waiting for `role`'s approval, the one whose stage's SLA runs out first at the
    top (the longest waiting, in one stage); those in a stage without an SLA come last, by
    number. Each row carries its `cursor`."""
    due, number = _split(after)
    rows: list[dict[str, Any]] = []
    if due != NO_SLA:
        keyset, params = _after("sla_due_at", "number", ">", due, number)
        rows = _select(
            cur, f"awaiting_role = ? AND sla_due_at IS NOT NULL{keyset}",
            [role, *params], "sla_due_at, number", limit,
        )  # fmt: skip
        number = None
    if len(rows) < limit:
        since = " AND number > ?" if number else ""
        rows += _select(
            cur, f"awaiting_role = ? AND sla_due_at IS NULL{since}",
            [role, *([number] if number else [])], "number", limit - len(rows),
        )  # fmt: skip
    for row in rows:
        row["cursor"] = _cursor(row)
    return rows


def count_awaiting(cur: Cursor, role: str) -> int:
    """How many orders wait for `role` (counted along the inbox's index)."""
    found = cur.execute(
        "SELECT count(*) FROM sales_orders WHERE awaiting_role = ?", [role]
    ).fetchone()
    return int(found[0]) if found else 0


def late_orders(
    cur: Cursor,
    *,
    now: datetime,
    at_risk_within: timedelta,
    state: SlaState,
    lateness: Lateness,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Orders past their stage's SLA (`late`), those due within `at_risk_within`
    (`at_risk`), or both; the most (or least) overdue first. Each row carries its
    `sla_state`, `overdue_seconds` (0 while not late) and `cursor`."""
    bounds: list[str] = []
    params: list[Any] = []
    if state == "late":
        bounds.append("sla_due_at <= ?")
        params.append(now)
    else:
        bounds.append("sla_due_at <= ?")
        params.append(now + at_risk_within)
        if state == "at_risk":
            bounds.append("sla_due_at > ?")
            params.append(now)
    due, number = _split(after)
    keyset, more = _after("sla_due_at", "number", ">" if lateness == "most" else "<", due, number)
    direction = "" if lateness == "most" else " DESC"
    rows = _select(
        cur, " AND ".join(bounds) + keyset, params + more,
        f"sla_due_at{direction}, number{direction}", limit,
    )  # fmt: skip
    for row in rows:
        overdue = (now - _aware(row["sla_due_at"])).total_seconds()
        row["sla_state"] = "late" if overdue >= 0 else "at_risk"
        row["overdue_seconds"] = max(0, int(overdue))
        row["cursor"] = _cursor(row)
    return rows


def latest_steps(
    cur: Cursor, numbers: Sequence[str], kind: str | None = None
) -> dict[str, dict[str, Any]]:
    """Each order's latest timeline step of `kind`, or of any kind but an SLA breach: what
    happened last (index lookups per order, in two statements)."""
    if not numbers:
        return {}
    marks = ",".join("?" * len(numbers))
    which = ("kind = ?", [kind]) if kind else ("kind <> ?", ["Recorded"])
    latest = cur.execute(
        f"SELECT max(position) FROM order_timeline WHERE number IN ({marks}) AND {which[0]}"
        " GROUP BY number",
        [*numbers, *which[1]],
    ).fetchall()
    positions = [row[0] for row in latest]
    if not positions:
        return {}
    rows = cur.execute(
        "SELECT number, kind, actor, role, recorded_at, effective_at, detail FROM order_timeline"
        f" WHERE position IN ({','.join('?' * len(positions))})",
        positions,
    ).fetchdicts()
    return {row["number"]: row for row in rows}


def _select(
    cur: Cursor, where: str, params: Sequence[Any], order: str, limit: int
) -> list[dict[str, Any]]:
    rows = cur.execute(
        f"SELECT {ORDER_LIST_COLUMNS} FROM sales_orders WHERE {where} ORDER BY {order} LIMIT ?",
        [*params, limit],
    ).fetchdicts()
    return [_order_row(row) for row in rows]


def _after(
    key: str, tie: str, op: str, value: str | None, number: str | None
) -> tuple[str, list[Any]]:
    """SQL continuing a (key, tie) keyset after the cursor's values, if any."""
    if value is None or number is None:
        return "", []
    moment = datetime.fromisoformat(value)
    return f" AND ({key} {op} ? OR ({key} = ? AND {tie} {op} ?))", [moment, moment, number]


def _split(cursor: str | None) -> tuple[str | None, str | None]:
    """A cursor's two parts (due time or NO_SLA, number); none for the first page."""
    if not cursor or "|" not in cursor:
        return None, None
    if not cursor.isprintable():
        raise ValueError("a cursor is printable text")
    due, number = cursor.split("|", 1)
    if due != NO_SLA:
        datetime.fromisoformat(due)  # a malformed cursor is refused by the caller (ValueError)
    return due, number


def _cursor(row: dict[str, Any]) -> str:
    due = row["sla_due_at"]
    return f"{NO_SLA if due is None else _aware(due).isoformat()}|{row['number']}"

"""Delivery state of outbox notifications, in tables no projection owns.

`notification_delivery` holds one row per notification id: pending → sending → delivered, or
back to pending with a later `next_attempt_at`, or failed once the attempts are used up.
`notification_attempts` logs every attempt. Rebuilding the outbox drops and refills only the
outbox's own tables; the ids come out the same, so these rows still say what was sent.

A dispatcher claims rows by stamping them with its own claim token in one conditional UPDATE
(PostgreSQL: over rows selected `FOR UPDATE SKIP LOCKED`), so two dispatchers never take the
same row; a claim lapses after a lease, which is how a dispatcher that died mid-send is
covered (its row is sent again, under the same id, for the receiver to recognise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.store import Cursor

PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
HISTORY = "not sent: the event is older than notifications to this recipient"
DDL = (
    "CREATE TABLE IF NOT EXISTS notification_delivery ("
    " notification_id TEXT PRIMARY KEY, channel TEXT NOT NULL, position {bigint} NOT NULL,"
    " status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " requeued_after INTEGER NOT NULL DEFAULT 0, next_attempt_at {ts} NOT NULL,"
    " delivered_at {ts}, last_error TEXT, claimed_by TEXT, claimed_until {ts},"
    " updated_at {ts} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_delivery_due ON notification_delivery (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS ix_delivery_claim ON notification_delivery (claimed_by)",
    "CREATE TABLE IF NOT EXISTS notification_horizon ("
    " name TEXT PRIMARY KEY, position {bigint} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notification_attempts ("
    " notification_id TEXT NOT NULL, attempt INTEGER NOT NULL, at {ts} NOT NULL,"
    " outcome TEXT NOT NULL, http_status INTEGER, error TEXT,"
    " PRIMARY KEY (notification_id, attempt))",
)
CLAIMED_FIELDS = (
    "o.notification_id, o.kind, o.channel, o.recipient, o.order_number, o.subject, o.body,"
    " o.payload, o.created_at, d.attempts, d.requeued_after"
)


def create_delivery_tables(cur: Cursor, head: int) -> None:
    """The delivery tables, and the horizon: the log head when they were first made.

    A ledger that had a history before it had notifications does not tell its customers
    about every old shipment: events up to the horizon are addressed, never sent.
    """
    for statement in DDL:
        cur.ddl(statement)
    cur.execute(
        "INSERT INTO notification_horizon (name, position) VALUES ('outbox', ?)"
        " ON CONFLICT (name) DO NOTHING",
        (head,),
    )


def history_up_to(cur: Cursor, live_position: int) -> int:
    """Events up to here are history: the horizon, or what the live outbox already addressed
    (a rebuild meeting those with a recipient added since must not send them)."""
    found = cur.execute("SELECT position FROM notification_horizon WHERE name = 'outbox'")
    row = found.fetchone()
    return max(live_position, int(row[0]) if row else 0)


@dataclass(frozen=True)
class Delivery:
    """A notification the outbox just wrote: due from the time of its event."""

    notification_id: str
    channel: str
    position: int
    at: datetime


def queue_deliveries(cur: Cursor, deliveries: Sequence[Delivery], history: int) -> None:
    """Pending state for new ids; ids already known keep theirs (a rebuild sends nothing).
    A new id for an event at or before `history` is recorded as skipped, never sent."""
    rows = [
        (d.notification_id, d.channel, d.position,
         *((SKIPPED, HISTORY) if d.position <= history else (PENDING, None)),
         d.at, d.at)
        for d in deliveries
    ]  # fmt: skip
    cur.executemany(
        "INSERT INTO notification_delivery (notification_id, channel, position, status,"
        " last_error, next_attempt_at, updated_at) VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT (notification_id) DO NOTHING",
        rows,
    )


@dataclass(frozen=True)
class Claimed:
    """A notification this dispatcher holds: what to send, and how many attempts it had."""

    notification_id: str
    kind: str
    channel: str
    recipient: str
    order_number: str | None
    subject: str
    body: str
    payload: str
    created_at: Any
    attempts: int
    requeued_after: int


def claim(
    cur: Cursor, token: str, channels: Sequence[str], now: datetime, lease_until: datetime,
    limit: int,
) -> list[Claimed]:  # fmt: skip
    """Take up to `limit` due notifications on `channels` for the claim `token`."""
    if not channels:
        return []
    skip_locked = " FOR UPDATE OF d SKIP LOCKED" if cur.dialect == "postgres" else ""
    marks = ",".join("?" * len(channels))
    cur.execute(
        "UPDATE notification_delivery SET status = 'sending', claimed_by = ?,"
        " claimed_until = ?, updated_at = ? WHERE notification_id IN ("
        "  SELECT d.notification_id FROM notification_delivery d"
        "  JOIN notification_outbox o ON o.notification_id = d.notification_id"
        f" WHERE d.channel IN ({marks}) AND ((d.status = 'pending' AND d.next_attempt_at <= ?)"
        "   OR (d.status = 'sending' AND d.claimed_until <= ?))"
        f" ORDER BY d.next_attempt_at, d.notification_id LIMIT ?{skip_locked})",
        (token, lease_until, now, *channels, now, now, limit),
    )
    cur.execute(
        f"SELECT {CLAIMED_FIELDS} FROM notification_delivery d"
        " JOIN notification_outbox o ON o.notification_id = d.notification_id"
        " WHERE d.claimed_by = ? AND d.status = 'sending' ORDER BY d.next_attempt_at, o.position",
        (token,),
    )
    return [Claimed(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class Attempt:
    """How one attempt went, and the state it leaves the notification in."""

    at: datetime
    outcome: str  # delivered, retry, failed
    status: str  # delivered, pending, failed
    next_attempt_at: datetime
    error: str | None = None
    http_status: int | None = None


def record_attempt(cur: Cursor, claimed: Claimed, token: str, attempt: Attempt) -> bool:
    """Settle a claimed notification and log the attempt; False if the claim had lapsed and
    another dispatcher took the row over (then it settles it, and this attempt is not kept)."""
    number = claimed.attempts + 1
    cur.execute(
        "UPDATE notification_delivery SET status = ?, attempts = ?, next_attempt_at = ?,"
        " delivered_at = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL,"
        " updated_at = ? WHERE notification_id = ? AND claimed_by = ? AND status = 'sending'",
        (attempt.status, number, attempt.next_attempt_at,
         attempt.at if attempt.status == DELIVERED else None, attempt.error, attempt.at,
         claimed.notification_id, token),
    )  # fmt: skip
    if cur.rowcount != 1:
        return False
    cur.execute(
        "INSERT INTO notification_attempts (notification_id, attempt, at, outcome, http_status,"
        " error) VALUES (?,?,?,?,?,?)",
        (claimed.notification_id, number, attempt.at, attempt.outcome, attempt.http_status,
         attempt.error),
    )  # fmt: skip
    return True


def note_waiting(cur: Cursor, channel: str, reason: str, now: datetime) -> int:
    """Say on every pending notification of a channel that cannot send why it waits."""
    cur.execute(
        "UPDATE notification_delivery SET last_error = ?, updated_at = ?"
        " WHERE channel = ? AND status = 'pending' AND (last_error IS NULL OR last_error <> ?)",
        (reason, now, channel, reason),
    )
    return cur.rowcount


def requeue(cur: Cursor, notification_id: str, now: datetime) -> bool:
    """A failed notification gets a fresh set of attempts, due now; False if it is not failed."""
    cur.execute(
        "UPDATE notification_delivery SET status = 'pending', next_attempt_at = ?,"
        " requeued_after = attempts, updated_at = ? WHERE notification_id = ? AND status = ?",
        (now, now, notification_id, FAILED),
    )
    return cur.rowcount == 1


# -- the delivery log, as the API shows it -------------------------------------------------------

LOG_FIELDS = (
    "o.notification_id AS id, o.position, o.kind, o.channel, o.recipient, o.order_number,"
    " o.subject, o.created_at, d.status, d.next_attempt_at, d.delivered_at, d.last_error"
)


def list_notifications(
    cur: Cursor, *, filters: dict[str, str | None], after: tuple[int, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Notifications in log order; `filters` on status, kind, order_number and channel;
    `after` is the (position, id) of the previous page's last item."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in filters.items():
        if value is not None:
            where.append(f"{'d' if column == 'status' else 'o'}.{column} = ?")
            params.append(value)
    if after:
        where.append("(o.position > ? OR (o.position = ? AND o.notification_id > ?))")
        params += [after[0], after[0], after[1]]
    sql = f"SELECT {LOG_FIELDS} FROM notification_outbox o JOIN notification_delivery d"
    sql += " ON d.notification_id = o.notification_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = cur.execute(sql + " ORDER BY o.position, o.notification_id LIMIT ?", [*params, limit])
    return _with_attempts(cur, rows.fetchdicts())


def notification(cur: Cursor, notification_id: str) -> dict[str, Any] | None:
    """One notification with its text, payload and every attempt."""
    found = cur.execute(
        f"SELECT {LOG_FIELDS}, o.body, o.payload FROM notification_outbox o"
        " JOIN notification_delivery d ON d.notification_id = o.notification_id"
        " WHERE o.notification_id = ?",
        (notification_id,),
    ).fetchdicts()
    return _with_attempts(cur, found)[0] if found else None


def _with_attempts(cur: Cursor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    attempts: dict[str, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    if rows:
        marks = ",".join("?" * len(rows))
        cur.execute(
            "SELECT notification_id, attempt, at, outcome, http_status, error"
            f" FROM notification_attempts WHERE notification_id IN ({marks})"
            " ORDER BY notification_id, attempt",
            list(attempts),
        )
        for row in cur.fetchdicts():
            attempts[row.pop("notification_id")].append(row)
    return [{**row, "attempts": attempts[row["id"]]} for row in rows]

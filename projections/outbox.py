"""Notification outbox: what to tell whom about an event, written exactly once per event.

The outbox is an ordinary projection: its rows are written in the same transaction as its
tracking position, so each event yields its notifications exactly once, and a rebuild yields
the same rows under the same ids. Whether a notification was *sent* is not the projection's
business: that is `notification_delivery` (`projections/deliveries.py`), a table no projection
owns, so a rebuild never makes anything be sent again.

A notification kind is one function from an event to a `Notice` (see `KINDS`); the projection
addresses the notice to each of its e-mail recipients and to every webhook subscribed to the
kind, one outbox row per (event, kind, channel, recipient).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.sales_orders import SalesOrder
from domain.sla import SlaBreach
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.deliveries import Delivery, history_up_to, queue_deliveries
from projections.directory import DIRECTORY_EVENTS, Directory, load_directory
from projections.store import Cursor

OUTBOX_COLUMNS = [
    "notification_id", "position", "kind", "channel", "recipient", "order_number", "subject",
    "body", "payload", "created_at",
]  # fmt: skip
EMAIL, WEBHOOK = "email", "webhook"
KIND_PATTERN = r"^[a-z][a-z0-9_.]{0,63}$"
ID_PATTERN = r"^[0-9]{1,19}-[a-z][a-z0-9_.]{0,63}-[a-z]{1,16}-[0-9a-f]{16}$"


@dataclass(frozen=True)
class Webhook:
    """A receiver of the kinds it subscribed to (its secret stays with the dispatcher)."""

    url: str
    events: frozenset[str]


@dataclass(frozen=True)
class Routing:
    """Recipients that are configuration, not events: role mailboxes and webhooks."""

    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    webhooks: tuple[Webhook, ...] = ()

    def subscribers(self, kind: str) -> list[str]:
        return list(dict.fromkeys(hook.url for hook in self.webhooks if kind in hook.events))


@dataclass(frozen=True)
class Notice:
    """One event told once: the same text to every e-mail recipient, the payload to webhooks."""

    subject: str
    body: str
    payload: dict[str, Any]
    emails: tuple[str, ...] = ()
    order_number: str | None = None


Build = Callable[[Any, Directory], Notice | None]


@dataclass(frozen=True)
class Kind:
    """A notification kind: its name (what webhooks subscribe to), the event, the builder."""

    name: str
    event_class: type
    build: Build

    def __post_init__(self) -> None:
        if not re.match(KIND_PATTERN, self.name):
            raise ValueError(f"kind {self.name!r}: lower-case letters, digits, '_' and '.'")


def notification_id(position: int, kind: str, channel: str, recipient: str) -> str:
    """Stable across rebuilds; URL- and Message-ID-safe, and no address inside it."""
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    return f"{position}-{kind}-{channel}-{digest}"


def role_notice(
    directory: Directory, role: str, subject: str, body: str, payload: dict[str, Any],
    order_number: str | None = None,
) -> Notice:  # fmt: skip
    """A notice to every address configured for `role` (none configured: webhooks only)."""
    return Notice(subject, body, payload, directory.role_emails(role), order_number)


def order_shipped(e: Any, directory: Directory) -> Notice | None:
    """The customer's contacts learn carrier, tracking number and what left."""
    order = directory.order(e.originator_id)
    if order is None:
        return None
    lines = [
        {"line_no": int(no), "sku": order.sku(no), "quantity": _text(qty)}
        for no, qty in sorted(e.quantities.items(), key=lambda item: int(item[0]))
    ]
    payload = {
        "order_number": order.number, "customer": order.customer,
        "shipment_ref": e.shipment_ref, "carrier": e.carrier,
        "tracking_number": e.tracking_number, "complete": e.complete,
        "shipped_at": e.effective_at.isoformat(), "lines": lines,
    }  # fmt: skip
    listed = "\n".join(f"  line {x['line_no']}: {x['quantity']} × {x['sku']}" for x in lines)
    body = (
        f"Your order {order.number} has shipped{'' if e.complete else ' in part'}.\n\n"
        f"Carrier: {e.carrier}\nTracking number: {e.tracking_number}\n"
        f"Shipment: {e.shipment_ref}\n\nShipped:\n{listed}\n"
    )
    subject = f"Order {order.number} shipped with {e.carrier}, tracking {e.tracking_number}"
    emails = directory.customer_emails(order.customer)
    return Notice(subject, body, payload, emails, order.number)


def approval_needed(e: Any, directory: Directory) -> Notice | None:
    """The approver of the waiting level: on submission (if the approval stage notifies) and
    when an earlier level approved."""
    if type(e).__name__ == "StageChanged":
        role = e.role if e.notify and e.trigger == "submitted" else None
        level = 1
    else:  # ApprovalGiven with a level after it
        role, level = e.next_role, e.level + 1
    order = directory.order(e.originator_id)
    if role is None or order is None:
        return None
    subject = f"Approval needed: order {order.number} (level {level}, {role})"
    body = (
        f"Order {order.number} for customer {order.customer} is waiting for approval at"
        f" level {level} by {role}.\n"
    )
    payload = {"order_number": order.number, "customer": order.customer, "level": level,
               "role": role}  # fmt: skip
    return role_notice(directory, role, subject, body, payload, order.number)


def stage_entered(e: Any, directory: Directory) -> Notice | None:
    """The responsible role of a stage whose definition says `notify` on entry."""
    order = directory.order(e.originator_id)
    if not e.notify or e.trigger == "submitted" or order is None:
        return None
    due = f", due by {e.sla_due_at.isoformat()}" if e.sla_due_at else ""
    subject = f"Order {order.number} entered {e.to_stage}"
    body = f"Order {order.number} moved from {e.from_stage} to {e.to_stage}{due}.\n"
    payload = {"order_number": order.number, "from_stage": e.from_stage,
               "to_stage": e.to_stage, "role": e.role,
               "sla_due_at": e.sla_due_at.isoformat() if e.sla_due_at else None}  # fmt: skip
    return role_notice(directory, e.role, subject, body, payload, order.number)


def sla_breached(e: Any, directory: Directory) -> Notice | None:
    """The role responsible for the stage an order overstayed."""
    subject = f"SLA breached: order {e.number} in {e.stage} since {e.due_at.isoformat()}"
    body = (
        f"Order {e.number} has been in stage {e.stage} past its SLA (due"
        f" {e.due_at.isoformat()}). {e.role} is responsible for this stage.\n"
    )
    payload = {
        "order_number": e.number, "stage": e.stage, "role": e.role,
        "due_at": e.due_at.isoformat(), "detected_at": e.detected_at.isoformat(),
    }  # fmt: skip
    return role_notice(directory, e.role, subject, body, payload, e.number)


SHIPPED, STAGE_CHANGED, APPROVAL_GIVEN = events_of(
    SalesOrder, "Shipped", "StageChanged", "ApprovalGiven"
)
(BREACH_RECORDED,) = events_of(SlaBreach, "Recorded")
KINDS: tuple[Kind, ...] = (
    Kind("order.shipped", SHIPPED, order_shipped),
    Kind("order.approval_needed", STAGE_CHANGED, approval_needed),
    Kind("order.approval_needed", APPROVAL_GIVEN, approval_needed),
    Kind("order.stage_entered", STAGE_CHANGED, stage_entered),
    Kind("order.sla_breached", BREACH_RECORDED, sla_breached),
)


class OutboxProjection(Projection):
    """`notification_outbox` (one row per notification) and the lookups it addresses with."""

    name = "outbox"
    event_classes = tuple(dict.fromkeys([*DIRECTORY_EVENTS, *(k.event_class for k in KINDS)]))
    tables = {
        "notification_outbox": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " notification_id TEXT PRIMARY KEY, position {bigint} NOT NULL, kind TEXT NOT NULL,"
            " channel TEXT NOT NULL, recipient TEXT NOT NULL, order_number TEXT,"
            " subject TEXT NOT NULL, body TEXT NOT NULL, payload TEXT NOT NULL,"
            " created_at {ts} NOT NULL)"
        ),
        "outbox_customers": (
            "CREATE TABLE IF NOT EXISTS {t} (code TEXT PRIMARY KEY, emails TEXT NOT NULL)"
        ),
        "outbox_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " order_id TEXT PRIMARY KEY, number TEXT NOT NULL, customer TEXT NOT NULL,"
            " lines TEXT NOT NULL)"
        ),
    }
    indexes = (
        Index("ix_outbox_position", "notification_outbox", "position, notification_id"),
        Index("ix_outbox_order", "notification_outbox", "order_number, position"),
    )

    def __init__(self, routing: Routing | None = None, suffix: str = "") -> None:
        super().__init__(suffix)
        self.routing = routing or Routing()
        self.kinds: dict[type, list[Kind]] = {}
        for kind in KINDS:
            self.kinds.setdefault(kind.event_class, []).append(kind)

    def with_suffix(self, suffix: str) -> Projection:
        return OutboxProjection(self.routing, suffix)

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        tables = (self.t("outbox_customers"), self.t("outbox_orders"))
        directory = load_directory(cur, tables, events, self.routing.roles)
        rows: list[tuple[Any, ...]] = []
        deliveries: list[Delivery] = []
        for position, e in events:
            directory.record(e)
            for kind in self.kinds.get(type(e), ()):
                notice = kind.build(e, directory)
                if notice is not None:
                    self._address(position, kind.name, notice, e.timestamp, rows, deliveries)
        directory.save(cur)
        cur.insert_rows(self.t("notification_outbox"), OUTBOX_COLUMNS, rows)
        queue_deliveries(cur, deliveries, history_up_to(cur, self._live_position(cur)))

    def _address(
        self, position: int, kind: str, notice: Notice, at: Any, rows: list[tuple[Any, ...]],
        deliveries: list[Delivery],
    ) -> None:  # fmt: skip
        payload = orjson.dumps(notice.payload).decode()
        recipients = [(EMAIL, a) for a in dict.fromkeys(notice.emails)]
        recipients += [(WEBHOOK, url) for url in self.routing.subscribers(kind)]
        for channel, recipient in recipients:
            key = notification_id(position, kind, channel, recipient)
            rows.append((
                key, position, kind, channel, recipient, notice.order_number, notice.subject,
                notice.body, payload, at,
            ))  # fmt: skip
            deliveries.append(Delivery(key, channel, position, at))

    def _live_position(self, cur: Cursor) -> int:
        """How far the live outbox got (a rebuild fills shadow tables behind it)."""
        found = cur.execute(
            "SELECT position FROM projection_tracking WHERE name = ?", (self.name,)
        ).fetchone()
        return int(found[0]) if found else 0


def _text(quantity: Any) -> str:
    text = format(quantity.normalize(), "f")
    return "0" if text in ("-0", "") else text

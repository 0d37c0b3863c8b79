"""SlaBreach: the record that an order sat in a stage past its SLA.

One per stage entry (identified by order, stage and due time), so the monitor may find the
same late order on every scan, in every process, and still records the breach once. It is
its own aggregate, not an event on the order, so recording it never conflicts with (or
changes the version seen by) the people working on the order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.values import stable_id


def sla_breach_id(order_id: UUID, stage: str, due_at: datetime) -> UUID:
    """One id per instant, however its offset is written (read models may hand back
    the due time in their session's time zone)."""
    return stable_id("sla-breach", str(order_id), stage, due_at.astimezone(UTC).isoformat())


class SlaBreach(Aggregate):
    @staticmethod
    def create_id(order_id: UUID, stage: str, due_at: datetime) -> UUID:
        return sla_breach_id(order_id, stage, due_at)

    @event("Recorded")
    def __init__(
        self,
        order_id: UUID,
        stage: str,
        due_at: datetime,
        number: str,
        role: str,
        detected_at: datetime,
    ) -> None:
        self.order_id = order_id
        self.stage = stage
        self.due_at = due_at
        self.number = number
        self.role = role
        self.detected_at = detected_at

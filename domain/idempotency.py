"""IdempotencyRecord: the first result of a command, saved atomically with the command."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.values import stable_id


def idempotency_id(key: str) -> UUID:
    return stable_id("idempotency", key)


class IdempotencyRecord(Aggregate):
    """Remembers which request a key was first used for, and what it answered."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return idempotency_id(key)

    @event("Recorded")
    def __init__(self, key: str, request_hash: str, result: dict[str, Any]) -> None:
        self.key = key
        self.request_hash = request_hash
        self.result = dict(result)

    @classmethod
    def recorded(cls, key: str, request_hash: str, result: dict[str, Any]) -> Any:
        """Just the creation event: saved beside every idempotent command, so it skips
        building an aggregate nobody reads in the happy path."""
        event_class = cls.Recorded  # type: ignore[attr-defined]
        return event_class(
            originator_id=idempotency_id(key),
            originator_version=cls.INITIAL_VERSION,
            timestamp=event_class.create_timestamp(),
            originator_topic=get_topic(cls),
            key=key,
            request_hash=request_hash,
            result=dict(result),
        )

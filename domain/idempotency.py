"""IdempotencyRecord: the first result of a command, saved atomically with the command."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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

"""One tree of domain errors; the API maps each branch to an HTTP status in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    rule = "domain-error"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if rule is not None:
            self.rule = rule


class InvalidInput(DomainError):
    """A command's arguments are malformed (422)."""

    rule = "invalid-input"


class NotFound(DomainError):
    """A referenced aggregate does not exist (404)."""

    rule = "not-found"


class AlreadyExists(DomainError):
    """A create command names something that is already there (409)."""

    rule = "already-exists"


class RuleViolation(DomainError):
    """A business rule refuses the command (409); `rule` names the rule."""

    rule = "rule-violation"


class StoredRefusal(RuleViolation):
    """A refusal whose decision still records events (a shipment refused and the order put
    on credit hold): the ledger saves them, then raises this with the position it wrote."""

    def __init__(self, message: str, *, rule: str, details: dict[str, Any]) -> None:
        super().__init__(message, rule=rule)
        self.details = details
        self.position: int | None = None


class StaleVersion(DomainError):
    """The caller's expected version (If-Match) is not the current one (412)."""

    rule = "stale-version"

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key was sent again with a different request (422)."""

    rule = "idempotency-key-reused"


class ConcurrencyExhausted(DomainError):
    """Optimistic-concurrency retries ran out under contention (503, retry later)."""

    rule = "concurrency-exhausted"


class Unavailable(DomainError):
    """Something a decision must consult is not ready (a read model behind the log): nothing
    was stored, retry shortly (503)."""

    rule = "unavailable"


class Inconsistency(DomainError):
    """Two records that must agree do not (a read model against the events behind it):
    a fault of the system, reported with its rule, never shown as an answer."""

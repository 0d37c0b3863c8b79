"""Users, their API keys and their sign-in sessions, as event-sourced aggregates.

The log says who may act and since when: a user was created in a role, a key was issued
to them or revoked, they signed in or out. Secrets never enter the log: a key's secret and
a password are checked against hashes kept in the credential store (api/credentials.py),
which the log's facts switch on and off — a hash with no live key or user behind it opens
nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import InvalidInput, RuleViolation
from domain.values import stable_id
from domain.workflows import ROLES

ACTIVE, DISABLED = "active", "disabled"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@:\-]{0,99}$")
KEY_ID = re.compile(r"^[a-f0-9]{12}$")
KEY_PREFIX = "olk_"  # an OrderLedger key: olk_<key id>_<secret>


def user_id(username: str) -> UUID:
    return stable_id("user", username)


def api_key_id(key_id: str) -> UUID:
    return stable_id("api-key", key_id)


def username(value: Any) -> str:
    if not isinstance(value, str) or not USERNAME.match(value):
        raise InvalidInput(
            "username: 1-100 lower-case letters, digits or . _ @ : -, starting with a letter"
            " or digit"
        )
    return value


def role(value: Any, customer: str | None) -> str:
    if value not in ROLES:
        raise InvalidInput(f"role: unknown role {value!r}; roles are {', '.join(ROLES)}")
    if (value == "customer") != (customer is not None):
        raise InvalidInput(
            "customer: a customer user names its customer account, and only a customer user"
        )
    return str(value)


class User(Aggregate):
    """A person or system that acts on the ledger, in one role."""

    @staticmethod
    def create_id(username: str) -> UUID:
        return user_id(username)

    @event("Created")
    def __init__(self, username: str, role: str, customer: str | None, display_name: str) -> None:
        self.username = username
        self.role = role
        self.customer = customer  # the customer account a portal user sees, else None
        self.display_name = display_name
        self.status = ACTIVE
        self.has_password = False
        self.sessions: dict[str, datetime] = {}  # open session id → when it expires

    def change_role(self, role: str, customer: str | None) -> None:
        if (role, customer) == (self.role, self.customer):
            raise RuleViolation(
                f"user {self.username} already has that role", rule="role-unchanged"
            )
        self._role_changed(role, customer, self.role)

    @event("RoleChanged")
    def _role_changed(self, role: str, customer: str | None, previous: str) -> None:
        self.role, self.customer = role, customer
        self.sessions = {}  # a new role starts from a new sign-in

    def disable(self, reason: str) -> None:
        if self.status == DISABLED:
            raise RuleViolation(f"user {self.username} is already disabled", rule="user-status")
        self._disabled(reason)

    @event("Disabled")
    def _disabled(self, reason: str) -> None:
        self.status = DISABLED
        self.sessions = {}

    def enable(self, reason: str) -> None:
        if self.status == ACTIVE:
            raise RuleViolation(f"user {self.username} is not disabled", rule="user-status")
        self._enabled(reason)

    @event("Enabled")
    def _enabled(self, reason: str) -> None:
        self.status = ACTIVE

    @event("PasswordSet")
    def password_set(self) -> None:
        """The password changed (its hash is in the credential store, never here)."""
        self.has_password = True

    def sign_in(self, session_id: str, expires_at: datetime, now: datetime) -> None:
        if self.status != ACTIVE:
            raise RuleViolation(f"user {self.username} is disabled", rule="user-disabled")
        self._signed_in(session_id, expires_at)
        self.sessions = {s: at for s, at in self.sessions.items() if at > now}

    @event("SignedIn")
    def _signed_in(self, session_id: str, expires_at: datetime) -> None:
        self.sessions[session_id] = expires_at

    def sign_out(self, session_id: str) -> None:
        if session_id not in self.sessions:
            raise RuleViolation("that session has already ended", rule="session-ended")
        self._signed_out(session_id)

    @event("SignedOut")
    def _signed_out(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    def session_open(self, session_id: str, now: datetime) -> bool:
        expires = self.sessions.get(session_id)
        return self.status == ACTIVE and expires is not None and expires > now


class ApiKey(Aggregate):
    """A key one user's integration or script signs requests with; revoked for good."""

    @staticmethod
    def create_id(key_id: str) -> UUID:
        return api_key_id(key_id)

    @event("Issued")
    def __init__(self, key_id: str, username: str, label: str, expires_at: datetime | None) -> None:
        self.key_id = key_id
        self.username = username
        self.label = label
        self.expires_at = expires_at
        self.revoked = False

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise RuleViolation(f"key {self.key_id} is already revoked", rule="key-revoked")
        self._revoked(reason)

    @event("Revoked")
    def _revoked(self, reason: str) -> None:
        self.revoked = True

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)

"""Commands on who may act: users, their roles, API keys and sign-in sessions.

Secrets are made and checked outside (api/credentials.py); these commands record the
facts that switch them on and off, attributed like every other command.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.access import (
    KEY_ID,
    ApiKey,
    User,
    api_key_id,
    role,
    user_id,
    username,
)
from domain.application import Decision, LedgerBase, Outcome
from domain.customers import customer_id
from domain.exceptions import InvalidInput, NotFound
from domain.values import Meta, code, text

A = TypeVar("A", User, ApiKey)


def _user_result(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "customer": user.customer,
        "status": user.status,
        "version": user.version,
    }


class AccessCommands(LedgerBase):
    def user(self, name: str) -> User:
        """A user as stored now (always read fresh: access decisions never trust a cache)."""
        return self._fresh(User, user_id(name), f"user {name!r}")

    def api_key(self, key_id: str) -> ApiKey:
        if not KEY_ID.match(key_id):
            raise NotFound("key not found")
        return self._fresh(ApiKey, api_key_id(key_id), f"key {key_id}")

    def _fresh(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        """Read from the store, never from this process's cache of saved aggregates."""
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(found, cls):
            raise NotFound(f"{what} not found")
        return found

    def _customer_of(self, given: Any) -> str | None:
        if given is None:
            return None
        account = code(given, "customer")
        if not self.exists(customer_id(account)):
            raise InvalidInput(f"customer: no customer account {account!r}")
        return account

    def create_user(
        self,
        meta: Meta,
        *,
        name: str,
        role_: str,
        customer: str | None = None,
        display_name: str = "",
    ) -> Outcome:
        """A new user in one role (a customer user names its customer account)."""
        who = username(name)
        account = self._customer_of(customer)
        in_role = role(role_, account)
        shown = text(display_name, "display_name", required=False)

        def decide() -> Decision:
            self.require_absent(user_id(who), f"user {who!r}")
            user = User(who, in_role, account, shown)
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

    def change_user_role(
        self, meta: Meta, *, name: str, role_: str, customer: str | None = None
    ) -> Outcome:
        """Move a user to another role; their open sessions end (keys carry the new role)."""
        account = self._customer_of(customer)
        new_role = role(role_, account)

        def decide() -> Decision:
            user = self.user(name)
            user.change_role(new_role, account)
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

    def set_user_enabled(self, meta: Meta, *, name: str, enabled: bool, reason: str) -> Outcome:
        """Disable a user (every key and session stops working at once) or enable again."""
        why = text(reason, "reason")

        def decide() -> Decision:
            user = self.user(name)
            if enabled:
                user.enable(why)
            else:
                user.disable(why)
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

    def record_password_set(self, meta: Meta, *, name: str) -> Outcome:
        def decide() -> Decision:
            user = self.user(name)
            user.password_set()
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

    def issue_api_key(
        self,
        meta: Meta,
        *,
        name: str,
        key_id: str,
        label: str,
        expires_at: datetime | None = None,
    ) -> Outcome:
        """Record a key issued to an active user (its secret's hash is stored outside)."""
        what = text(label, "label", required=False)

        def decide() -> Decision:
            user = self.user(name)
            if user.status != "active":
                raise InvalidInput(f"user {name!r} is disabled: no key can be issued")
            self.require_absent(api_key_id(key_id), f"key {key_id}")
            key = ApiKey(key_id, user.username, what, expires_at)
            result = {"key_id": key_id, "username": user.username, "label": what,
                      "role": user.role, "expires_at": expires_at}  # fmt: skip
            return Decision([key], result)

        return self.execute(meta, decide)

    def revoke_api_key(self, meta: Meta, *, key_id: str, reason: str) -> Outcome:
        why = text(reason, "reason")

        def decide() -> Decision:
            key = self.api_key(key_id)
            key.revoke(why)
            return Decision([key], {"key_id": key_id, "username": key.username, "revoked": True})

        return self.execute(meta, decide)

    def record_sign_in(
        self, meta: Meta, *, name: str, session_id: str, expires_at: datetime
    ) -> Outcome:
        def decide() -> Decision:
            user = self.user(name)
            user.sign_in(session_id, expires_at, meta.at)
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

    def record_sign_out(self, meta: Meta, *, name: str, session_id: str) -> Outcome:
        def decide() -> Decision:
            user = self.user(name)
            user.sign_out(session_id)
            return Decision([user], _user_result(user))

        return self.execute(meta, decide)

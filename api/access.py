"""Who is calling: API keys and sign-in sessions turned into a principal (name, role,
customer), and the commands that make, change and end credentials.

A key is `olk_<key id>_<secret>`: the key id names its ApiKey aggregate, the secret is
checked against the SHA-256 kept in the credential store. A session token is a JWT
(PyJWT, HS256) naming a session the user's aggregate holds open; signing out or disabling
the user ends it, whatever the token's own expiry says.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from api.credentials import (
    MIN_PASSWORD,
    CredentialStore,
    hash_key_secret,
    hash_password,
    verify_password,
)
from api.settings import Settings
from domain.access import KEY_ID, KEY_PREFIX
from domain.application import Outcome
from domain.exceptions import DomainError, InvalidInput, NotFound, RuleViolation
from domain.ledger import Ledger
from domain.permissions import allows
from domain.values import Meta

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: every event it causes carries its name and role."""

    name: str
    role: str
    customer: str | None  # the account a customer user is confined to
    via: str  # "key" or "session"
    credential: str  # the key id or session id

    def may(self, permission: str) -> bool:
        return allows(self.role, permission)


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    session_id: str
    expires_at: datetime


class SignInRefused(DomainError):
    """Wrong name or password, or locked out after too many failures."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message, rule="sign-in-refused")
        self.retry_after = retry_after


class Access:
    def __init__(self, ledger: Ledger, credentials: CredentialStore, settings: Settings) -> None:
        self.ledger, self.credentials, self.settings = ledger, credentials, settings
        self._signing_key: bytes | None = None

    # -- users and keys ---------------------------------------------------------------------

    def create_user(
        self,
        meta: Meta,
        *,
        name: str,
        role: str,
        customer: str | None = None,
        display_name: str = "",
        password: str | None = None,
    ) -> Outcome:
        if password is not None:
            _check_password(password)
        outcome = self.ledger.create_user(
            meta, name=name, role_=role, customer=customer, display_name=display_name
        )
        if password is not None:
            self.set_password(meta, name=name, password=password)
        return outcome

    def issue_key(
        self, meta: Meta, *, name: str, label: str = "", expires_at: datetime | None = None
    ) -> tuple[Outcome, str]:
        """A new key for the user; the whole key is returned here and never again."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        # The hash first: a hash whose Issued event never lands opens nothing.
        self.credentials.put("key", key_id, hash_key_secret(secret))
        outcome = self.ledger.issue_api_key(
            meta, name=name, key_id=key_id, label=label, expires_at=expires_at
        )
        return outcome, f"{KEY_PREFIX}{key_id}_{secret}"

    def revoke_key(self, meta: Meta, *, key_id: str, reason: str) -> Outcome:
        return self.ledger.revoke_api_key(meta, key_id=key_id, reason=reason)

    def set_password(self, meta: Meta, *, name: str, password: str) -> Outcome:
        _check_password(password)
        self.ledger.user(name)  # refuse an unknown user before storing anything
        self.credentials.put("password", name, hash_password(password))
        return self.ledger.record_password_set(meta, name=name)

    # -- authentication -------------------------------------------------------------------

    def by_key(self, token: str, now: datetime) -> Principal | None:
        """The key's user, if the key is whole, known, live and its user active."""
        parts = token.removeprefix(KEY_PREFIX).split("_", 1)
        if not token.startswith(KEY_PREFIX) or len(parts) != 2 or not KEY_ID.match(parts[0]):
            return None
        key_id, secret = parts
        stored = self.credentials.get("key", key_id)
        if stored is None or not hmac.compare_digest(stored, hash_key_secret(secret)):
            return None
        try:
            key = self.ledger.api_key(key_id)
            user = self.ledger.user(key.username)
        except NotFound:
            return None
        if not key.usable(now) or user.status != "active":
            return None
        return Principal(user.username, user.role, user.customer, "key", key_id)

    def by_session(self, token: str, now: datetime) -> tuple[Principal, str] | None:
        """The session's user and the session's CSRF token, if the session is open."""
        try:
            claims = jwt.decode(
                token, self.signing_key(), algorithms=[ALGORITHM],
                options={"require": ["sub", "sid", "exp", "csrf"]},
            )  # fmt: skip
        except jwt.PyJWTError:
            return None
        try:
            user = self.ledger.user(str(claims["sub"]))
        except NotFound:
            return None
        if not user.session_open(str(claims["sid"]), now):
            return None
        principal = Principal(user.username, user.role, user.customer, "session", claims["sid"])
        return principal, str(claims["csrf"])

    def sign_in(self, meta: Meta, name: str, password: str) -> Session:
        now = meta.at
        locked = self.credentials.locked_until(name, now)
        if locked is not None:
            wait = int((locked - now).total_seconds()) + 1
            raise SignInRefused(f"too many failed sign-ins: try again in {wait} s", wait)
        stored = self.credentials.get("password", name)
        try:
            user = self.ledger.user(name) if stored is not None else None
        except NotFound:
            user = None
        if not verify_password(password, stored) or user is None or user.status != "active":
            failures = self.credentials.failed(
                name, now, self.settings.sign_in_max_failures,
                timedelta(seconds=self.settings.sign_in_lockout_seconds),
            )  # fmt: skip
            if failures >= self.settings.sign_in_max_failures:
                wait = self.settings.sign_in_lockout_seconds
                raise SignInRefused(f"too many failed sign-ins: try again in {wait} s", wait)
            raise SignInRefused("unknown user name or wrong password")
        self.credentials.succeeded(name)
        session_id = uuid.uuid4().hex
        expires = now + timedelta(seconds=self.settings.session_seconds)
        meta = Meta(meta.actor if meta.actor != "anonymous" else name, meta.correlation_id,
                    meta.command, meta.at, role=user.role)  # fmt: skip
        self.ledger.record_sign_in(meta, name=name, session_id=session_id, expires_at=expires)
        csrf = secrets.token_urlsafe(24)
        claims: dict[str, Any] = {"sub": name, "sid": session_id, "exp": expires,
                                  "iat": now, "csrf": csrf}  # fmt: skip
        token = jwt.encode(claims, self.signing_key(), algorithm=ALGORITHM)
        return Session(token, csrf, session_id, expires)

    def sign_out(self, meta: Meta, principal: Principal) -> Outcome:
        if principal.via != "session":
            raise RuleViolation(
                "a key is not a session: revoke the key instead", rule="not-a-session"
            )
        return self.ledger.record_sign_out(
            meta, name=principal.name, session_id=principal.credential
        )

    def signing_key(self) -> bytes:
        if self._signing_key is None:
            given = self.settings.session_secret
            self._signing_key = (
                given.get_secret_value().encode() if given else self.credentials.signing_key()
            )
        return self._signing_key


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 1000:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters (and at most 1000)")


def now() -> datetime:
    return datetime.now(UTC)

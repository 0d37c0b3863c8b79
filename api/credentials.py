"""Where secrets live: hashes of API-key secrets and passwords, sign-in failures, and the
key that signs session tokens. Never in the event log (an export or replay would carry
them); the log's facts (a key issued and not revoked, a user active) switch them on.

SQLite: a file of its own beside the ledger (`…-credentials.db`). PostgreSQL: tables in
the events schema, beside the log they belong with — not in the read-model schema, which
may be dropped and rebuilt at any time. Back it up with the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from projections.store import Cursor, ViewStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and ~50 ms per check
MIN_PASSWORD = 12


def hash_key_secret(secret: str) -> str:
    """A key's secret is 256 random bits: one SHA-256 is as strong as any slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$" + "$".join(encoded)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches; with nothing stored, as slow as a real check anyway."""
    if stored is None:
        hash_password(password)  # the same time whether or not the user exists
        return False
    _, n, r, p, salt, digest = stored.split("$")
    given = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(given, base64.b64decode(digest))


class CredentialStore:
    """The secrets' tables, in the store and schema given (see the module's docstring)."""

    def __init__(self, store: ViewStore, prefix: str = "") -> None:
        self.store = store
        self.secrets_table = f"{prefix}credentials"
        self.failures_table = f"{prefix}sign_in_failures"

    def create_tables(self) -> None:
        with self.store.transaction() as cur:
            cur.ddl(
                f"CREATE TABLE IF NOT EXISTS {self.secrets_table} (kind TEXT NOT NULL,"
                " name TEXT NOT NULL, secret TEXT NOT NULL, PRIMARY KEY (kind, name))"
            )
            cur.ddl(
                f"CREATE TABLE IF NOT EXISTS {self.failures_table} (username TEXT PRIMARY KEY,"
                " failures INTEGER NOT NULL, locked_until TEXT)"
            )

    # -- secrets ------------------------------------------------------------------------------

    def put(self, kind: str, name: str, secret: str) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                f"DELETE FROM {self.secrets_table} WHERE kind = ? AND name = ?", (kind, name)
            )
            cur.execute(
                f"INSERT INTO {self.secrets_table} (kind, name, secret) VALUES (?, ?, ?)",
                (kind, name, secret),
            )

    def get(self, kind: str, name: str) -> str | None:
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT secret FROM {self.secrets_table} WHERE kind = ? AND name = ?",
                (kind, name),
            ).fetchone()
        return None if row is None else str(row[0])

    def signing_key(self) -> bytes:
        """The key session tokens are signed with: made on first use, shared by every process
        on this store, so a token from one API worker is good at the next."""
        found = self.get("signing", "session")
        if found is None:
            with self.store.transaction() as cur:
                _insert_if_absent(cur, self.secrets_table, secrets.token_urlsafe(48))
            found = self.get("signing", "session")
        assert found is not None
        return found.encode()

    # -- failed sign-ins ------------------------------------------------------------------

    def locked_until(self, username: str, now: datetime) -> datetime | None:
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT locked_until FROM {self.failures_table} WHERE username = ?", (username,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        until = datetime.fromisoformat(str(row[0]))
        return until if until > now else None

    def failed(self, username: str, now: datetime, limit: int, lockout: timedelta) -> int:
        """Count one more failure; the `limit`-th in a row locks the name for `lockout`.
        Returns the failures in a row so far (0 once a lockout starts the count again)."""
        with self.store.transaction() as cur:
            row = cur.execute(
                f"SELECT failures FROM {self.failures_table} WHERE username = ?", (username,)
            ).fetchone()
            failures = (int(row[0]) if row else 0) + 1
            locked = (now + lockout).isoformat() if failures >= limit else None
            cur.execute(f"DELETE FROM {self.failures_table} WHERE username = ?", (username,))
            cur.execute(
                f"INSERT INTO {self.failures_table} (username, failures, locked_until)"
                " VALUES (?, ?, ?)",
                (username, 0 if locked else failures, locked),
            )
        return failures

    def succeeded(self, username: str) -> None:
        with self.store.transaction() as cur:
            cur.execute(f"DELETE FROM {self.failures_table} WHERE username = ?", (username,))


def _insert_if_absent(cur: Cursor, table: str, value: str) -> None:
    """Two processes making the first key at once: the first insert wins, both read it."""
    cur.execute(
        f"INSERT INTO {table} (kind, name, secret) VALUES ('signing', 'session', ?)"
        " ON CONFLICT (kind, name) DO NOTHING",
        (value,),
    )

"""Access read model: users and their keys as they are now, for the administrator's lists.

Never consulted to let anyone in: authentication reads the user's and key's own events
(api/access.py), so a revocation counts at once, not when this model catches up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.access import ApiKey, User
from projections.base import PositionedEvent, Projection, events_of
from projections.store import Cursor


class AccessProjection(Projection):
    """`users` and `api_keys`: who exists, in which role, with which keys (no secrets)."""

    name = "access"
    event_classes = (
        *events_of(
            User, "Created", "RoleChanged", "Disabled", "Enabled", "PasswordSet", "SignedIn"
        ),
        *events_of(ApiKey, "Issued", "Revoked"),
    )
    tables = {
        "users": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " username TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
            " customer TEXT, display_name TEXT NOT NULL, status TEXT NOT NULL,"
            " has_password {bool} NOT NULL, created_at {ts}, last_sign_in_at {ts},"
            " version INTEGER NOT NULL)"
        ),
        "api_keys": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " key_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE,"
            " username TEXT NOT NULL, label TEXT NOT NULL, issued_at {ts}, expires_at {ts},"
            " revoked_at {ts})"
        ),
    }

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        users, keys = self.t("users"), self.t("api_keys")
        for _, e in events:
            kind = type(e).__qualname__
            origin = str(e.originator_id)
            if kind == "User.Created":
                cur.execute(
                    f"INSERT INTO {users} (username, user_id, role, customer, display_name,"
                    " status, has_password, created_at, version) VALUES (?,?,?,?,?,?,?,?,?)",
                    (e.username, origin, e.role, e.customer, e.display_name, "active", False,
                     e.timestamp, e.originator_version),
                )  # fmt: skip
            elif kind == "ApiKey.Issued":
                cur.execute(
                    f"INSERT INTO {keys} (key_id, aggregate_id, username, label, issued_at,"
                    " expires_at) VALUES (?,?,?,?,?,?)",
                    (e.key_id, origin, e.username, e.label, e.timestamp, e.expires_at),
                )
            elif kind == "ApiKey.Revoked":
                cur.execute(
                    f"UPDATE {keys} SET revoked_at = ? WHERE aggregate_id = ?",
                    (e.timestamp, origin),
                )
            else:
                assignments, values = _user_change(kind, e)
                cur.execute(
                    f"UPDATE {users} SET {assignments}, version = ? WHERE user_id = ?",
                    (*values, e.originator_version, origin),
                )


def _user_change(kind: str, e: Any) -> tuple[str, tuple[Any, ...]]:
    if kind == "User.RoleChanged":
        return "role = ?, customer = ?", (e.role, e.customer)
    if kind == "User.Disabled":
        return "status = ?", ("disabled",)
    if kind == "User.Enabled":
        return "status = ?", ("active",)
    if kind == "User.PasswordSet":
        return "has_password = ?", (True,)
    return "last_sign_in_at = ?", (e.timestamp,)  # User.SignedIn

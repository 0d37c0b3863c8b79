"""Shareable tracking links: one order's tracking page, readable without signing in.

A link carries a token naming the order and an expiry, signed (HS256) with a key derived
from the session signing key (api/access.py): nothing is stored, so a link lives until it
expires, and changing the signing key ends every link with every session. The derived key
keeps the two kinds of token apart: a session token is never a link, nor a link a session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

from api.access import ALGORITHM, Access

PURPOSE = b"orderledger tracking link v1"
TYPE = "tracking-link"


@dataclass(frozen=True)
class TrackingLink:
    token: str
    number: str
    expires_at: datetime


class LinkRefused(Exception):
    """The link cannot open the order: `why` is tampered, expired or another order."""

    def __init__(self, why: Literal["invalid", "expired", "other-order"]) -> None:
        super().__init__(why)
        self.why = why


def _key(access: Access) -> bytes:
    return hmac.new(access.signing_key(), PURPOSE, hashlib.sha256).digest()


def issue(access: Access, number: str, now: datetime, days: int) -> TrackingLink:
    """A link to `number`'s tracking page, open for `days` from `now`."""
    expires = now + timedelta(days=days)
    claims = {"typ": TYPE, "ord": number, "iat": now, "exp": expires}
    return TrackingLink(jwt.encode(claims, _key(access), algorithm=ALGORITHM), number, expires)


def check(access: Access, token: str, number: str, now: datetime) -> None:
    """Nothing if `token` opens `number` at `now`; otherwise `LinkRefused` saying why (a
    token whose signature fails is invalid, whatever else it claims)."""
    try:
        claims = jwt.decode(
            token, _key(access), algorithms=[ALGORITHM], options={"require": ["exp", "ord", "typ"]},
            leeway=0,
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise LinkRefused("expired") from None
    except jwt.PyJWTError:
        raise LinkRefused("invalid") from None
    if claims["typ"] != TYPE:
        raise LinkRefused("invalid")
    if claims["ord"] != number:
        raise LinkRefused("other-order")
    if datetime.fromtimestamp(int(claims["exp"]), now.tzinfo) <= now:
        raise LinkRefused("expired")

"""Field-level permissions: what an answer may show the caller.

Standard cost and margin need `fields:cost`; internal notes need `fields:internal`; a
customer user never sees the fields that are the business's own (who did what inside, the
approval chain, credit decisions, reservations). Applied to every JSON answer on its way
out — single reads, lists, audit and replay output alike — by `RedactingMiddleware`, and to
the server-sent events of a live order by the stream itself (`redact`).

A removed field is gone, not blanked: the answer is what a caller without the permission
would have been built from.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import Principal

COST_FIELDS = frozenset({"standard_cost", "margin", "unit_cost", "cost_price"})
INTERNAL_FIELDS = frozenset({"internal_notes"})
# The business's own, never a customer's to see: who inside did what, the approval chain,
# credit decisions and their figures, stock reserved or short, command bookkeeping.
STAFF_FIELDS = frozenset(
    {
        "actor", "correlation_id", "causation_id", "command", "salesperson",
        "approval", "awaiting_role", "credit_hold", "credit_release", "figures", "flags",
        "reserved", "short", "credit_limit", "recorded_by", "requested_by", "decided_by",
        "decided_role", "workflow",
    }
)  # fmt: skip


def hidden_fields(principal: Principal | None) -> frozenset[str]:
    """The fields an answer to this caller leaves out (none for public answers)."""
    if principal is None:
        return frozenset()
    hidden: set[str] = set()
    if not principal.may("fields:cost"):
        hidden |= COST_FIELDS
    if not principal.may("fields:internal"):
        hidden |= INTERNAL_FIELDS
    if principal.customer is not None:
        hidden |= STAFF_FIELDS
    return frozenset(hidden)


def redact(value: Any, hidden: frozenset[str]) -> Any:
    """`value` without the `hidden` keys, at any depth."""
    if isinstance(value, dict):
        return {k: redact(v, hidden) for k, v in value.items() if k not in hidden}
    if isinstance(value, list):
        return [redact(item, hidden) for item in value]
    return value


def _mentions(body: bytes, hidden: frozenset[str]) -> bool:
    return any(b'"' + name.encode() + b'"' in body for name in hidden)


class RedactingMiddleware:
    """Rewrites JSON answers that carry a field the caller may not see; others pass as they
    are (a byte scan decides, so most answers are never parsed again)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def redacting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not _is_json(message):
                    start = None
                    await send(message)
                    return
                start = message  # held until the whole body is here
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            principal = scope.get("state", {}).get("principal")
            hidden = hidden_fields(principal)
            if hidden and _mentions(body, hidden):
                body = orjson.dumps(redact(orjson.loads(body), hidden))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, redacting_send)


def _is_json(start: Message) -> bool:
    for key, value in start.get("headers", ()):
        if key.lower() == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json"
    return False

"""Live order pages: an order's timeline as server-sent events, history first, then live.

Each timeline row is one event (`id` = log position, `event` = kind, `data` = the row as
JSON), so a browser's `EventSource` resumes after a dropped connection with `Last-Event-ID`
and misses nothing. New rows are read when the projection runner reports progress on the
orders read model; a runner in another process is noticed by a poll every
`projection_poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from api.auth import PrincipalDep, allow, require_own
from api.deps import RuntimeDep, to_json_ready
from api.errors import ApiError
from api.redaction import hidden_fields, redact
from api.responses import dumps
from api.runtime import Runtime
from api.types import MAX_POSITION, CodePath
from projections import queries

router = APIRouter(prefix="/sales-orders", tags=["sales orders"])

TERMINAL = frozenset({"cancelled", "delivered"})  # statuses no event ever leaves
RETRY = b"retry: 3000\n\n"  # milliseconds a browser waits before it reconnects
KEEP_ALIVE = b": keep-alive\n\n"
PAGE = 500  # rows per read: a long history is sent in pieces, not loaded at once
# Proxies (nginx) buffer responses by default, which would hold events back.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_POSITION = re.compile(r"^[0-9]{1,19}$")
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `id` log position, `event` kind, `data` JSON row",
        # One event (the OpenAPI 3.2 reading of an event stream's schema).
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["id", "event", "data"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[0-9]+$"},
                        "event": {"type": "string"},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
    }
}


@router.get(
    "/{number}/stream", responses=STREAM_DOC, dependencies=[allow("orders:read", customers=True)]
)
async def follow_sales_order(
    number: CodePath,
    request: Request,
    rt: RuntimeDep,
    principal: PrincipalDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Only changes after this position")
    ] = None,
    until_terminal: Annotated[
        bool, Query(description="Close the stream once the order is cancelled or delivered")
    ] = False,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event id (sent by EventSource)")
    ] = None,
) -> Response:
    """Follow an order live: its timeline so far, then each change as it is recorded."""
    # Asked of the ledger, not the read model: an order taken a moment ago may not be
    # projected yet, and is no less there. Refused before the stream starts.
    order = await run_in_threadpool(rt.ledger.sales_order, number)
    require_own(principal.customer, order.customer, f"sales order {number!r} not found")
    feed = OrderFeed(rt, request, number, _resume_after(last_event_id, after), until_terminal)
    feed.hidden = hidden_fields(principal)
    return ClosingStreamingResponse(feed.frames(), media_type="text/event-stream", headers=HEADERS)


class ClosingStreamingResponse(StreamingResponse):
    """Closes its generator however the response ends.

    A client that goes away cancels the send in progress; a generator paused at its
    `yield` at that moment would otherwise keep its listener until it is garbage
    collected, whenever that is.
    """

    body_iterator: AsyncGenerator[bytes, None]

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


def _resume_after(last_event_id: str | None, after: int | None) -> int:
    """Last-Event-ID wins: a reconnecting browser repeats the URL (and its `after`) as first
    opened, but the header says how far it really got."""
    if last_event_id is None or not last_event_id.strip():
        return after or 0
    if not _POSITION.match(last_event_id.strip()) or int(last_event_id) > MAX_POSITION:
        raise ApiError(
            422, "Last-Event-ID must be an event id from this stream", "invalid-last-event-id"
        )
    return int(last_event_id)


def _event(row: dict[str, Any]) -> bytes:
    """One timeline row as one event; orjson escapes newlines, so `data` stays one line."""
    data = dumps(to_json_ready(row))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (row["position"], str(row["kind"]).encode(), data)


class OrderFeed:
    """One client following one order: how far it has been sent, and how it is woken."""

    def __init__(
        self, rt: Runtime, request: Request, number: str, after: int, until_terminal: bool
    ) -> None:
        self.rt, self.request, self.number = rt, request, number
        self.after = after
        self.until_terminal = until_terminal
        self.progress = asyncio.Event()
        self.hidden: frozenset[str] = frozenset()  # fields this caller may not see

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The retry hint, then changes and keep-alives until there is reason to stop."""
        listener = self._listener(asyncio.get_running_loop())
        self.rt.runner.progress_listeners.append(listener)
        try:
            yield RETRY
            async for frame in self._follow():
                yield frame
        finally:  # also when the client goes away: the response task is cancelled
            self.rt.runner.progress_listeners.remove(listener)

    def _listener(self, loop: asyncio.AbstractEventLoop) -> Callable[[str, int], None]:
        """Runs on the runner's thread: only hands the news to this stream's event loop."""

        def woken(name: str, _position: int) -> None:
            if name == "orders":
                with contextlib.suppress(RuntimeError):  # the loop has already closed
                    loop.call_soon_threadsafe(self.progress.set)

        return woken

    async def _follow(self) -> AsyncIterator[bytes]:
        heartbeat = self.rt.settings.sse_heartbeat_seconds
        quiet_since = time.monotonic()
        while not await self._told_to_stop():
            self.progress.clear()  # before reading: progress made during the read still wakes
            rows, done = await run_in_threadpool(self._read)
            for row in rows:
                yield _event(redact(row, self.hidden) if self.hidden else row)
            if done:
                return
            now = time.monotonic()
            if rows:
                quiet_since = now
            elif now - quiet_since >= heartbeat:
                yield KEEP_ALIVE
                quiet_since = now
            if len(rows) < PAGE:
                await self._wait(quiet_since + heartbeat - now)

    def _read(self) -> tuple[list[dict[str, Any]], bool]:
        """The next rows (in a worker thread), and whether the stream has said everything."""
        with self.rt.store.read() as cur:
            # Status before rows: a terminal status seen here was committed with its row,
            # so that row is among those read next; no later row can follow it.
            status = queries.order_status(cur, self.number) if self.until_terminal else None
            rows = queries.order_changes(cur, self.number, after=self.after, limit=PAGE)
        if rows:
            self.after = int(rows[-1]["position"])
        return rows, status in TERMINAL and len(rows) < PAGE

    async def _wait(self, until_keep_alive: float) -> None:
        """Until the orders projection moves, the fallback poll, or the next keep-alive."""
        poll = self.rt.settings.projection_poll_seconds
        with anyio.move_on_after(max(0.0, min(poll, until_keep_alive))):
            await self.progress.wait()

    async def _told_to_stop(self) -> bool:
        return self.rt.closing.is_set() or await self.request.is_disconnected()

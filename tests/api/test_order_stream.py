"""GET /sales-orders/{number}/stream: an order's timeline as server-sent events.

Served by a real uvicorn server on a free port (a streaming response through an in-process
test transport would hide exactly what matters here: bytes reaching a client while the
response is still open, disconnects and shutdown). Read timeouts are the deadlines: a frame
that does not come fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.runtime import Runtime, open_runtime
from api.server import LedgerServer
from api.settings import Settings
from tests.api.conftest import Api, TestClient, assert_problem, named_callers
from tests.api.test_order_views import customer, take_order
from tests.conftest import drop_schemas, make_settings

DEADLINE = 10.0  # seconds any expected frame may take to arrive


@dataclass
class Served:
    """The app under uvicorn, a client for it, and what runs behind it."""

    api: Api
    client: httpx.Client
    server: LedgerServer
    thread: threading.Thread
    runtime: Runtime


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    """Run the app as `orderledger serve` does, on a socket bound here (no port race)."""
    runtime = open_runtime(settings)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        named_callers(create_app(settings, runtime=runtime)), port=port, log_level="warning"
    )
    server = LedgerServer(config, runtime)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn did not start"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client:
            # Api only uses the httpx.Client side of a TestClient.
            yield Served(Api(cast(TestClient, client)), client, server, thread, runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        runtime.close()
        listening.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def _wait_until(condition: Any, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    with serve(settings) as running:
        yield running


@pytest.fixture
def approved(served: Served) -> Served:
    return approve_an_order(served)


def approve_an_order(served: Served) -> Served:
    """SO-1 taken and approved for customer C-1: 3 of SKU-1 reserved out of 10 in WH-1."""
    api = served.api
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.produce("SKU-1", "WH-1", "10")
    customer(api)
    take_order(api, "SO-1")
    api.ok("/sales-orders/SO-1/submit")  # no approval needed: approved and reserved at once
    return served


# What submitting SO-1 records: approval, then its stock is reserved and confirmed.
APPROVED = ["Created", "Submitted", "StageChanged", "StockAllocated", "StageChanged"]


def history_of(frames: Iterator[dict[str, str]]) -> list[dict[str, Any]]:
    """The approved order's history, as the stream sends it first."""
    return [next_event(frames) for _ in APPROVED]


# -- reading an event stream -------------------------------------------------------------------


def sse_frames(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """Frames of an event stream as field → value (comment lines under ':'), per the spec:
    a blank line ends a frame, one leading space after the colon is dropped, `data` lines
    join with newlines, and an unfinished frame at the end is discarded."""
    frame: dict[str, str] = {}
    for line in lines:
        if not line:
            if frame:
                yield frame
            frame = {}
            continue
        name, _, value = line.partition(":")
        name, value = name or ":", value.removeprefix(" ")
        frame[name] = f"{frame[name]}\n{value}" if name == "data" and name in frame else value
    # a frame cut off by the end of the stream is never dispatched


@contextmanager
def stream(
    served: Served, *, headers: dict[str, str] | None = None, **params: Any
) -> Iterator[Iterator[dict[str, str]]]:
    """Open SO-1's stream; yield its frames after checking the retry hint comes first."""
    with served.client.stream(
        "GET", "/sales-orders/SO-1/stream", params=params, headers=headers
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        frames = sse_frames(response.iter_lines())
        assert next(frames) == {"retry": "3000"}
        yield frames


def next_event(frames: Iterator[dict[str, str]]) -> dict[str, Any]:
    """The next event, skipping keep-alives; its data parsed, its id checked against it."""
    frame = next(frame for frame in frames if "data" in frame)
    data: dict[str, Any] = json.loads(frame["data"])
    assert frame["id"] == str(data["position"])
    assert frame["event"] == data["kind"]
    return data


def kinds(events: Iterable[dict[str, Any]]) -> list[str]:
    return [event["kind"] for event in events]


def remaining_events(frames: Iterator[dict[str, str]]) -> list[dict[str, Any]]:
    """Every event until the server ends the stream."""
    return [json.loads(frame["data"]) for frame in frames if "data" in frame]


def timeline(served: Served) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = served.api.read(
        "/sales-orders/SO-1/timeline", min_position=served.api.head()
    )["items"]
    return items


# -- history, then live ------------------------------------------------------------------------


def test_the_history_comes_first_in_order_then_a_shipment_arrives_live(approved: Served) -> None:
    with stream(approved) as frames:
        history = history_of(frames)
        shipped = approved.api.ok(
            "/sales-orders/SO-1/shipments",
            {"lines": [{"line_no": 1, "quantity": "3"}], "carrier": "UPS",
             "tracking_number": "1Z9"},
            201,
        )  # fmt: skip
        live = [next_event(frames), next_event(frames)]  # within the client's read timeout
    assert kinds(history) == APPROVED
    positions = [event["position"] for event in [*history, *live]]
    assert positions == sorted(set(positions))
    assert live[-1]["position"] <= shipped["position"]  # its stock item event comes last
    steps = [(e["kind"], e["from_stage"], e["to_stage"], e["status"]) for e in live]
    assert steps == [
        ("Shipped", "stock_confirmed", "stock_confirmed", "shipped"),
        ("StageChanged", "stock_confirmed", "shipped", "shipped"),
    ]
    assert "1Z9" in live[0]["detail"]
    # Each event is the whole timeline row, exactly as the timeline route answers it.
    assert [*history, *live] == [{"number": "SO-1", **step} for step in timeline(approved)]


def test_until_terminal_closes_the_stream_once_the_order_is_cancelled(approved: Served) -> None:
    with stream(approved, until_terminal="true") as frames:
        assert kinds(history_of(frames)) == APPROVED
        approved.api.ok("/sales-orders/SO-1/cancel", {"reason": "customer changed their mind"})
        rest = remaining_events(frames)  # ends only because the server closes the stream
    assert kinds(rest) == ["Cancelled", "StageChanged"]
    assert rest[0]["detail"] == "customer changed their mind"
    assert (rest[1]["to_stage"], rest[1]["status"]) == ("cancelled", "cancelled")


# -- resuming ----------------------------------------------------------------------------------


@pytest.fixture
def cancelled(approved: Served) -> list[dict[str, Any]]:
    """SO-1 cancelled after approval; its whole stream, read to the end."""
    approved.api.ok("/sales-orders/SO-1/cancel", {"reason": "duplicate"})
    with stream(approved, until_terminal="true") as frames:
        return remaining_events(frames)


def test_last_event_id_resumes_after_that_event_without_repeating_any(
    approved: Served, cancelled: list[dict[str, Any]]
) -> None:
    assert kinds(cancelled) == [*APPROVED, "Cancelled", "StageChanged"]
    created = str(cancelled[0]["position"])
    with stream(approved, headers={"Last-Event-ID": created}, until_terminal="true") as frames:
        assert remaining_events(frames) == cancelled[1:]


def test_after_resumes_too_and_last_event_id_wins_over_it(
    approved: Served, cancelled: list[dict[str, Any]]
) -> None:
    positions = [event["position"] for event in cancelled]
    created, submitted_at, last = positions[0], positions[1], positions[-1]
    with stream(approved, after=created, until_terminal="true") as frames:
        assert remaining_events(frames) == cancelled[1:]
    resumed = {"Last-Event-ID": str(submitted_at)}
    with stream(approved, headers=resumed, after=created, until_terminal="true") as frames:
        assert remaining_events(frames) == cancelled[2:]
    with stream(approved, after=last, until_terminal="true") as frames:
        assert remaining_events(frames) == []


# -- refusals ----------------------------------------------------------------------------------


def test_the_stream_of_an_unknown_order_is_a_404_problem(served: Served) -> None:
    response = served.client.get("/sales-orders/NOPE/stream")
    assert_problem(response, 404, "not-found")


def test_a_last_event_id_that_is_not_a_position_is_refused(approved: Served) -> None:
    response = approved.client.get(
        "/sales-orders/SO-1/stream", headers={"Last-Event-ID": "yesterday"}
    )
    assert_problem(response, 422, "invalid-last-event-id")


# -- keeping the connection, and letting it go ---------------------------------------------------


@pytest.fixture
def chatty(store_kind: str, tmp_path: Path) -> Iterator[Served]:
    """The app with keep-alives after 0.2 s of silence, and an approved order SO-1."""
    settings = make_settings(store_kind, tmp_path, sse_heartbeat_seconds=0.2)
    try:
        with serve(settings) as running:
            yield approve_an_order(running)
    finally:
        if settings.is_postgres:
            drop_schemas(settings)


def test_a_quiet_stream_sends_keep_alive_comments(chatty: Served) -> None:
    with stream(chatty) as frames:
        assert kinds(history_of(frames)) == APPROVED
        assert next(frames) == {":": "keep-alive"}
        assert next(frames) == {":": "keep-alive"}


def test_a_client_that_goes_away_leaves_nothing_listening(approved: Served) -> None:
    listeners = approved.runtime.runner.progress_listeners
    with stream(approved) as frames:
        next_event(frames)
        assert len(listeners) == 1
    _wait_until(lambda: not listeners)
    assert listeners == []


def test_a_shutting_down_server_ends_open_streams(approved: Served) -> None:
    with stream(approved) as frames:
        # All read first: the projection may not have recorded the approval when the
        # stream opened, and a stream told to stop does not wait for it.
        assert kinds(history_of(frames)) == APPROVED
        approved.server.handle_exit(signal.SIGTERM, None)  # what `orderledger serve` receives
        assert remaining_events(frames) == []  # ends, instead of running into the read timeout
    approved.thread.join(timeout=DEADLINE)
    assert not approved.thread.is_alive()

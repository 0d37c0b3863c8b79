"""Hardening that only a real server shows: uvicorn on a free port, configured as
`orderledger serve` configures it (`api.server.server_config`).

An in-process test transport hands the app whole bodies; here bytes travel over a socket,
so a chunked body really streams, and the refusal can be seen arriving while the client is
still sending. The logs are those of `api.log_privacy.logging_config()`, captured from its
real handlers.
"""

from __future__ import annotations

import io
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.log_privacy import logging_config
from api.runtime import open_runtime
from api.server import LedgerServer, server_config
from api.settings import Settings
from tests.api.conftest import named_callers
from tests.conftest import drop_schemas, make_settings

DEADLINE = 10.0
LIMIT = 64 * 1024
WAREHOUSE = b'{"code": "WH-9", "name": "Nine"'  # valid JSON once closed, padded with blanks


@contextmanager
def serving(settings: Settings, log_config: dict[str, Any] | None = None) -> Iterator[int]:
    """The app served on 127.0.0.1; yields the port."""
    runtime = open_runtime(settings)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port: int = listening.getsockname()[1]
    app = named_callers(create_app(settings, runtime=runtime))
    config = server_config(app, settings, host="127.0.0.1", port=port, log_config=log_config)
    server = LedgerServer(config, runtime)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        runtime.close()
        listening.close()


@pytest.fixture
def limited(store_kind: str, tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(store_kind, tmp_path, max_body_bytes=LIMIT)
    yield settings
    if settings.is_postgres:
        drop_schemas(settings)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b""
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(status_line.split()[1]), headers, body


def post_head(port: int, extra: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    sock.sendall(
        f"POST /warehouses HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n"
        f"{extra}\r\n".encode()
    )
    return sock


def stream_until_answered(sock: socket.socket, total: int) -> int:
    """Send a chunked body of `total` bytes, stopping once an answer is readable; return
    the bytes sent by then."""
    sent, blank = 0, b" " * 16384
    for chunk in (WAREHOUSE, *[blank] * (total // len(blank))):
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
        if select.select([sock], [], [], 0)[0]:
            return sent
    sock.sendall(b"1\r\n}\r\n0\r\n\r\n")
    return sent + 1


def test_a_served_body_over_the_limit_is_refused_as_it_arrives_and_stores_nothing(
    limited: Settings,
) -> None:
    total = 32 * 1024 * 1024
    with serving(limited) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        with post_head(port, "Transfer-Encoding: chunked\r\n") as chunked:
            sent = stream_until_answered(chunked, total)
            status, headers, body = read_response(chunked)
        assert (status, headers["content-type"]) == (413, "application/problem+json")
        assert json.loads(body)["rule"] == "body-too-large"
        # Answered long before the body ended (what was sent by then is mostly still in the
        # two sockets' kernel buffers: about 3 MB on loopback).
        assert LIMIT < sent < total / 4, sent

        # A declared length over the limit is answered before a byte of the body is sent.
        with post_head(port, f"Content-Length: {total}\r\n") as declared:
            status, _, body = read_response(declared)
        assert (status, json.loads(body)["rule"]) == (413, "body-too-large")

        assert client.get("/healthz").json()["head"] == 0  # nothing was stored
        blanks = b" " * (LIMIT - len(WAREHOUSE) - 1)
        accepted = client.post(
            "/warehouses",
            content=iter([WAREHOUSE, blanks, b"}"]),  # chunked too, just within the limit
            headers={"Content-Type": "application/json"},
        )
        assert accepted.status_code == 201, accepted.text


def test_a_served_request_head_is_bounded_by_the_app_and_then_by_h11(tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path)
    with serving(settings) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        # Past the header limit yet within h11's: the app answers with a problem.
        large = client.get("/healthz", headers={"X-Filler": "x" * (settings.max_header_bytes)})
        assert large.status_code == 431
        assert large.json()["rule"] == "headers-too-large"
        # A head still incomplete past h11's limit is refused without reading more of it
        # (h11 checks only a head that spans reads: one read of up to 256 KiB is parsed).
        reply = send_head(port, b"GET /healthz HTTP/1.1\r\nX-Filler: " + b"x" * 1024 * 1024)
        assert reply in (b"", b"HTTP/1.1 400"), reply  # refused, or reset while sending
        ok = client.get("/healthz")
        assert ok.status_code == 200
        assert "server" not in ok.headers  # no server banner


def send_head(port: int, head: bytes) -> bytes:
    """The first 12 bytes of the answer to `head`; empty when the server reset the
    connection (it closes on a head it refuses, with the client's bytes still unread)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        try:
            sock.sendall(head)
            return sock.recv(12)
        except (ConnectionResetError, BrokenPipeError):
            return b""


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The server's logging set-up writing to a buffer; logging restored afterwards."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate, lg.filters[:])
        for lg in (logging.getLogger(name) for name in names)
    ]
    yield io.StringIO()
    for logger, handlers, level, propagate, filters in saved:
        logger.handlers[:], logger.filters[:] = handlers, filters
        logger.setLevel(level)
        logger.propagate = propagate


def test_the_served_logs_hold_no_query_values_credentials_or_addresses(
    tmp_path: Path, captured_logs: io.StringIO
) -> None:
    config = logging_config()
    for handler in config["handlers"].values():
        handler["stream"] = captured_logs
    query = "salesperson=Jane%20Doe&email=jane.doe%40example.com&limit=5"
    with serving(make_settings("sqlite", tmp_path), config) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            credentials = {"Authorization": "Bearer olk_live_abc123", "X-API-Key": "olk_k1"}
            assert client.get(f"/sales-orders?{query}", headers=credentials).status_code == 200
            client.get("/customers/jane.doe@example.com/statement?from=2026-01-01")
        failing = logging.getLogger("api.errors")
        failing.warning("store unavailable: %s", "postgresql://app:hunter2@db/ledger refused")
        try:
            raise RuntimeError("sending to jane.doe@example.com with token=olk_zzz9 failed")
        except RuntimeError:
            logging.getLogger("api.notifier").exception("notification dispatch failed")
    logged = captured_logs.getvalue()

    assert (
        '"GET /sales-orders?salesperson=[redacted]&email=[redacted]&limit=5 HTTP/1.1" 200' in logged
    )
    assert '"GET /customers/[email]@example.com/statement?from=2026-01-01 HTTP/1.1"' in logged
    assert "postgresql://app:[redacted]@db/ledger refused" in logged
    assert "RuntimeError: sending to [email]@example.com with token=[redacted] failed" in logged
    for secret in ("Jane", "jane.doe", "olk_live", "abc123", "olk_k1", "hunter2", "zzz9"):
        assert secret not in logged, secret

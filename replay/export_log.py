"""The log written into a bundle (events.jsonl, chain.jsonl) in the same pass that checks it.

Each page of stored events is linked, compared with the recorded links of its range (one
query, one list comparison, as `replay.verify` does) and only then written. The first page
that departs from the recorded chain stops the pass with `Departed`: the caller discards
what was written and names the finding with `replay.verify`. So a bundle never vouches for
a history that was already tampered with, and a clean log is read once, not twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification

from domain.cipher import StateUnreadable, opened, state_opener
from projections.store import Cursor
from replay import chain_follower
from replay.chain import Link, Linker, log_pages


class Departed(Exception):
    """The log computed here is not the recorded chain (tampered with, or racing a rewrite)."""


@dataclass
class Written:
    events: int = 0
    first_position: int = 0
    last_position: int = 0
    head_hash: bytes = b""
    recorded_at: str = ""
    signed: bool = False
    not_json: int = 0  # stored states that are not JSON (a cipher or compressor was on)


class HashingFile:
    """A file written once, hashed as it is written (for the manifest)."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb", buffering=1 << 20)
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.sha256.update(data)


@dataclass
class LogSource:
    """Where the log comes from: the application (to decode states that are not JSON), its
    recorder, and a read cursor on the recorded chain."""

    app: Application[Any]
    recorder: ApplicationRecorder
    chain: Cursor
    prefetch: bool  # select the next page while this one is written (PostgreSQL)


def write_log(
    source: LogSource,
    folder: Path,
    position: int,
    written: Written,
    on_page: Callable[[int], None] | None,
) -> dict[str, str]:
    """Write the log up to `position`; the SHA-256 of both files, or `Departed`."""
    events, chain = HashingFile(folder / "events.jsonl"), HashingFile(folder / "chain.jsonl")
    lines = _EventLines(source.app, written)
    linker, opener = Linker(), state_opener(source.app)
    try:
        for page in log_pages(source.recorder, stop=position, prefetch=source.prefetch):
            ids: list[str] = []
            try:
                plain = opened(page, opener)  # the chain links the states opened
            except StateUnreadable:
                raise Departed from None
            links = linker.links(plain, ids)
            _check_page(source.chain, written.last_position, links)
            events.write(b"".join(map(lines.line, plain, ids, page)))
            chain.write(b"".join([_link_line(p, chained) for p, chained, _ in links]))
            written.events += len(page)
            written.first_position = written.first_position or page[0].id
            written.last_position = page[-1].id
            if on_page:
                on_page(written.last_position)
        if chain_follower.recorded_range(source.chain, after=written.last_position, until=position):
            raise Departed  # linked positions the log no longer has
    finally:
        events.file.close()
        chain.file.close()
    written.head_hash = linker.previous
    written.recorded_at = orjson.loads(lines.recorded_at)
    return {"events.jsonl": events.sha256.hexdigest(), "chain.jsonl": chain.sha256.hexdigest()}


def _check_page(cur: Cursor, after: int, links: list[Link]) -> None:
    recorded = chain_follower.recorded_range(cur, after=after, until=links[-1][0])
    if recorded != [(p, chained) for p, chained, _ in links]:
        raise Departed


def _link_line(position: int, chained: bytes) -> bytes:
    return b'{"position":%d,"hash":"%s"}\n' % (position, binascii.hexlify(chained))


class _EventLines:
    """One line per stored event: the state as base64 (what the chain hashes: as stored,
    with the event store's cipher taken off) and, when that state is JSON, the same bytes
    inlined as `data` (no re-encoding: byte for byte). Topics recur all through the log, so
    each is encoded once."""

    def __init__(self, app: Application[Any], written: Written) -> None:
        self.app, self.written = app, written
        self.topics: dict[str, bytes] = {}
        self.recorded_at = b'""'  # the last line's, as JSON

    def line(self, n: Notification, originator_id: str, stored: Notification) -> bytes:
        state = n.state
        stamp = _json_timestamp(state)
        if stamp is None:
            self.written.not_json += 1
            event: Any = self.app.mapper.to_domain_event(stored)  # a compressor is on
            recorded_at = orjson.dumps(event.timestamp.isoformat())
        else:
            recorded_at = stamp
        topic = self.topics.get(n.topic)
        if topic is None:
            topic = self.topics[n.topic] = orjson.dumps(n.topic)
        self.recorded_at = recorded_at
        head = b'{"position":%d,"topic":%s,"originator_id":"%s","originator_version":%d,' \
            b'"recorded_at":%s,"state_base64":"%s"' % (
                n.id, topic, originator_id.encode(), n.originator_version, recorded_at,
                base64.b64encode(state))  # fmt: skip
        if stamp is None:
            return head + b"}\n"
        return head + b',"data":' + state + b"}\n"


def _json_timestamp(state: bytes) -> bytes | None:
    """The stored state's recorded time as a JSON string, if the state is one line of JSON
    with the library's timestamp (else it cannot be inlined, or was encrypted/compressed)."""
    if b"\n" in state or b"\r" in state:
        return None
    try:
        stamp = orjson.loads(state)["timestamp"]["_data_"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None
    return orjson.dumps(stamp) if isinstance(stamp, str) else None

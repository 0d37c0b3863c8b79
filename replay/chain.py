"""The hash chain over the log: each stored event's canonical digest, linked by SHA-256.

The chain is computed from the events *as stored*, never decoded, so it is fast and a change
in how events are decoded cannot change it: the follower from the recorder's notifications,
the verifier from the stored rows themselves (`replay.stored_rows`), both through
`Linker.link_rows`. With the event store's cipher on, `state` is the stored state with the
cipher taken off (`domain.cipher`): re-encrypting states under a new key changes no link,
and a state changed without the key no longer opens, which the verifier reports. Integers
are unsigned big-endian; text is UTF-8 with a length prefix:

    digest(e) = SHA-256( u32 len(topic) ‖ topic ‖ u32 len(id) ‖ id ‖ u64 version
                         ‖ u64 len(state) ‖ state )
    h_0       = 32 zero bytes (genesis)
    h_n       = SHA-256( h_{n-1} ‖ u64 position_n ‖ digest(e_n) )

`id` is the originator id in its text form (a UUID as 36 lower-case characters with
hyphens, as `str(UUID)` gives it and PostgreSQL prints a `uuid`); `state` is the stored
bytes (opened, when a cipher is on), which hold the recorded time and every field. The
chain runs over the positions that exist: PostgreSQL leaves gaps (rolled-back inserts), and
a gap is not a missing event.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification

from replay.stored_rows import PAGE_SIZE, Row

GENESIS = bytes(32)

_U32 = struct.Struct(">I").pack
_U64 = struct.Struct(">Q").pack
_U64_PAIR = struct.Struct(">QQ").pack  # version and state length in one call


# One position of the chain: (position, chain hash through it, the event's digest).
Link = tuple[int, bytes, bytes]


def event_digest(topic: str, originator_id: Any, version: int, state: bytes) -> bytes:
    """SHA-256 of the canonical encoding of one stored event (without its position)."""
    return hashlib.sha256(
        _text(topic) + _text(str(originator_id)) + _U64(version) + _U64(len(state)) + state
    ).digest()


def link_hash(previous: bytes, position: int, digest: bytes) -> bytes:
    return hashlib.sha256(previous + _U64(position) + digest).digest()


def _text(value: str) -> bytes:
    encoded = value.encode()
    return _U32(len(encoded)) + encoded


class Links:
    """A page's links as three parallel lists: a verification compares the hashes as they
    come, without a tuple per event."""

    __slots__ = ("digests", "hashes", "positions")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.hashes: list[bytes] = []
        self.digests: list[bytes] = []

    def __len__(self) -> int:
        return len(self.positions)

    def rows(self) -> list[Link]:
        return list(zip(self.positions, self.hashes, self.digests, strict=True))


class Linker:
    """Links pages of the log in turn. The length-prefixed topics are kept for the next
    pages: a few dozen topics recur all through the log.

    The verifier feeds it stored rows (`replay.stored_rows`), the follower and the export
    notifications; both go through `link_rows`, the one place the chain is computed."""

    def __init__(self, previous: bytes = GENESIS) -> None:
        self.previous = previous
        self._topics: dict[str, bytes] = {}

    def link_rows(self, rows: Iterable[Row]) -> Links:
        """The links of stored rows (position, topic, id text, version, state), in order."""
        topics, sha256, u32, u64, pair = self._topics, hashlib.sha256, _U32, _U64, _U64_PAIR
        previous = self.previous
        links = Links()
        positions, hashes, digests = links.positions, links.hashes, links.digests
        for position, topic, originator_id, version, state in rows:
            prefix = topics.get(topic)
            if prefix is None:
                prefix = topics[topic] = _text(topic)
            oid = originator_id.encode()
            digest = sha256(
                prefix + u32(len(oid)) + oid + pair(version, len(state)) + state
            ).digest()
            previous = sha256(previous + u64(position) + digest).digest()
            positions.append(position)
            hashes.append(previous)
            digests.append(digest)
        self.previous = previous
        return links

    def links(
        self, notifications: Sequence[Notification], ids: list[str] | None = None
    ) -> list[Link]:
        """The page's links; `ids`, when given, receives each originator id as text (the
        exporter writes it, and making it costs about as much as hashing the event)."""
        texts = [str(n.originator_id) for n in notifications]
        if ids is not None:
            ids.extend(texts)
        return self.link_rows(
            (n.id, n.topic, text, n.originator_version, n.state)
            for n, text in zip(notifications, texts, strict=True)
        ).rows()


def chain_links(notifications: Sequence[Notification], previous: bytes) -> list[Link]:
    """The links of a page of the log, continuing from the hash `previous`."""
    return Linker(previous).links(notifications)


def log_pages(
    recorder: ApplicationRecorder,
    *,
    after: int = 0,
    stop: int | None = None,
    page_size: int = PAGE_SIZE,
    prefetch: bool = False,
) -> Iterator[Sequence[Notification]]:
    """Pages of stored events after position `after`, up to `stop` (inclusive).

    With `prefetch` the next page is selected on a helper thread while the caller hashes
    this one (worth it on PostgreSQL, where the wait is on the server)."""

    def select(position: int) -> Sequence[Notification]:
        return recorder.select_notifications(start=position + 1, limit=page_size, stop=stop)

    if not prefetch:
        while page := select(after):
            yield page
            after = page[-1].id
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain-reader") as reader:
        pending: Future[Sequence[Notification]] = reader.submit(select, after)
        while page := pending.result():
            pending = reader.submit(select, page[-1].id)
            yield page

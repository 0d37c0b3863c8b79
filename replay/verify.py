"""Verify the log against the recorded chain (and a signed checkpoint): the first finding.

The chain is recomputed from the stored events and walked beside the recorded links, up
to the recorded head. The first position where they part is the finding:

- `changed`   the stored event at P is not the one that was linked there;
- `reordered` the event at P was linked at another position (events were moved or swapped);
- `removed`   P was linked, but the log no longer has it;
- `inserted`  the log has P below the recorded head, but P was never linked;
- `chain-altered` the event at P is unchanged, but the recorded link was edited;
- `checkpoint` the log up to a signed checkpoint's position no longer gives its hash.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder

from domain.cipher import Opener, state_opener
from projections.store import Cursor, ViewStore
from replay import chain_follower
from replay.chain import GENESIS, Link, Linker, Links
from replay.chain_follower import Columns
from replay.stored_rows import PAGE_SIZE, Row, opened_rows, row_pages


@dataclass(frozen=True)
class Finding:
    kind: str
    position: int
    detail: str

    def line(self) -> str:
        return f"{self.kind} at position {self.position}: {self.detail}"

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "position": self.position, "detail": self.detail}


@dataclass(frozen=True)
class Anchor:
    """A hash the log must give at a position (a signed checkpoint's)."""

    position: int
    hash: bytes


@dataclass(frozen=True)
class Verification:
    verified: int  # stored events hashed
    position: int  # the last of them
    head_hash: bytes
    finding: Finding | None

    @property
    def ok(self) -> bool:
        return self.finding is None


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def verify(
    app: Application[Any],
    store: ViewStore,
    *,
    until: int | None = None,
    anchor: Anchor | None = None,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute the chain up to the recorded head (or `until`) and report the first finding.

    With an `anchor` the log is recomputed at least up to its position, which must exist
    and give its hash, whether or not the follower has linked that far."""
    recorder = app.recorder
    if not isinstance(recorder, ApplicationRecorder):
        raise TypeError("the application records no log")
    prefetch = store.dialect == "postgres"  # read while the page is hashed: the wait is there
    with store.read() as cur:
        head = chain_follower.head(cur).position
        bound = head if until is None else min(until, head)
        stop = max(bound, anchor.position if anchor else 0)
        if until is not None:
            stop = min(stop, until)
        walk = _Walk(cur, bound, anchor, state_opener(app))
        try:
            with _RecordedLinks(store, threaded=prefetch) as recorded:
                pages = row_pages(recorder, stop=stop, page_size=page_size, prefetch=prefetch)
                for page in pages:
                    last = min(page[-1][0], bound)
                    walk.page(page, recorded.ask(after=walk.position, until=last))
                    if on_page:
                        on_page(walk.position)
            walk.finish()
        except _Stop as stop_at:
            return Verification(walk.verified, walk.position, walk.previous, stop_at.finding)
    return Verification(walk.verified, walk.position, walk.previous, None)


class _RecordedLinks:
    """The recorded links of a page's range, asked for before the page is hashed. On
    PostgreSQL they are read on a helper thread meanwhile (with its own connection: the
    wait is on the server); on SQLite the read is in-process work, done in turn."""

    def __init__(self, store: ViewStore, *, threaded: bool) -> None:
        self.store = store
        self.reader = ThreadPoolExecutor(1, "chain-links") if threaded else None

    def ask(self, *, after: int, until: int) -> Future[Columns]:
        if self.reader is not None:
            return self.reader.submit(self._read, after, until)
        done: Future[Columns] = Future()
        done.set_result(self._read(after, until))
        return done

    def _read(self, after: int, until: int) -> Columns:
        with self.store.read() as cur:
            return chain_follower.recorded_columns(cur, after=after, until=until)

    def __enter__(self) -> _RecordedLinks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.shutdown(cancel_futures=True)


class _Walk:
    """The recomputed chain beside the recorded one, a page at a time.

    A page is compared whole against the recorded links in its range (one query, then the
    positions and the hashes compared as lists of ints and of bytes); only a page that
    differs is walked position by position to name the first finding."""

    def __init__(
        self, cur: Cursor, bound: int, anchor: Anchor | None, opener: Opener | None
    ) -> None:
        self.cur, self.bound, self.anchor, self.opener = cur, bound, anchor, opener
        self.unreadable: list[int] = []  # the page's states that the cipher did not open
        self.linker = Linker()
        self.previous, self.position, self.verified = GENESIS, 0, 0
        self.anchored = anchor is None

    def page(self, rows: list[Row], asked: Future[Columns]) -> None:
        if self.opener is not None:
            self.unreadable = []
            rows = opened_rows(rows, self.opener, self.unreadable)
        links = self.linker.link_rows(rows)
        positions, hashes = links.positions, links.hashes
        if positions[-1] > self.bound:  # only past the recorded head to reach an anchor
            end = bisect_right(positions, self.bound)
            positions, hashes = positions[:end], hashes[:end]
        recorded = asked.result()
        same = recorded[1] == hashes and recorded[0] == positions
        findings = [] if same else [self._locate(links.rows(), list(zip(*recorded, strict=True)))]
        if not self.anchored:
            findings.append(self._check_anchor(links))
        first = min((f for f in findings if f is not None), key=_at, default=None)
        self._advance(links, first)
        if first is not None:
            raise _Stop(first)

    def _advance(self, links: Links, finding: Finding | None) -> None:
        """Count what was verified: the whole page, or the part before the finding."""
        end = len(links) if finding is None else bisect_left(links.positions, finding.position)
        if end:
            self.position, self.previous = links.positions[end - 1], links.hashes[end - 1]
            self.verified += end

    def _locate(self, links: list[Link], recorded: list[tuple[int, bytes]]) -> Finding | None:
        ahead = iter(recorded)
        expected = next(ahead, None)
        for position, chained, digest in links:
            if expected is not None and expected[0] < position:
                return _removed(expected[0])
            if expected is not None and expected[0] == position:
                if expected[1] != chained:
                    return self._differs(position, digest)
                expected = next(ahead, None)
            elif position <= self.bound:
                return Finding("inserted", position, "this stored event was never linked")
        return None if expected is None else _removed(expected[0])

    def _check_anchor(self, links: Links) -> Finding | None:
        anchor = self.anchor
        if anchor is None or links.positions[-1] < anchor.position:
            return None
        self.anchored = True
        at = bisect_left(links.positions, anchor.position)
        if links.positions[at] != anchor.position:
            return _anchor_missing(anchor)
        return None if links.hashes[at] == anchor.hash else _anchor_differs(anchor)

    def finish(self) -> None:
        beyond = chain_follower.recorded_range(self.cur, after=self.position, until=self.bound)
        if beyond:
            raise _Stop(_removed(beyond[0][0]))
        if self.anchor is not None and not self.anchored:
            raise _Stop(_anchor_missing(self.anchor))

    def _differs(self, position: int, digest: bytes) -> Finding:
        if position in self.unreadable:
            detail = "the stored state does not decrypt under the configured keys (changed,"
            return Finding("changed", position, detail + " or encrypted under another key)")
        if chain_follower.digest_at(self.cur, position) == digest:
            detail = "the stored event is unchanged, but its recorded link was edited"
            return Finding("chain-altered", position, detail)
        elsewhere = [
            p for p in chain_follower.positions_with_digest(self.cur, digest) if p != position
        ]
        if elsewhere:
            detail = f"the stored event here was linked at position {elsewhere[0]}"
            return Finding("reordered", position, detail)
        return Finding("changed", position, "the stored event differs from the one linked")


def _at(finding: Finding) -> int:
    return finding.position


def _removed(position: int) -> Finding:
    return Finding("removed", position, "this position was linked, but the log no longer has it")


def _anchor_differs(anchor: Anchor) -> Finding:
    detail = "the log up to here no longer gives the signed checkpoint's hash"
    return Finding("checkpoint", anchor.position, detail)


def _anchor_missing(anchor: Anchor) -> Finding:
    detail = "the signed checkpoint's position is no longer in the log"
    return Finding("removed", anchor.position, detail)

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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder, Notification

from projections.store import Cursor, ViewStore
from replay import chain_follower
from replay.chain import GENESIS, PAGE_SIZE, Link, chain_links, log_pages


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
    recorder: ApplicationRecorder,
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
    with store.read() as cur:
        recorded = chain_follower.head(cur).position
        bound = recorded if until is None else min(until, recorded)
        stop = max(bound, anchor.position if anchor else 0)
        if until is not None:
            stop = min(stop, until)
        walk = _Walk(cur, bound, anchor)
        try:
            for page in log_pages(recorder, stop=stop, page_size=page_size):
                walk.page(page)
                if on_page:
                    on_page(walk.position)
            walk.finish()
        except _Stop as stop_at:
            return Verification(walk.verified, walk.position, walk.previous, stop_at.finding)
    return Verification(walk.verified, walk.position, walk.previous, None)


class _Walk:
    """The recomputed chain beside the recorded one, a page at a time."""

    def __init__(self, cur: Cursor, bound: int, anchor: Anchor | None) -> None:
        self.cur, self.bound, self.anchor = cur, bound, anchor
        self.recorded = _links(chain_follower.recorded_links(
            cur, after=0, until=bound, page_size=PAGE_SIZE
        ))  # fmt: skip
        self.expected = next(self.recorded, None)
        self.previous, self.position, self.verified = GENESIS, 0, 0
        self.anchored = False

    def page(self, notifications: Sequence[Notification]) -> None:
        links = chain_links(notifications, self.previous)
        for n, link in zip(notifications, links, strict=True):
            self._compare(n, link)
            self.previous, self.position = link.hash, link.position
            self.verified += 1

    def _compare(self, n: Notification, link: Link) -> None:
        expected = self.expected
        if expected is not None and expected.position < link.position:
            raise _Stop(_removed(expected.position))
        if expected is not None and expected.position == link.position:
            if expected.hash != link.hash:
                raise _Stop(self._differs(link, expected))
            self.expected = next(self.recorded, None)
        elif link.position <= self.bound:
            raise _Stop(Finding("inserted", link.position, "this stored event was never linked"))
        if self.anchor is not None and not self.anchored:
            self._check_anchor(link, self.anchor)

    def _check_anchor(self, link: Link, anchor: Anchor) -> None:
        if link.position > anchor.position:
            raise _Stop(_anchor_missing(anchor))
        if link.position == anchor.position:
            if link.hash != anchor.hash:
                raise _Stop(_anchor_differs(anchor))
            self.anchored = True

    def finish(self) -> None:
        if self.expected is not None:
            raise _Stop(_removed(self.expected.position))
        if self.anchor is not None and not self.anchored:
            raise _Stop(_anchor_missing(self.anchor))

    def _differs(self, link: Link, expected: Link) -> Finding:
        if link.digest == expected.digest:
            detail = "the stored event is unchanged, but its recorded link was edited"
            return Finding("chain-altered", link.position, detail)
        elsewhere = [
            p
            for p in chain_follower.positions_with_digest(self.cur, link.digest)
            if p != link.position
        ]
        if elsewhere:
            detail = f"the stored event here was linked at position {elsewhere[0]}"
            return Finding("reordered", link.position, detail)
        return Finding("changed", link.position, "the stored event differs from the one linked")


def _links(pages: Iterator[Sequence[Link]]) -> Iterator[Link]:
    for page in pages:
        yield from page


def _removed(position: int) -> Finding:
    return Finding("removed", position, "this position was linked, but the log no longer has it")


def _anchor_differs(anchor: Anchor) -> Finding:
    detail = "the log up to here no longer gives the signed checkpoint's hash"
    return Finding("checkpoint", anchor.position, detail)


def _anchor_missing(anchor: Anchor) -> Finding:
    detail = "the signed checkpoint's position is no longer in the log"
    return Finding("removed", anchor.position, detail)

"""A bundle held against the live log: its chain must be a prefix of the live one.

The live chain is recomputed from the stored events (not read from the recorded chain,
which whoever rewrote the log could have rewritten too) and walked beside the bundle's
chain.jsonl up to the bundle's last position; events recorded since are not its business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder

from domain.cipher import Opener, StateUnreadable, opened, state_opener
from replay.bundle_verify import Bundle, Finding, parse_link
from replay.chain import Linker, log_pages


def check_against_log(
    app: Application[Any],
    path: Path,
    last_position: int,
    *,
    prefetch: bool = False,
    on_page: Callable[[int], None] | None = None,
) -> int:
    """Raise the first `Finding` where the live log departs from the bundle; else return
    how many events were compared. Call it on a bundle that verified."""
    recorder = app.recorder
    assert isinstance(recorder, ApplicationRecorder)
    live = _live_links(recorder, state_opener(app), last_position, prefetch, on_page)
    bundle = Bundle(path)
    compared = 0
    try:
        with bundle.open("chain.jsonl") as chain:
            for line, raw in enumerate(chain, 1):
                _compare(parse_link(raw, line), next(live, None))
                compared += 1
    finally:
        bundle.close()
    return compared


def _compare(expected: tuple[int, bytes], found: tuple[int, bytes] | None) -> None:
    position, hash = expected
    if found is None or found[0] > position:
        raise Finding("removed", "the bundle has this event, the live log does not", position)
    if found[0] < position:
        raise Finding("inserted", "the live log has an event here the bundle does not", found[0])
    if found[1] != hash:
        raise Finding("changed", "the live log's event differs from the bundle's (changed"
                      " or moved)", position)  # fmt: skip


def _live_links(
    recorder: ApplicationRecorder,
    opener: Opener | None,
    stop: int,
    prefetch: bool,
    on_page: Callable[[int], None] | None,
) -> Iterator[tuple[int, bytes]]:
    linker = Linker()
    for page in log_pages(recorder, stop=stop, prefetch=prefetch):
        try:
            plain = opened(page, opener)
        except StateUnreadable as unreadable:
            detail = "the live log's state does not decrypt under the configured keys"
            raise Finding("changed", detail, unreadable.position) from None
        for position, chained, _ in linker.links(plain):
            yield position, chained
        if on_page:
            on_page(page[-1].id)

"""Keeps projections current: pages of the log folded into each read model, exactly once.

Each page is one read-model transaction that also advances the projection's tracking
position, so a crash anywhere leaves rows and position consistent, and the position check
under a row lock means two runners can never apply the same event twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from domain.cipher import opened, state_opener
from projections.base import PositionedEvent, Projection
from projections.store import Cursor, ViewStore

log = logging.getLogger(__name__)

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " name TEXT PRIMARY KEY, position {bigint} NOT NULL, updated_at {ts})"
)


# The fingerprint of each read model's table definitions when its tables were made.
SHAPES_DDL = "CREATE TABLE IF NOT EXISTS read_model_shapes (name TEXT PRIMARY KEY, shape TEXT)"
PROBE = "__probe"


def _table_exists(cur: Cursor, table: str) -> bool:
    if cur.dialect == "postgres":
        cur.execute("SELECT to_regclass(?) IS NOT NULL", (table,))
    else:
        cur.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        )
    found = cur.fetchone()
    return bool(found and found[0])


def _columns(cur: Cursor, table: str) -> list[str]:
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    return [column[0] for column in cur.raw.description]


def _columns_match(cur: Cursor, projection: Projection) -> bool:
    """Whether the projection's existing tables have the columns its definitions make
    (tables it lacks are simply created)."""
    probe = projection.with_suffix(PROBE)
    try:
        for base, ddl in projection.tables.items():
            if not _table_exists(cur, projection.t(base)):
                continue
            cur.ddl(ddl.replace("{t}", probe.t(base)))
            if _columns(cur, projection.t(base)) != _columns(cur, probe.t(base)):
                return False
        return True
    finally:
        probe.drop_tables(cur)


@dataclass(frozen=True)
class Page:
    """Decoded events of one page (only the topics the projection reads) and its extent."""

    events: list[PositionedEvent]
    last: int  # position of the page's last notification, read by this projection or not
    size: int


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class ProjectionRunner:
    """Folds the application's log into projections, in pages, with tracked positions."""

    def __init__(
        self,
        app: Application[Any],
        store: ViewStore,
        projections: Iterable[Projection],
        *,
        page_size: int = 1000,
        rebuild_page_size: int = 5000,
        poll_interval: float = 0.5,
    ) -> None:
        self.app = app
        self.store = store
        self.projections = {p.name: p for p in projections}
        self.page_size = page_size
        # A rebuild folds many pages into tables nobody reads yet: larger pages spread each
        # page's fixed cost (a few statements per projection, the commit) over more events.
        self.rebuild_page_size = rebuild_page_size
        self.prefetch = store.dialect == "postgres"
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        # Called as listener(name, position) on the runner's thread after each committed
        # page, so waiters elsewhere (live streams on an event loop) need not poll the store.
        # A listener must only hand the news on, never block.
        self.progress_listeners: list[Callable[[str, int], None]] = []
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.last_error: BaseException | None = None
        self.reshaped: list[str] = []  # read models set up again from 0 (see `setup`)

    # -- set-up -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Create what is missing. A read model whose tables changed shape since they were
        made (a new release added a column, say) is emptied and folded again from position
        0 by the runner, instead of failing on its first write."""
        with self.store.transaction() as cur:
            existing = _table_exists(cur, "projection_tracking")
            cur.ddl(TRACKING_DDL)
            cur.ddl(SHAPES_DDL)
            stored = dict(cur.execute("SELECT name, shape FROM read_model_shapes").fetchall())
            self.reshaped = []
            for name, projection in self.projections.items():
                shape = projection.shape()
                if name in stored:
                    changed = stored[name] != shape
                else:  # a store made before shapes were kept: compare the columns once
                    changed = existing and not _columns_match(cur, projection)
                if changed:
                    projection.drop_tables(cur)
                    cur.execute(
                        "UPDATE projection_tracking SET position = 0, updated_at = NULL"
                        " WHERE name = ?",
                        (name,),
                    )
                    self.reshaped.append(name)
                projection.create_tables(cur)
                self.ensure_tracking_row(cur, name)
                if stored.get(name) != shape:
                    cur.execute("DELETE FROM read_model_shapes WHERE name = ?", (name,))
                    cur.execute(
                        "INSERT INTO read_model_shapes (name, shape) VALUES (?, ?)", (name, shape)
                    )

    @staticmethod
    def ensure_tracking_row(cur: Cursor, name: str) -> None:
        """A row to lock from the very first page: FOR UPDATE on no row would lock nothing."""
        cur.execute(
            "INSERT INTO projection_tracking (name, position, updated_at) VALUES (?, 0, NULL)"
            " ON CONFLICT (name) DO NOTHING",
            (name,),
        )

    def position(self, name: str, cur: Cursor | None = None) -> int:
        if cur is None:
            with self.store.read() as read_cur:
                return self.position(name, read_cur)
        row = cur.execute("SELECT position FROM projection_tracking WHERE name = ?", (name,))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def positions(self) -> dict[str, int]:
        """Every projection's tracked position, in one read."""
        with self.store.read() as cur:
            rows = cur.execute("SELECT name, position FROM projection_tracking").fetchall()
        return {str(name): int(position) for name, position in rows}

    def _positions_of(self, names: Sequence[str]) -> list[int]:
        if len(names) == 1:
            return [self.position(names[0])]
        positions = self.positions()
        return [positions.get(name, 0) for name in names]

    def behind(self) -> list[str]:
        """The projections not yet at the log head: two reads, however many projections."""
        head = self.head()
        positions = self.positions()
        return [name for name in self.projections if positions.get(name, 0) < head]

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        positions = self.positions()
        return [ProjectionStatus(name, positions.get(name, 0), head) for name in self.projections]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    # -- processing --------------------------------------------------------------------------

    def catch_up(
        self,
        name: str,
        *,
        until: int | None = None,
        on_page: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Process pages until the projection reaches `until` (default: the head); return
        how many of its events it folded. A set `stop` ends it after the page in hand (the
        background loop's, so that a worker told to stop does not first fold a whole backlog).

        Only the projection's own topics are selected (a raw projection reads everything), so
        a page ends at its last notification when it is full, and at `until` when it comes
        back short: nothing of this projection's lies between, and the position still moves
        on exactly. On PostgreSQL the next page is selected on a helper thread while this one
        is decoded and written (decoding stays on this thread: two threads decoding and
        folding would only contend for the GIL). On SQLite the select is in-process work too,
        so pages are simply read in turn.
        """
        projection = self.projections[name]
        target = self.head() if until is None else until
        topics = read_topics([projection])
        processed = 0
        position = self.position(name)
        pending = self.fetch(position, target, topics)
        while position < target and not (stop is not None and stop.is_set()):
            page = self._page(projection, pending.result(), target)
            if page.last < target:
                pending = self.fetch(page.last, target, topics)
            if self._apply_page(projection, name, position, page):
                processed += len(page.events)
                position = page.last
            else:  # another runner advanced this projection: continue from where it is
                position = self.position(name)
                pending = self.fetch(position, target, topics)
            if on_page:
                on_page(position)
        return processed

    def fetch(
        self, position: int, stop: int, topics: Sequence[str], size: int | None = None
    ) -> Future[Sequence[Notification]]:
        if self.prefetch:
            return self._reader.submit(self.select, position, stop, topics, size)
        done: Future[Sequence[Notification]] = Future()
        done.set_result(self.select(position, stop, topics, size))
        return done

    def select(
        self, position: int, stop: int, topics: Sequence[str], size: int | None = None
    ) -> Sequence[Notification]:
        """The next page after `position`, up to `stop`, of these topics (all when empty),
        of `size` notifications at most (default: the runner's page size)."""
        if position >= stop:
            return []
        return self.app.recorder.select_notifications(
            start=position + 1, limit=size or self.page_size, stop=stop, topics=topics
        )

    def page_end(
        self, notifications: Sequence[Notification], stop: int, size: int | None = None
    ) -> int:
        """Where a page read up to `stop` ends: a full page at its last notification (more
        may follow), a short one at `stop` (everything up to it was read)."""
        if len(notifications) < (size or self.page_size):
            return stop
        return notifications[-1].id

    def _page(
        self, projection: Projection, notifications: Sequence[Notification], stop: int
    ) -> Page:
        return Page(
            self.events_for(projection, notifications),
            self.page_end(notifications, stop),
            len(notifications),
        )

    def events_for(
        self, projection: Projection, notifications: Sequence[Notification]
    ) -> list[PositionedEvent]:
        if projection.raw:
            return self.raw_events(notifications)
        decode = self.app.mapper.to_domain_event
        topics = projection.topics
        return [(n.id, decode(n)) for n in notifications if n.topic in topics]

    def raw_events(self, notifications: Sequence[Notification]) -> list[PositionedEvent]:
        """The notifications as stored, with the event store's cipher taken off (a state
        that does not decrypt raises: a raw projection never sees ciphertext)."""
        return [(n.id, n) for n in opened(notifications, state_opener(self.app))]

    def _apply_page(self, projection: Projection, name: str, position: int, page: Page) -> bool:
        with self.store.transaction() as cur:
            if self.locked_position(cur, name) != position:
                return False
            projection.apply(cur, page.events)
            self.record_position(cur, name, page.last)
        self._announce(name, page.last)
        return True

    def _announce(self, name: str, position: int) -> None:
        with self._progress:
            self._progress.notify_all()
        for listener in tuple(self.progress_listeners):  # listeners may leave meanwhile
            try:
                listener(name, position)
            except Exception:  # the page is committed: a listener's fault must not undo that
                log.exception("progress listener failed after %s reached %s", name, position)

    def locked_position(self, cur: Cursor, name: str) -> int:
        sql = (
            "SELECT position FROM projection_tracking WHERE name = ?"
            + self.store.lock_tracking_sql()
        )
        found = cur.execute(sql, (name,)).fetchone()
        return int(found[0]) if found else 0

    @staticmethod
    def record_position(cur: Cursor, name: str, position: int) -> None:
        cur.execute(
            "INSERT INTO projection_tracking (name, position, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
            " updated_at = excluded.updated_at"
            " WHERE excluded.position > projection_tracking.position",
            (name, position, _now()),
        )
        if cur.rowcount != 1:
            raise RuntimeError(f"tracking position of {name} would go backwards to {position}")

    # -- background thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="projections", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the background thread is following the log."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def _reader(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-reader")
        return self._executor

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            failed = False
            # Woken at every commit (saves here, notifications from elsewhere): a pass that
            # finds everything current costs two reads, not two per projection.
            try:
                behind = self.behind()
            except Exception as error:  # the store is away: report, retry after a pause
                self.last_error = error
                log.exception("projection positions unreadable; retrying")
                self._wake.wait(1.0)
                continue
            for name in behind:
                if self._stop.is_set():
                    return
                # One projection failing must not stop the others.
                try:
                    self.catch_up(name, stop=self._stop)
                except Exception as error:  # keep serving; report through status and logs
                    failed = True
                    self.last_error = error
                    log.exception("projection %s failed; retrying", name)
            if not failed:
                self.last_error = None
            self._wake.wait(1.0 if failed else self.poll_interval)

    def wait_for(
        self, position: int, names: Sequence[str] | None = None, timeout: float = 5.0
    ) -> bool:
        """Read-your-writes: block until the projections have processed `position`."""
        deadline = time.monotonic() + timeout
        wanted = list(names or self.projections)
        self.wake()
        with self._progress:
            while not all(at >= position for at in self._positions_of(wanted)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(min(remaining, 0.05))
        return True

    # -- rebuild -------------------------------------------------------------------------------

    def rebuild(self, name: str, on_page: Callable[[int], None] | None = None) -> int:
        """Rebuild one projection from position 0 into shadow tables, then switch over."""
        from projections.rebuild import rebuild

        return rebuild(self, [name], on_page=on_page)[name]

    def rebuild_all(
        self, names: Sequence[str] | None = None, on_page: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Rebuild several projections (default: all) in one pass over the log."""
        from projections.rebuild import rebuild

        return rebuild(self, list(names or self.projections), on_page=on_page)


def read_topics(projections: Iterable[Projection]) -> list[str]:
    """The topics to select for these projections: theirs, or every one (an empty list)
    when one of them is raw and reads the whole log."""
    found: set[str] = set()
    for projection in projections:
        if projection.raw or not projection.topics:
            return []
        found |= projection.topics
    return sorted(found)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)

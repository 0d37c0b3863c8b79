"""Wakes a projection runner the moment any process commits events to the log.

eventsourcing's PostgreSQL recorder sends a NOTIFY on its events table's channel inside
every insert transaction, so a LISTEN hears each commit of every API process. Without it a
runner in a process of its own (`orderledger projections run`) learns of new events only at
its next poll (`ORDERLEDGER_PROJECTION_POLL_SECONDS`), which a read at a command's position
then waits for. Only the wake-up travels this way: the runner still reads the log in pages
from its tracked position, so a lost or spurious notification costs nothing but a poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class LogWakeup:
    """A thread listening on the event store's channel, calling `wake` per notification."""

    def __init__(self, conninfo: str, channel: str, wake: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="log-wakeup", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:  # the server restarted, say: the runner still polls
                log.warning("listening for new events failed (%s); retrying", error)
                self._stop.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.wake()  # whatever was committed before the LISTEN took effect
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=0.5, stop_after=1):
                    self.wake()

"""Takes read-model checkpoints in the background while the server runs.

A small thread that, whenever the log's head has passed a model's newest checkpoint by the
interval, builds the next ones (`model_checkpoints.build`). Checkpoints are a cache, so a
failed build is logged and retried on the next round, never fatal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from replay.checkpoint_store import CheckpointStore
from replay.model_checkpoints import build
from replay.scratch import ScratchFactory

log = logging.getLogger(__name__)


class _Stopping(Exception):
    """Raised between pages when the server shuts down, so a long build ends promptly."""


class CheckpointFollower:
    """Builds each model's missing read-model checkpoints every `interval` events."""

    def __init__(
        self,
        app: Any,
        store: CheckpointStore,
        scratch: ScratchFactory,
        models: tuple[str, ...],
        interval: int,
        poll_seconds: float = 10.0,
    ) -> None:
        self.app, self.store, self.scratch = app, store, scratch
        self.models, self.interval, self.poll_seconds = models, interval, poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="read-model-checkpoints", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def run_once(self) -> list[int]:
        """One round over every model; the positions of the checkpoints made."""
        made: list[int] = []
        for model in self.models:
            if self._stop.is_set():
                break
            built = build(
                self.app, self.store, self.scratch, model, self.interval, on_page=self._check
            )
            made += built.positions
        return made

    def _check(self, _position: int) -> None:
        if self._stop.is_set():
            raise _Stopping

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.run_once()
            except _Stopping:
                return
            except Exception:  # a cache: keep serving, try again next round
                log.exception("building read-model checkpoints failed; retrying")

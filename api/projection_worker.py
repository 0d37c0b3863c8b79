"""`orderledger projections run`: read models kept current by a process of their own.

Any number of such workers may follow one PostgreSQL ledger, each with some read models (or
the same ones twice, for a stand-by): a page is applied under the tracking row's lock, so
whichever worker takes it first applies it and the other moves on from the new position.
SIGTERM, like Ctrl-C, ends the worker after the page in hand; a SIGKILL loses nothing either
(the page's transaction rolls back and is applied again by whichever worker comes next).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from api.runtime import Runtime

log = logging.getLogger("orderledger.projections")

# The SLA monitor reads the orders read model: it runs beside the worker that keeps it.
SLA_MODEL = "orders"


def choose(runtime: Runtime, names: Sequence[str]) -> list[str] | str:
    """The projections to run, in the runner's order (all when none are named), or why the
    names cannot be run."""
    known = list(runtime.runner.projections)
    unknown = [name for name in names if name not in known]
    if unknown:
        return f"unknown projection {unknown[0]!r}; known: {', '.join(known)}"
    return [name for name in known if not names or name in names]


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (a deployment's stop, or Ctrl-C) while inside."""
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping after the page in hand", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(runtime: Runtime, names: list[str], stopping: threading.Event, report: float) -> None:
    """Follow the log with `names` until `stopping` is set, logging each projection's new
    position every `report` seconds while it moves."""
    runner = runtime.runner
    runner.projections = {name: runner.projections[name] for name in names}
    runtime.start_projections()
    if SLA_MODEL in names:
        runtime.sla.start()
    log.info(
        "projection worker %d running %s from %s",
        os.getpid(), ", ".join(names), _positions(runtime, names),
    )  # fmt: skip
    last = ""
    while not stopping.wait(report):
        try:
            now = _positions(runtime, names)
        except Exception:  # the store is away for a moment: the runner reports and retries
            log.warning("could not read the positions; the runner retries on its own")
            continue
        if now != last:
            log.info("at %s", now)
            last = now
    runtime.sla.stop()
    if runtime.log_wakeup is not None:
        runtime.log_wakeup.stop()
    runner.stop()
    log.info("projection worker %d stopped at %s", os.getpid(), _positions(runtime, names))


def _positions(runtime: Runtime, names: list[str]) -> str:
    head = runtime.runner.head()
    parts = [f"{name} {runtime.runner.position(name):,}" for name in names]
    return f"{', '.join(parts)} (head {head:,})"


def configure_logging() -> None:
    """uvicorn's handler with the credential filters (as `serve` logs), progress at INFO."""
    from logging.config import dictConfig

    from api.log_privacy import logging_config

    config = logging_config()
    config["formatters"]["default"]["fmt"] = "%(asctime)s %(levelprefix)s %(message)s"
    dictConfig(config)
    log.setLevel(logging.INFO)
    logging.getLogger("projections").setLevel(logging.INFO)

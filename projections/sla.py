"""SLA monitor: records a breach when an order sits in a stage past its SLA.

The orders read model (a tracked projection) keeps each open order's stage, responsible
role and SLA due time, indexed by (breach recorded, due time). A periodic scan reads the
orders that are due and not yet recorded — one index range, so its cost follows the late
orders, not the open ones — and records one `SlaBreach` per stage entry through the ledger.
The breach is an event: it shows on the timeline, marks the order on the SLA list, and is
what the notifications outbox alerts the responsible role from. Several monitors (one per
API process) may scan together: the breach's deterministic id lets exactly one record it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.exceptions import AlreadyExists, NotFound, RuleViolation
from domain.ledger import Ledger
from domain.values import Meta
from projections.store import Cursor, ViewStore

log = logging.getLogger(__name__)
ACTOR = "sla-monitor"


@dataclass(frozen=True)
class ScanResult:
    due: int  # late orders without a recorded breach, as the read model saw them
    recorded: int  # breaches this scan recorded
    seconds: float


def due_unrecorded(cur: Cursor, now: datetime, limit: int) -> list[dict[str, Any]]:
    return cur.execute(
        "SELECT number, stage, sla_due_at FROM sales_orders"
        " WHERE sla_breached_at IS NULL AND sla_due_at <= ? ORDER BY sla_due_at LIMIT ?",
        [now, limit],
    ).fetchdicts()


class SlaMonitor:
    def __init__(
        self, ledger: Ledger, store: ViewStore, interval: float = 60.0, batch: int = 1000
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scan(self, now: datetime | None = None) -> ScanResult:
        """Record a breach for every order late in its stage; returns what it did."""
        moment = now or datetime.now(UTC)
        started = datetime.now(UTC)
        with self.store.read() as cur:
            rows = due_unrecorded(cur, moment, self.batch)
        recorded = 0
        for row in rows:
            due = row["sla_due_at"]
            due_at = due if isinstance(due, datetime) else datetime.fromisoformat(due)
            meta = Meta(
                actor=ACTOR, correlation_id=f"sla-{uuid.uuid4().hex}",
                command="record_sla_breach", at=moment,
            )  # fmt: skip
            try:
                self.ledger.record_sla_breach(
                    meta, number=row["number"], stage=row["stage"], due_at=due_at
                )
            except (AlreadyExists, RuleViolation, NotFound):
                continue  # recorded by another monitor, or the order moved on meanwhile
            recorded += 1
        seconds = (datetime.now(UTC) - started).total_seconds()
        return ScanResult(len(rows), recorded, seconds)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sla-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.scan()
            except Exception:  # a store outage must not end the monitor
                log.exception("SLA scan failed; retrying in %s s", self.interval)
                continue
            if result.recorded:
                log.info("SLA monitor recorded %d breaches", result.recorded)

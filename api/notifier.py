"""The dispatcher: sends what the outbox holds, each notification until delivered or given up.

It claims due notifications (see `projections/deliveries.py`), makes one attempt each, and
settles them in their own transaction: delivered, or due again after an exponential back-off,
or failed once `notify_max_attempts` are used. Every attempt is logged. From our side each
notification is delivered once; a receiver that sees one twice (a dispatcher died between
sending and settling) recognises it by its delivery id.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.channels import Channel, EmailChannel, Sent, WebhookChannel
from api.settings import Settings
from projections.deliveries import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    Claimed,
    claim,
    note_waiting,
    record_attempt,
)
from projections.outbox import EMAIL, WEBHOOK
from projections.store import ViewStore

log = logging.getLogger(__name__)

NO_SMTP = "waiting: no SMTP server is configured (ORDERLEDGER_SMTP_HOST); sent once one is"
BATCH = 20


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: `backoff_seconds`, doubling per failed attempt, capped."""

    backoff_seconds: float
    max_backoff_seconds: float
    max_attempts: int

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failed attempt in a row (1 → backoff_seconds)."""
        seconds = self.backoff_seconds * 2 ** min(failures - 1, 60)
        return timedelta(seconds=min(seconds, self.max_backoff_seconds))

    def settle(self, notification: Claimed, sent: Sent, at: datetime) -> Attempt:
        if sent.ok:
            return Attempt(at, DELIVERED, DELIVERED, at, None, sent.http_status)
        failures = notification.attempts + 1 - notification.requeued_after
        if failures >= self.max_attempts:
            return Attempt(at, FAILED, FAILED, at, sent.error, sent.http_status)
        retry_at = at + self.delay(failures)
        return Attempt(at, "retry", PENDING, retry_at, sent.error, sent.http_status)


class Dispatcher:
    """Sends due notifications; runs on a thread (`start`) or one round at a time."""

    def __init__(
        self,
        store: ViewStore,
        channels: dict[str, Channel],
        policy: RetryPolicy,
        *,
        waiting: dict[str, str] | None = None,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=10),
    ) -> None:
        self.store = store
        self.channels = channels
        self.policy = policy
        self.waiting = waiting or {}  # channel that cannot send → why its rows wait
        self.poll_interval = poll_interval
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    @classmethod
    def from_settings(cls, store: ViewStore, settings: Settings) -> Dispatcher:
        channels: dict[str, Channel] = {WEBHOOK: WebhookChannel.from_settings(settings)}
        waiting: dict[str, str] = {}
        if settings.smtp_host:
            channels[EMAIL] = EmailChannel(settings)
        else:
            waiting[EMAIL] = NO_SMTP
        policy = RetryPolicy(
            settings.notify_backoff_seconds,
            settings.notify_backoff_max_seconds,
            settings.notify_max_attempts,
        )
        # A claim outlives the slowest batch: every exchange of every message may time out.
        lease = timedelta(seconds=3 * BATCH * settings.notify_timeout_seconds + 60)
        return cls(
            store, channels, policy, waiting=waiting,
            poll_interval=settings.notify_poll_seconds, lease=lease,
        )  # fmt: skip

    def dispatch_once(self) -> int:
        """Claim what is due, attempt each, settle each; the number of attempts made."""
        now = _now()
        if self.waiting:
            with self.store.transaction() as cur:
                for channel, reason in self.waiting.items():
                    note_waiting(cur, channel, reason, now)
        token = uuid.uuid4().hex
        with self.store.transaction() as cur:
            claimed = claim(cur, token, list(self.channels), now, now + self.lease, BATCH)
        for notification in claimed:
            sent = self.channels[notification.channel].send(notification)
            attempt = self.policy.settle(notification, sent, _now())
            with self.store.transaction() as cur:
                if not record_attempt(cur, notification, token, attempt):
                    log.warning("claim on %s lapsed while sending", notification.notification_id)
        return len(claimed)

    # -- background thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None

    def close(self) -> None:
        self.stop()
        for channel in self.channels.values():
            channel.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            attempts = 0
            try:
                attempts = self.dispatch_once()
                self.last_error = None
            except Exception as error:  # the store may be down: keep trying, say so in logs
                self.last_error = error
                log.exception("notification dispatch failed; retrying")
            if attempts == 0:  # after a round that sent something, look again at once
                self._stop.wait(self.poll_interval)


def _now() -> datetime:
    return datetime.now(UTC)

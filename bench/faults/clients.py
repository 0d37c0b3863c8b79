"""HTTP clients that send commands with Idempotency-Keys and retry what the server says to
retry, recording every answer; and the log counted per key afterwards."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.faults.report import FaultResult
from bench.faults.served import Served
from domain.idempotency import IdempotencyRecord
from domain.ledger import Ledger
from domain.stock_items import StockItem

SKU, WAREHOUSE = "SKU-1", "WH1"
RETRYABLE = {503, 507}
HANG_SECONDS = 10.0  # an answer slower than this is a hang, whatever it says
KEY_DEADLINE = 90.0  # a client gives a key up after retrying it this long
PAGE = 1000


@dataclass(frozen=True)
class Attempt:
    key: str
    sent: float
    done: float
    status: int | None  # None: no HTTP answer at all
    rule: str  # the problem's rule, a transport error's name, or "" on success
    problem_json: bool

    @property
    def succeeded(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Clients:
    """`count` threads, each reserving one unit per key (its order reference) until stopped;
    a key is retried after a 503 or 507, or no answer, until it succeeds."""

    served: Served
    count: int
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Clients:
        for n in range(self.count):
            thread = threading.Thread(target=self._run, args=(f"c{n}",), daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        """Each client finishes the key it is on (success, or given up), then stops."""
        self._stop.set()
        for thread in self._threads:
            thread.join(KEY_DEADLINE + 60)

    def successes_since(self, moment: float) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.succeeded and a.sent >= moment]

    def _run(self, name: str) -> None:
        with self.served.client() as client:
            for n in range(1_000_000):
                if self._stop.is_set():
                    return
                self._until_done(client, f"{name}-{n}")

    def _until_done(self, client: httpx.Client, key: str) -> None:
        first = time.monotonic()
        while time.monotonic() - first < KEY_DEADLINE:
            attempt = send(client, key)
            with self._lock:
                self.attempts.append(attempt)
            if attempt.succeeded or attempt.status not in (None, *RETRYABLE, 500):
                return
            time.sleep(random.uniform(0.05, 0.25))  # the server's Retry-After is 1 s


def send(client: httpx.Client, key: str) -> Attempt:
    body = {"sku": SKU, "warehouse": WAREHOUSE, "order_ref": key, "quantity": "1"}
    sent = time.monotonic()
    try:
        response = client.post("/reservations", json=body, headers={"Idempotency-Key": key})
    except httpx.TransportError as error:
        return Attempt(key, sent, time.monotonic(), None, type(error).__name__, False)
    done = time.monotonic()
    if response.status_code in (200, 201):
        # A retry whose first attempt was stored after all (its answer lost) is replayed.
        replayed = "replayed" if response.headers.get("Idempotent-Replayed") == "true" else ""
        return Attempt(key, sent, done, response.status_code, replayed, False)
    problem = response.headers.get("content-type") == "application/problem+json"
    rule = str(response.json().get("rule", "")) if problem else response.text[:80]
    return Attempt(key, sent, done, response.status_code, rule, problem)


def judge_answers(attempts: list[Attempt], result: FaultResult, allowed: set[str]) -> None:
    """Every answer a success or a problem+json with an allowed status and rule; none slow."""
    wrong: Counter[str] = Counter()
    for attempt in attempts:
        label = f"answered {attempt.status} {attempt.rule}".strip()
        if attempt.succeeded:
            label = "answered 2xx, replayed" if attempt.rule else "answered 2xx"
        result.counts[label] += 1
        if attempt.succeeded:
            continue
        if attempt.status is None:
            wrong[f"no answer ({attempt.rule})"] += 1
        elif attempt.status not in RETRYABLE or not attempt.problem_json:
            wrong[f"{label} (not a 503/507 problem+json)"] += 1
        elif attempt.rule not in allowed:
            wrong[f"{label} (not {' or '.join(sorted(allowed))})"] += 1
    result.problems += [f"{n:,} × {what}" for what, n in wrong.items()]
    slow = [a.done - a.sent for a in attempts if a.done - a.sent > HANG_SECONDS]
    if slow:
        result.problems.append(
            f"{len(slow)} answers took over {HANG_SECONDS:.0f} s (worst {max(slow):.1f} s)"
        )
    if attempts:
        result.notes.append(f"slowest answer {max(a.done - a.sent for a in attempts):.2f} s")


def judge_log(ledger: Ledger, attempts: list[Attempt], result: FaultResult) -> None:
    """Each key that got a success is in the log once (its reservation and its idempotency
    record); no key is there twice, whatever its answers were."""
    reserved, recorded = Counter[str](), Counter[str]()
    for event in events(ledger):
        if isinstance(event, StockItem.Reserved):  # type: ignore[attr-defined]
            reserved[event.order_ref] += 1
        elif isinstance(event, IdempotencyRecord.Recorded):  # type: ignore[attr-defined]
            recorded[event.key] += 1
    succeeded = {a.key for a in attempts if a.succeeded}
    keys = {a.key for a in attempts}
    result.commands = len(keys)
    missing = sorted(k for k in succeeded if reserved[k] == 0 or recorded[k] == 0)
    result.lost = len(missing)
    twice = {k: (reserved[k], recorded[k]) for k in keys if reserved[k] > 1 or recorded[k] > 1}
    result.duplicated = sum(max(0, n - 1) for n in reserved.values()) + sum(
        max(0, n - 1) for n in recorded.values()
    )
    if missing:
        result.problems.append(f"{len(missing)} successes not in the log, e.g. {missing[:3]}")
    if twice:
        result.problems.append(f"{len(twice)} keys stored twice, e.g. {list(twice.items())[:3]}")
    unanswered = keys - succeeded
    if unanswered:
        in_log = sum(1 for k in unanswered if reserved[k])
        result.notes.append(f"{len(unanswered)} keys given up ({in_log} of them stored once)")


def events(ledger: Ledger) -> Iterator[Any]:
    """Every event in the log, decoded, in order."""
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        yield from (ledger.mapper.to_domain_event(n) for n in page)
        if len(page) < PAGE:
            return
        start = page[-1].id + 1

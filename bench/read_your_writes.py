"""Read-your-writes across processes: a reservation sent to one API node, then its SKU's
inventory read from the other node at the reservation's position, the projections folded by
a worker process of their own. The read waits until the worker has folded the write: how
long, with the worker woken by the event store's notifications and without (its poll).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx

from api.settings import Settings
from bench.faults.served import Served, Worker

WAREHOUSE = "WH-1"
T = TypeVar("T", Served, Worker)


@dataclass(frozen=True)
class Waits:
    listen: bool
    reads: int
    p50_ms: float
    p95_ms: float
    worst_ms: float


def measure_waits(
    settings: Settings, servers: list[Served], skus: list[str], pairs: int, listen: bool
) -> Waits:
    """`pairs` command-then-read pairs, one at a time, with a fresh worker of every read model
    (`ORDERLEDGER_PROJECTION_LISTEN` as `listen` says); the reads' latencies."""
    with (
        started(Worker(settings, report_seconds=60, projection_listen=str(listen).lower())),
        servers[0].client() as writer,
        servers[1].client() as reader,
    ):
        caught_up(reader)
        waits = []
        tag = uuid.uuid4().hex[:8]
        for n in range(pairs + 1):  # the first pair waits for the worker's catch-up: not counted
            sku = skus[n % len(skus)]
            body = {
                "sku": sku,
                "warehouse": WAREHOUSE,
                "order_ref": f"W-{tag}-{n}",
                "quantity": "1",
            }
            answer = writer.post(
                "/reservations", json=body, headers={"Idempotency-Key": f"{tag}-{n}"}
            )
            answer.raise_for_status()
            sent = time.perf_counter()
            read = reader.get(
                f"/inventory/{sku}", params={"min_position": answer.json()["position"]}
            )
            read.raise_for_status()
            if n:
                waits.append((time.perf_counter() - sent) * 1000)
    cuts = statistics.quantiles(waits, n=20)
    return Waits(listen, len(waits), cuts[9], cuts[18], max(waits))


@contextmanager
def started(process: T, tries: int = 10) -> Iterator[T]:
    """A `Served` or `Worker` running while inside; its start tried again while the shared
    server has no connection to spare (other work's tests come and go)."""
    for attempt in range(tries):
        try:
            process.__enter__()
            break
        except RuntimeError as error:
            if attempt == tries - 1 or "too many clients" not in str(error):
                raise
            time.sleep(5)
    try:
        yield process
    finally:
        process.__exit__(None, None, None)


def caught_up(client: httpx.Client, timeout: float = 300.0) -> None:
    """Until the new worker has folded what was written before it started."""
    deadline = time.monotonic() + timeout
    while any(p["lag"] for p in client.get("/healthz").json()["projections"]):
        if time.monotonic() > deadline:
            raise TimeoutError("the projection worker did not catch up")
        time.sleep(0.1)


def waits_table(results: list[Waits]) -> str:
    lines = [
        "| worker woken by | reads | p50 ms | p95 ms | worst ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for w in results:
        how = "each commit (LISTEN)" if w.listen else "its poll only (0.5 s)"
        lines.append(f"| {how} | {w.reads} | {w.p50_ms:.0f} | {w.p95_ms:.0f} | {w.worst_ms:.0f} |")
    return "\n".join(lines)

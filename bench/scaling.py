"""API workers 1 → 2 against one PostgreSQL: real `orderledger serve` processes that keep no
read models (ORDERLEDGER_RUN_PROJECTIONS=false), one `orderledger projections run` process,
and a load generator (threads, httpx) driving them over HTTP for a fixed time.

Two loads, each with one server and with two (client-side round robin, request by request):
commands (3 reservations of one unit on a random SKU of many for each order taken) and
reads (one SKU's inventory from the read model). The phases are interleaved over rounds, so
each pair of figures saw the same background load. CPU is read from /proc for each server,
the projection worker, the load generator and the PostgreSQL backends that serve them.

    python -m bench.scaling [--seconds 10] [--rounds 2] [--clients 8]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import psycopg

from api.runtime import open_runtime
from api.settings import Settings
from bench.faults.served import Served, Worker, issue_caller_key
from bench.process_cpu import CpuMeter
from bench.read_your_writes import measure_waits, started, waits_table
from bench.results import record
from bench.stores import StoreFactory
from domain.values import Meta

DEFAULT_URL = os.environ.get(
    "ORDERLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WAREHOUSE, CUSTOMER = "WH-1", "C-1"
POOL = 4  # read-model and event-store pool size of each process
WARM_UP = 2.0  # seconds of each phase not counted (connections, caches)


def meta(command: str) -> Meta:
    return Meta(actor="bench", correlation_id=uuid.uuid4().hex, command=command,
                at=datetime.now(UTC), role="admin")  # fmt: skip


def seed(settings: Settings, skus: int) -> list[str]:
    """A warehouse, `skus` bought products with plenty on hand, and one customer."""
    runtime = open_runtime(settings, start_projections=False)
    ledger = runtime.ledger
    names = [f"SKU-{n:04d}" for n in range(skus)]
    try:
        ledger.register_warehouse(meta("register_warehouse"), code_=WAREHOUSE, name="Main")
        for sku in names:
            ledger.register_product(
                meta("register_product"), sku=sku, name=sku, unit="ea", make_or_buy="buy",
                standard=True, list_price="10.00", standard_cost="4.00", currency_code="EUR",
            )  # fmt: skip
            ledger.receive_finished_goods(meta("receive_finished_goods"), sku=sku,
                                          warehouse=WAREHOUSE, production_ref=f"MO-{sku}",
                                          quantity_="1000000")  # fmt: skip
        ledger.register_customer(
            meta("register_customer"), code_=CUSTOMER, name="Customer", contacts=[],
            billing_address="a", shipping_address="b", region="north", payment_terms_days=30,
            credit_limit="1000000000", currency_code="EUR",
        )  # fmt: skip
    finally:
        runtime.close()
    return names


@dataclass
class Load:
    """`clients` threads sending requests round robin over `servers` until stopped."""

    kind: str  # "commands" or "reads"
    servers: list[Served]
    skus: list[str]
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    counting: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP)
        self.counting = True
        time.sleep(seconds)
        self.counting = False
        self._stop.set()
        for thread in threads:
            thread.join()

    def _client(self, n: int) -> None:
        chance = random.Random(n)
        with ExitStack() as stack:
            clients = [stack.enter_context(s.client(timeout=60)) for s in self.servers]
            turn = itertools.cycle(clients[n % len(clients) :] + clients[: n % len(clients)])
            tag = uuid.uuid4().hex[:8]
            for count in itertools.count():
                if self._stop.is_set():
                    return
                sku = chance.choice(self.skus)
                sent = time.perf_counter()
                response = self._send(next(turn), sku, f"{tag}-{count}", count)
                took = time.perf_counter() - sent
                if self.counting:
                    with self._lock:
                        self.latencies.append(took)
                        self.errors += response.status_code >= 300

    def _send(self, client: httpx.Client, sku: str, key: str, count: int) -> httpx.Response:
        if self.kind == "reads":
            return client.get(f"/inventory/{sku}")
        headers = {"Idempotency-Key": key}
        if count % 4:
            body = {"sku": sku, "warehouse": WAREHOUSE, "order_ref": f"R-{key}", "quantity": "1"}
            return client.post("/reservations", json=body, headers=headers)
        order = {"number": f"SO-{key}", "customer": CUSTOMER, "warehouse": WAREHOUSE,
                 "salesperson": "bench", "lines": [{"sku": sku, "quantity": "1",
                 "unit_price": "9.50"}]}  # fmt: skip
        return client.post("/sales-orders", json=order, headers=headers)


@dataclass(frozen=True)
class Phase:
    kind: str
    workers: int
    rate: float
    p50_ms: float
    p95_ms: float
    errors: int
    cpu: dict[str, float]  # cores busy (CPU seconds per wall second) per process
    lag: int  # projection lag (events) at the end of the phase
    load: float  # 1-minute load average at the end


def run_phase(
    kind: str, servers: list[Served], worker: Worker, skus: list[str], args: argparse.Namespace
) -> Phase:
    processes = {f"API {n + 1}": s.process.pid for n, s in enumerate(servers) if s.process}
    processes["projections"] = worker.pid
    processes["load generator"] = os.getpid()
    meter = CpuMeter(args.connection, processes)
    load = Load(kind, servers, skus, args.clients)
    began = threading.Timer(WARM_UP, meter.start)
    began.start()
    load.run(args.seconds)
    used = meter.stop()
    began.join()
    health = httpx.get(f"{servers[0].url}/healthz", timeout=30).json()
    lag = max(p["lag"] for p in health["projections"])
    quantiles = statistics.quantiles(load.latencies, n=20) if len(load.latencies) > 1 else [0] * 19
    return Phase(
        kind, len(servers), len(load.latencies) / args.seconds, quantiles[9] * 1000,
        quantiles[18] * 1000, load.errors,
        {name: seconds / args.seconds for name, seconds in used.items()}, lag,
        os.getloadavg()[0],
    )  # fmt: skip


def wait_caught_up(server: Served, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = httpx.get(f"{server.url}/healthz", timeout=30).json()
        if all(p["lag"] == 0 for p in health["projections"]):
            return
        time.sleep(0.2)


def measure(args: argparse.Namespace) -> None:
    """Every phase, printed as it ends (the shared server may refuse a connection later)."""
    factory = StoreFactory("postgres", args.postgres_url)
    try:
        # Few connections per process: the server is shared, and its 100 are not all ours.
        settings = factory.settings("scaling").model_copy(update={"postgres_pool_size": POOL})
        skus = seed(settings, args.skus)
        key = issue_caller_key(settings)
        off = {"run_projections": "false", "run_notifications": "false"}
        phases: list[Phase] = []
        with (
            psycopg.connect(settings.postgres_conninfo(), autocommit=True) as args.connection,
            started(Served(settings, key, **off)) as one,
            started(Served(settings, key, **off)) as two,
        ):
            with started(Worker(settings, report_seconds=30)) as worker:
                wait_caught_up(one)
                for _ in range(args.rounds):
                    for servers in ([one], [one, two]):
                        for kind in ("commands", "reads"):
                            phases.append(run_phase(kind, servers, worker, skus, args))
                            wait_caught_up(one)
            print("each phase:")
            print(table(phases))
            print(f"\nmedians over {args.rounds} rounds of {args.seconds:.0f} s, {args.clients}"
                  " clients:")  # fmt: skip
            medians = combined(phases)
            print(table(medians), flush=True)
            record_phases(medians)
            waits = [
                measure_waits(settings, [one, two], skus, args.pairs, listen)
                for _ in range(args.rounds)
                for listen in (True, False)
            ]
            print(f"\nread-your-writes across processes, {args.pairs} command + read pairs a run:")
            print(waits_table(waits))
            for listen in (True, False):
                same = [w for w in waits if w.listen is listen]
                how = "woken by each commit" if listen else "polling every 0.5 s"
                record("scaling", f"read at a command's position on the other API node, worker"
                       f" {how}, p95", "PostgreSQL", statistics.median(w.p95_ms for w in same),
                       "ms", lower_is_better=True, bench=BENCH)  # fmt: skip
    finally:
        factory.close()


BENCH = "python -m bench.scaling"


def record_phases(medians: list[Phase]) -> None:
    """Requests/s with 2 API workers beside 1 (the ratio is the scaling), for the summary."""
    one = {p.kind: p for p in medians if p.workers == 1}
    for p in medians:
        single = one.get(p.kind) if p.workers > 1 else None
        record("scaling", f"{p.kind} over HTTP, {p.workers} API worker process(es), one"
               " projection worker", "PostgreSQL", p.rate, "requests/s",
               baseline=single.rate if single else None,
               baseline_name="the same with 1 API worker" if single else "",
               bench=BENCH)  # fmt: skip


def combined(phases: list[Phase]) -> list[Phase]:
    """Each (load, workers) pair's median over the rounds."""
    groups: dict[tuple[str, int], list[Phase]] = {}
    for phase in phases:
        groups.setdefault((phase.kind, phase.workers), []).append(phase)
    out = []
    for (kind, workers), same in groups.items():
        out.append(Phase(
            kind, workers, statistics.median(p.rate for p in same),
            statistics.median(p.p50_ms for p in same), statistics.median(p.p95_ms for p in same),
            sum(p.errors for p in same),
            {name: statistics.median(p.cpu[name] for p in same if name in p.cpu)
             for name in same[0].cpu},
            max(p.lag for p in same), statistics.median(p.load for p in same),
        ))  # fmt: skip
    return out


def server_ms(phase: Phase) -> float:
    """CPU milliseconds the API processes, the projection worker and PostgreSQL spent per
    request (the load generator left out)."""
    used = sum(cores for name, cores in phase.cpu.items() if name != "load generator")
    return used / phase.rate * 1000 if phase.rate else 0.0


def table(phases: list[Phase]) -> str:
    names = ["API 1", "API 2", "projections", "PostgreSQL", "load generator"]
    head = (
        "| load | API workers | requests/s | p50 ms | p95 ms | errors | CPU (cores): "
        + " / ".join(names)
        + " | server-side CPU ms per request | lag after | load avg |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for p in phases:
        cpu = " / ".join(f"{p.cpu[n]:.2f}" if n in p.cpu else "–" for n in names)
        lines.append(
            f"| {p.kind} | {p.workers} | {p.rate:,.0f} | {p.p50_ms:.1f} | {p.p95_ms:.1f} |"
            f" {p.errors} | {cpu} | {server_ms(p):.1f} | {p.lag:,} | {p.load:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds a phase")
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds")
    parser.add_argument("--clients", type=int, default=8, help="Load generator threads")
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=100, help="Read-your-writes pairs a run")
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs", flush=True)
    measure(args)


if __name__ == "__main__":
    main()

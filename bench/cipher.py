"""What encryption at rest costs: appends, commands, log reads and the chain verify with the
event store's cipher off and on, and the rate of a key rotation.

    python -m bench.cipher                          # SQLite, ~15 s
    python -m bench.cipher --stores sqlite postgres --events 100000

Off and on run on twin fresh stores, in interleaved rounds (`bench.timing`), so both see the
same background load; the CPU microseconds per call show the cipher's own cost even when
the rates are noisy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from pydantic import SecretStr

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from bench.baseline import BareApplication, Counter
from bench.commands import SOURCE, meta, seed_catalog, sku_codes
from bench.projection import generate_log, read_log_decoded
from bench.stores import StoreFactory, postgres_problem
from bench.timing import Measured, Profiler, Timing, Workload, interleaved
from domain.cipher import new_key
from domain.key_rotation import rotate
from domain.ledger import Ledger
from projections.store import PostgresViewStore
from replay import audit
from replay.chain_follower import ChainProjection

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
MODES = ("off", "on")
SKUS = 100


@dataclass(frozen=True)
class CipherRates:
    events: int  # the log read and verified
    append: dict[str, Measured]  # bare library create, one event per save, per mode
    command: dict[str, Measured]  # the ledger's finished-goods receipt (get, decide, save)
    read: dict[str, Measured]  # the log selected and decoded, per event
    verify: dict[str, Measured]  # `audit verify`, per event
    rotate: float  # states re-encrypted under a new key per second


def measure_cipher(
    factory: StoreFactory, *, appends: int, events: int, rounds: int = 3
) -> CipherRates:
    key = new_key()

    def settings(purpose: str, mode: str) -> Settings:
        made = factory.settings(f"cipher_{purpose}_{mode}")
        return made if mode == "off" else made.model_copy(update={"cipher_key": SecretStr(key)})

    with ExitStack() as stack:

        def runtime(purpose: str, mode: str) -> Runtime:
            return stack.enter_context(_runtime(settings(purpose, mode)))

        workloads = []
        for mode in MODES:
            bare_settings = settings("bare", mode)
            if bare_settings.is_postgres:
                conninfo = bare_settings.postgres_conninfo()
                PostgresViewStore.ensure_schema(conninfo, bare_settings.events_schema)
            bare = BareApplication(env=bare_settings.eventsourcing_env())
            stack.callback(bare.close)
            workloads += _workloads(bare, runtime("commands", mode).ledger, mode, appends)
        calls = interleaved(Profiler(), workloads, rounds)
        logs = {mode: runtime("log", mode) for mode in MODES}
        head = {mode: generate_log(logs[mode].ledger, events, SKUS) for mode in MODES}
        for log in logs.values():
            log.runner.catch_up(ChainProjection.name)
        read, verify = _reads(logs, head, rounds)
        rotate_rate = _rotation(logs["on"])
    return CipherRates(
        head["on"],
        {mode: calls[f"append-{mode}"] for mode in MODES},
        {mode: calls[f"command-{mode}"] for mode in MODES},
        read,
        verify,
        rotate_rate,
    )


@contextmanager
def _runtime(settings: Settings) -> Iterator[Runtime]:
    opened = open_runtime(settings, start_projections=False)
    try:
        yield opened
    finally:
        opened.close()


def _workloads(bare: BareApplication, ledger: Ledger, mode: str, appends: int) -> list[Workload]:
    skus = sku_codes(SKUS)
    seed_catalog(ledger, skus, (SOURCE,))

    def produce(i: int) -> None:
        ledger.receive_finished_goods(
            meta("receive_finished_goods"), sku=skus[i % SKUS], warehouse=SOURCE,
            production_ref=f"MO-{i}", quantity_=Decimal(1),
        )  # fmt: skip

    return [
        Workload(f"append-{mode}", lambda _: bare.save(Counter()), appends, warmup=50),
        Workload(f"command-{mode}", produce, appends // 2, warmup=SKUS),
    ]


def _reads(
    logs: dict[str, Runtime], head: dict[str, int], rounds: int
) -> tuple[dict[str, Measured], dict[str, Measured]]:
    reads: dict[str, list[Measured]] = {mode: [] for mode in MODES}
    verifies: dict[str, list[Measured]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode, log in logs.items():
            reads[mode].append(_timed(partial(read_log_decoded, log.ledger, 1000, head[mode])))
            verifies[mode].append(_timed(partial(_verified, log)))
    return {m: _median(v) for m, v in reads.items()}, {m: _median(v) for m, v in verifies.items()}


def _verified(log: Runtime) -> int:
    return audit.verify_log(log.ledger, log.store).verified


def _timed(body: Callable[[], int]) -> Measured:
    wall, cpu = time.perf_counter(), time.process_time()
    count = body()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu).per(count)


def _median(values: list[Measured]) -> Measured:
    ordered = sorted(values, key=lambda m: m.rate)
    return ordered[len(ordered) // 2]


def _rotation(runtime: Runtime) -> float:
    """Every state of the encrypted store re-encrypted under a new key, once."""
    old = runtime.settings.cipher_keys()
    assert old is not None
    moved = runtime.settings.model_copy(
        update={"cipher_key": SecretStr(new_key()), "cipher_old_keys": SecretStr(old[0])}
    )
    with _runtime(moved) as rotating:
        started = time.perf_counter()
        done = rotate(rotating.ledger)
        seconds = time.perf_counter() - started
        if done.reencrypted != done.scanned:
            raise RuntimeError(f"the bench store did not rotate whole: {done}")
    return done.scanned / seconds


def cipher_table(results: dict[str, CipherRates]) -> str:
    lines = [
        "| store | what | cipher off | cipher on | on / off | CPU µs off → on |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        for what, figures in (
            ("append (library, 1 event per save) /s", r.append),
            ("command (finished-goods receipt) /s", r.command),
            (f"log read and decoded, events/s ({r.events:,})", r.read),
            (f"`audit verify`, events/s ({r.events:,})", r.verify),
        ):
            off, on = figures["off"], figures["on"]
            lines.append(
                f"| {label} | {what} | {off.rate:,.0f} | {on.rate:,.0f} |"
                f" {on.rate / off.rate:.2f} | {off.cpu_us:.1f} → {on.cpu_us:.1f} |"
            )
        lines.append(f"| {label} | `cipher rotate`, states/s | | {r.rotate:,.0f} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite"])
    parser.add_argument("--appends", type=int, default=500, help="appends per round and mode")
    parser.add_argument("--events", type=int, default=20_000, help="the log read and verified")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    results = {}
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            results[factory.label] = measure_cipher(
                factory, appends=args.appends, events=args.events
            )
    print(cipher_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

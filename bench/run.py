"""Measure the command path and projection catch-up on SQLite and PostgreSQL in one run.

    python -m bench.run                      # full run, both stores (~5 minutes)
    python -m bench.run --quick --stores sqlite
    python -m bench.run --write-docs         # also rewrite the table in docs/performance.md
    python -m bench.run --quick --profile var/profiles   # cProfile every timed section

Every store is fresh (a temp SQLite file, or unique PostgreSQL schemas) and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg

from bench.ageing import AgeingTimes, ageing_plans, ageing_table, measure_ageing
from bench.asof import AsOfTimes, asof_table, measure_asof
from bench.baseline import PAIR, baseline_workloads
from bench.chain import ChainRates, chain_table, measure_chain
from bench.cipher import CipherRates, cipher_table, measure_cipher
from bench.commands import ledger_workloads
from bench.matching import EngineRates, matching_table, measure_apply, measure_engine
from bench.orders import measure_timeline
from bench.plan import FULL, QUICK, Plan
from bench.projection import measure_projections
from bench.rebuild import (
    MEMORY_LIMIT_MB,
    REBUILD_TARGET,
    VERIFY_TARGET,
    RebuildRates,
    rebuild_table,
    rebuild_verdicts,
)
from bench.rebuild import measure as measure_rebuilds
from bench.report import (
    Figure,
    StoreResults,
    cpu_table,
    figures,
    sla_plans,
    sla_table,
    table,
    verdicts,
    write_docs,
)
from bench.results import record
from bench.sla import measure_sla
from bench.stores import StoreFactory, postgres_problem
from bench.timing import Profiler, interleaved

DESCRIPTION = (
    "Command and projection throughput and SLA scan times on SQLite and PostgreSQL,"
    " against the library."
)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOADS: list[float] = []  # 1-minute load average at every step of the run


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    profiler = Profiler(Path(args.profile) if args.profile else None)
    results: dict[str, StoreResults] = {}
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    print(
        f"matching engine: {plan.match_payments:,} payments against {plan.match_items:,}"
        " open items",
        file=sys.stderr,
        flush=True,
    )
    engine = measure_engine(
        profiler.for_store("memory"),
        payments=plan.match_payments,
        items=plan.match_items,
        customers=plan.match_customers,
        repeats=3,
    )
    record_figures([], {}, engine=engine)
    for kind in args.stores:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            result = measure_store(factory, plan, profiler.for_store(kind))
            results[result.label] = result
        # Recorded store by store: a store that fails later loses only its own figures.
        record_figures(figures(plan, result.projections.events, result), {result.label: result})
    print(f"full rebuild over a mixed log of ~{plan.rebuild_events:,} events", file=sys.stderr)
    rebuilds = measure_rebuilds(list(results_kinds(args.stores, results)), plan.rebuild_events,
                                args.postgres_url)  # fmt: skip
    record_figures([], {}, rebuilds=rebuilds)
    chains = {label: r.chain for label, r in results.items() if r.chain is not None}
    as_of = {label: r.as_of for label, r in results.items() if r.as_of is not None}
    ciphers = {label: r.cipher for label, r in results.items() if r.cipher is not None}
    run = RunInfo(
        args.quick,
        time.perf_counter() - started,
        load_before,
        os.getloadavg()[0],
        max([load_before, *LOADS, os.getloadavg()[0]]),
    )
    rows = figures(plan, _events(results, plan), _first(results))
    print(table(rows, results))
    print()
    print("\n".join(verdicts(rows, results)))
    print()
    print(cpu_table(rows, results))
    print()
    print(sla_table(plan, results))
    print("\n".join(sla_plans(results)))
    print()
    print(_matching(engine, results))
    print()
    print(ageing_table(_ageing(results)))
    print("\n".join(ageing_plans(_ageing(results))))
    print()
    print(chain_table(chains))
    print()
    print(asof_table(as_of))
    print()
    print(cipher_table(ciphers))
    print()
    print(rebuild_table(rebuilds))
    print("\n".join(rebuild_verdicts(rebuilds)))
    print(f"\n{run.describe()}")
    for report in profiler.finish():
        print(report, file=sys.stderr)
    if args.write_docs:
        write_docs(
            DOCS, docs_block(plan, rows, results, run, engine, chains, as_of, rebuilds, ciphers)
        )
        print(f"wrote {DOCS}")
    return 0


AS_OF_TARGET = 0.5  # seconds, inventory as of a past position, with checkpoints
BENCH = "python -m bench.run"


def record_figures(
    rows: list[Figure],
    results: dict[str, StoreResults],
    engine: EngineRates | None = None,
    rebuilds: dict[str, RebuildRates] | None = None,
) -> None:
    """Hand every figure with a target or a baseline on to the summary (bench/results.py)."""
    references = [row for row in rows if row.reference is None or row.target.startswith("ref")]
    for store, result in results.items():
        for row in rows:
            if row in references or (value := row.rate(result)) is None:
                continue
            base = row.reference(result) if row.reference else None
            named = [r.name for r in references if base and r.rate(result) == base.rate]
            goal = row.goal(result) if row.goal else None
            record("commands" if "commands" in row.unit else "projections", row.name, store,
                   value, row.unit, baseline=base.rate if base else None,
                   baseline_name=named[0] if named else "", target=goal,
                   target_text=row.target if goal else "", bench=BENCH)  # fmt: skip
        sla = result.sla
        record("orders", f"SLA monitor scan over {sla.open_orders:,} open orders", store,
               sla.scan * 1000, "ms", lower_is_better=True, bench=BENCH)  # fmt: skip
        if (matched := result.matching) is not None:
            record("finance", f"`apply_matches`, {matched.applied_payments:,} payments, one save"
                   " each", store, matched.per_payment.rate, "payments/s",
                   baseline=matched.pair.rate if matched.pair else None,
                   baseline_name="bare library: get 2 + command both + save both",
                   bench=BENCH)  # fmt: skip
        if (ageing := result.ageing) is not None:
            record("finance", f"AR ageing as of a past date, every customer, {ageing.invoices:,}"
                   " invoices", store, ageing.ageing_all.wall * 1000, "ms",
                   lower_is_better=True, bench=BENCH)  # fmt: skip
        if (chain := result.chain) is not None:
            record("audit", f"hash-chain verify, {chain.events:,} events", store, chain.verify,
                   "events/s", target=VERIFY_TARGET, target_text=f"≥ {VERIFY_TARGET:,} events/s",
                   bench=BENCH)  # fmt: skip
        if (as_of := result.as_of) is not None and as_of.every:
            record("replay", f"inventory as of a past position, {as_of.events:,} events,"
                   f" checkpoint every {as_of.every:,}", store, as_of.checkpoint_seconds, "s",
                   baseline=as_of.seconds, baseline_name="the same replayed from position 0",
                   target=AS_OF_TARGET, target_text=f"< {AS_OF_TARGET} s", lower_is_better=True,
                   bench=BENCH)  # fmt: skip
    if engine is not None:
        record("finance", f"matching engine, {engine.payments:,} payments against"
               f" {engine.items:,} open items", "memory", engine.payments_per_second,
               "payments/s", bench=BENCH)  # fmt: skip
    for store, rebuilt in (rebuilds or {}).items():
        goal = REBUILD_TARGET if store == "PostgreSQL" else None
        record("replay", f"full rebuild of every read model, {rebuilt.events:,} events", store,
               rebuilt.rebuild.rate, "log events/s", target=goal,
               target_text=f"≥ {REBUILD_TARGET:,} events/s on PostgreSQL" if goal else "",
               bench=BENCH)  # fmt: skip
        record("audit", f"hash-chain verify, {rebuilt.events:,} events", store,
               rebuilt.verify.rate, "events/s", target=VERIFY_TARGET,
               target_text=f"≥ {VERIFY_TARGET:,} events/s", bench=BENCH)  # fmt: skip
        for what, ran in (("full rebuild", rebuilt.rebuild), ("hash-chain verify", rebuilt.verify)):
            record("replay" if what == "full rebuild" else "audit",
                   f"peak memory of the {what}, {rebuilt.events:,} events", store, ran.rss_mb,
                   "MB", target=MEMORY_LIMIT_MB, target_text=f"< {MEMORY_LIMIT_MB} MB",
                   lower_is_better=True, bench=BENCH)  # fmt: skip


@dataclass(frozen=True)
class RunInfo:
    quick: bool
    seconds: float
    load_before: float
    load_after: float
    load_peak: float  # highest seen at the steps of the run

    def describe(self) -> str:
        # The load average says whether other jobs shared the machine during the run.
        mode = "quick run (small counts, not representative)" if self.quick else "full run"
        text = (
            f"{mode}: {self.seconds:.0f} s; 1-minute load average"
            f" {self.load_before:.1f} before, {self.load_after:.1f} after,"
            f" {self.load_peak:.1f} at its highest"
        )
        cpus = os.cpu_count() or 1
        if self.load_peak > cpus:
            text += (
                f" — a busy machine: other jobs wanted more than its {cpus} CPUs during the run,"
                " so rates are lower and noisier than on a quiet one"
            )
        return text


def measure_store(factory: StoreFactory, plan: Plan, profiler: Profiler) -> StoreResults:
    def step(what: str) -> None:
        LOADS.append(os.getloadavg()[0])
        print(f"[{factory.label}] {what}", file=sys.stderr, flush=True)

    step("set-up: bare library application and ledger")
    with (
        baseline_workloads(
            factory.settings("baseline"),
            creates=plan.creates,
            updates=plan.updates,
            spread=plan.spread,
        ) as baseline,
        ledger_workloads(
            factory.settings("commands"),
            spread=plan.spread,
            reservations=plan.reservations,
            hot_reservations=plan.hot_reservations,
            transfers=plan.transfers,
            transfer_spread=plan.transfer_spread,
            rounds=plan.rounds,
        ) as commands,
    ):
        step(f"commands: warm-up, then {plan.rounds} interleaved rounds")
        calls = interleaved(profiler, baseline + commands, plan.rounds)
    step(f"projections over ~{plan.events:,} events")
    projections = measure_projections(
        factory,
        factory.settings("projections"),
        profiler,
        events=plan.events,
        items=plan.projection_items,
        repeats=plan.projection_repeats,
    )
    step(f"orders projection over {plan.timeline_orders:,} orders recorded by command")
    timeline = measure_timeline(
        factory,
        factory.settings("timeline"),
        profiler,
        orders=plan.timeline_orders,
        skus=plan.projection_items,
        repeats=plan.projection_repeats,
    )
    step(f"SLA monitor over {plan.sla_open:,} open orders ({plan.sla_real:,} recorded by command)")
    sla = measure_sla(
        factory.settings("sla"),
        profiler,
        open_orders=plan.sla_open,
        real_orders=plan.sla_real,
        repeats=plan.sla_repeats,
    )
    step(f"auto-matching {plan.match_apply:,} payments end to end")
    matching = measure_apply(
        factory.settings("matching"), profiler, payments=plan.match_apply, pair=calls.get(PAIR)
    )
    step(f"AR ageing over {plan.ageing_invoices:,} invoices (bulk-loaded read model)")
    ageing = measure_ageing(factory, invoices=plan.ageing_invoices, repeats=plan.ageing_repeats)
    step(f"hash chain over {plan.chain_events:,} events")
    chain = measure_chain(factory.settings("chain"), plan.chain_events)
    step("inventory as of past positions")
    as_of = measure_asof(
        factory, events=plan.asof_events, items=plan.projection_items, repeats=plan.asof_repeats,
        every=plan.asof_every,
    )  # fmt: skip
    step("encryption at rest: the cipher off and on")
    cipher = measure_cipher(factory, appends=plan.cipher_appends, events=plan.cipher_events)
    return StoreResults(
        factory.label, factory.describe(), calls, projections, timeline, sla, matching, ageing,
        chain, as_of, cipher,
    )  # fmt: skip


def _ageing(results: dict[str, StoreResults]) -> dict[str, AgeingTimes]:
    return {label: r.ageing for label, r in results.items() if r.ageing is not None}


AS_OF_NOTE = (
    "Inventory as of past positions (`bench/asof.py`): the live projection code replaying"
    " the log into a scratch store up to a random past position, seeded from the nearest"
    " read-model checkpoint (target < 0.5 s) and, for comparison, from position 0; the"
    " checkpoints are built first (the interval is in the table; 5,000 is the default);"
    " time → position is the binary search over recorded times."
)


REBUILD_NOTE = (
    "Full rebuild and chain verify over a mixed company log (`bench/rebuild.py`, recorded by"
    " the ledger's commands: orders through their stages, reservations, shipments, invoices,"
    " payments and allocations, purchase orders and receipts, counts): `ProjectionRunner."
    "rebuild_all()` — what `orderledger projections rebuild` runs — then `audit verify`, each"
    " in a fresh process whose peak resident size is shown."
)


CIPHER_NOTE = (
    "Encryption at rest (`bench/cipher.py`): the same workloads on twin fresh stores with the"
    " event store's cipher off and on, in interleaved rounds (medians); CPU µs are this"
    " process's per call or per event; the rotation re-encrypts the log's every state under"
    " a new key once."
)


def results_kinds(stores: list[str], results: dict[str, StoreResults]) -> list[str]:
    """The stores measured above (PostgreSQL only when it answered)."""
    labels = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    return [kind for kind in stores if labels[kind] in results]


def docs_block(
    plan: Plan,
    rows: list[Figure],
    results: dict[str, StoreResults],
    run: RunInfo,
    engine: EngineRates | None = None,
    chains: dict[str, ChainRates] | None = None,
    as_of: dict[str, AsOfTimes] | None = None,
    rebuilds: dict[str, RebuildRates] | None = None,
    ciphers: dict[str, CipherRates] | None = None,
) -> str:
    stores = ", ".join(r.version for r in results.values())
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}, eventsourcing {version('eventsourcing')},"
        f" psycopg {version('psycopg')} ({psycopg.pq.__impl__}), {stores}; {run.describe()}.",
        "",
        table(rows, results),
        "",
        *(f"- {line}" for line in verdicts(rows, results)),
        "",
        "CPU time this process spent per call (per log event for the projection rows); the"
        " database server's own CPU is not in it. Background load moves these figures less than"
        " the rates above, so they show what the ledger adds even when rates are noisy.",
        "",
        cpu_table(rows, results),
        "",
        "SLA monitor over the orders read model: wall-clock milliseconds, medians of"
        " repeated queries (the scans run once each; the first one records every breach).",
        "",
        sla_table(plan, results),
        "",
        *(f"- {line}" for line in sla_plans(results)),
        "",
        "Automatic payment matching: the rules engine in memory (median of 3 runs), then per"
        " store the steps of a matching run — candidates loaded from the read model, the"
        " engine, and `apply_matches` saving one payment with its invoices per save (by an"
        " application that did not record them, so every aggregate is read from the store).",
        "",
        _matching(engine, results),
        "",
        "AR ageing and open items as of a past date (`bench/ageing.py`): the receivables read"
        " model is bulk-loaded (COPY / multi-row INSERT), so these time the queries, not the"
        " commands; wall-clock milliseconds, medians of repeated queries after a warm-up.",
        "",
        ageing_table(_ageing(results)),
        "",
        *(f"- {line}" for line in ageing_plans(_ageing(results))),
        "",
        "Hash chain (`bench/chain.py`): the follower linking the log from position 0, and"
        " `audit verify` recomputing and comparing it (median of 3); `audit export` of the"
        " whole log into a bundle folder and the bundle's verification (`verify_bundle.py`);"
        " peak memory of a verification, an export and a bundle verification (tracemalloc)"
        " and of the whole process.",
        "",
        chain_table(chains or {}),
        "",
        AS_OF_NOTE,
        "",
        asof_table(as_of or {}),
        "",
        REBUILD_NOTE,
        "",
        rebuild_table(rebuilds or {}),
        "",
        *(f"- {line}" for line in rebuild_verdicts(rebuilds or {})),
        "",
        CIPHER_NOTE,
        "",
        cipher_table(ciphers or {}),
    ]
    return "\n".join(lines)


def _matching(engine: EngineRates | None, results: dict[str, StoreResults]) -> str:
    stores = {label: r.matching for label, r in results.items() if r.matching is not None}
    return matching_table(engine, stores)


def _first(results: dict[str, StoreResults]) -> StoreResults | None:
    """Counts that are the same on every store (log lengths) come from the first one."""
    return next(iter(results.values()), None)


def _events(results: dict[str, StoreResults], plan: Plan) -> int:
    """The log length measured (the same on every store), else the planned one."""
    for result in results.values():
        return result.projections.events
    return plan.events


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="small counts (< 60 s): a smoke run")
    parser.add_argument(
        "--stores",
        default="sqlite,postgres",
        type=lambda value: [part.strip() for part in value.split(",") if part.strip()],
        help="comma-separated: sqlite,postgres (default both)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ORDERLEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server for the PostgreSQL column (fresh schemas are created and dropped)",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help=f"rewrite the results table in {DOCS.name}"
    )
    parser.add_argument("--profile", metavar="DIR", help="cProfile each timed section into DIR")
    args = parser.parse_args(argv)
    unknown = set(args.stores) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    raise SystemExit(main())

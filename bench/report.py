"""The results tables: one row per figure, one column per store, ratios and targets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.ageing import AgeingTimes
from bench.asof import AsOfTimes
from bench.baseline import CREATE, PAIR, UPDATE
from bench.chain import ChainRates
from bench.cipher import CipherRates
from bench.commands import ORDER_FLOW, RESERVE_HOT, RESERVE_SPREAD, SHIP, SHIP_NO_LIMIT, TRANSFER
from bench.matching import ApplyRates
from bench.orders import TimelineRates
from bench.plan import Plan, hot_open_reservations
from bench.projection import ProjectionRates
from bench.sla import LIST_LIMIT, LIST_WITHIN, SlaTimes
from bench.timing import Measured

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
STORES = ("SQLite", "PostgreSQL")
ORDER_FLOW_TARGET = 0.70
COMMAND_TARGET = 1.0  # × the bare library's get + command + save on the same store
CATCH_UP_TARGET = 20_000  # events/s


@dataclass(frozen=True)
class StoreResults:
    label: str  # "SQLite" or "PostgreSQL"
    version: str
    calls: dict[str, Measured]  # medians over the rounds, per workload label
    projections: ProjectionRates
    timeline: TimelineRates
    sla: SlaTimes
    matching: ApplyRates | None = None
    ageing: AgeingTimes | None = None
    chain: ChainRates | None = None
    as_of: AsOfTimes | None = None
    cipher: CipherRates | None = None


Pick = Callable[[StoreResults], Measured | None]


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str  # of the throughput: saves/s, commands/s, events/s
    pick: Pick
    reference: Pick | None = None  # the ratio's denominator on the same store
    target: str = ""
    goal: Callable[[StoreResults], float] | None = None  # the rate the target asks for

    def rate(self, result: StoreResults) -> float | None:
        measured = self.pick(result)
        return None if measured is None else measured.rate


def figures(plan: Plan, events: int, first: StoreResults | None = None) -> list[Figure]:
    """The rows; log lengths in their names come from `first` (the same on every store)."""

    def call(label: str) -> Pick:
        return lambda r: r.calls[label]

    def read_log(r: StoreResults) -> Measured:
        return r.projections.read_log

    def read_order_log(r: StoreResults) -> Measured:
        return r.timeline.read_log

    def command_goal(r: StoreResults) -> float:
        return COMMAND_TARGET * r.calls[UPDATE].rate

    def pair_goal(r: StoreResults) -> float:
        return COMMAND_TARGET * r.calls[PAIR].rate

    def flow_goal(r: StoreResults) -> float:
        return ORDER_FLOW_TARGET * r.calls[CREATE].rate

    update, command_target = call(UPDATE), f"ratio ≥ {COMMAND_TARGET:.1f}"
    if first is None:
        order_log, timeline = f"{plan.timeline_orders:,} orders", ""
    else:
        log = first.timeline
        order_log = f"{log.orders:,} orders, {log.events:,} events"
        timeline = f" ({log.order_events:,} of its events are the model's: one timeline row each)"
    spread, hot_open = plan.spread, hot_open_reservations(plan)
    return [
        Figure("bare library: create, 1 event per save", "saves/s", call(CREATE)),
        Figure(
            f"bare library: get + command + save over {spread:,} ids",
            "saves/s",
            update,
            update,
            "reference",
        ),
        Figure(
            f"bare library: get 2 + command both + save both in one save, over {spread:,} ids",
            "saves/s",
            call(PAIR),
            call(PAIR),
            "reference for `transfer`",
        ),
        Figure(
            f"`reserve` over {spread:,} SKUs, idempotency key + metadata",
            "commands/s",
            call(RESERVE_SPREAD),
            update,
            command_target,
            command_goal,
        ),
        Figure(
            "`reserve` on one hot SKU, idempotency key + metadata, every order left open"
            f", ≈{hot_open:,} open reservations on average",
            "commands/s",
            call(RESERVE_HOT),
            update,
            command_target,
            command_goal,
        ),
        Figure(
            f"`transfer` over {plan.transfer_spread:,} SKUs, 2 stock items per save",
            "commands/s",
            call(TRANSFER),
            call(PAIR),
            command_target,
            pair_goal,
        ),
        Figure(
            "order flow: create → submit (approval + reservation) → ship, one line,"
            " idempotency keys",
            "commands/s",
            call(ORDER_FLOW),
            call(CREATE),
            f"≥ {ORDER_FLOW_TARGET:.0%} of the library's create rate",
            flow_goal,
        ),
        Figure(
            "`ship`: one line shipped in full out of its reservation, the receivable"
            " recognised in the same save, idempotency key; customer without a credit limit",
            "commands/s",
            call(SHIP_NO_LIMIT),
            call(CREATE),
            "ratio to the library's create (4 aggregates per save against 1)",
        ),
        Figure(
            "`ship` as above for a customer with a credit limit: the credit standing is"
            " reviewed first (the credit and receivables read models brought to the log head)",
            "commands/s",
            call(SHIP),
            call(CREATE),
            "ratio to the library's create",
        ),
        Figure(
            f"read the log decoded, {events:,} events", "events/s", read_log, read_log, "reference"
        ),
        Figure(
            f"inventory catch-up from 0, {events:,} events",
            "events/s",
            lambda r: r.projections.inventory,
            read_log,
            f"≥ {CATCH_UP_TARGET:,} events/s",
            lambda r: CATCH_UP_TARGET,
        ),
        Figure(
            "every read model from 0 in one pass (each page read and decoded once)",
            "log events/s",
            lambda r: r.projections.all_models,
            read_log,
        ),
        Figure(
            f"read the order log decoded, {order_log}",
            "events/s",
            read_order_log,
            read_order_log,
            "reference",
        ),
        Figure(
            f"orders + timeline catch-up from 0, the order log{timeline}",
            "log events/s",
            lambda r: r.timeline.catch_up,
            read_order_log,
        ),
        Figure(
            f"KPI facts catch-up from 0, the order log{timeline}",
            "log events/s",
            lambda r: r.timeline.kpis,
            read_order_log,
        ),
    ]


def table(rows: list[Figure], results: dict[str, StoreResults]) -> str:
    """Throughputs as a Markdown table, readable as printed and pasted as is into the docs."""
    lines = [
        "| figure | SQLite | PostgreSQL | ratio to baseline (SQLite / PostgreSQL) | target |",
        "|---|--:|--:|:-:|---|",
    ]
    for row in rows:
        values = [_number(row.rate(results[s])) if s in results else "n/a" for s in STORES]
        ratios = [_ratio(row, results.get(s)) for s in STORES]
        ratio = "—" if set(ratios) == {"—"} else " / ".join(ratios)
        name = f"{row.name} ({row.unit})"
        lines.append(f"| {name} | {values[0]} | {values[1]} | {ratio} | {row.target} |")
    return "\n".join(lines)


def cpu_table(rows: list[Figure], results: dict[str, StoreResults]) -> str:
    """CPU this process spent per call or event: steady even when the machine is busy."""
    lines = [
        "| figure | SQLite | PostgreSQL | more than its baseline (SQLite / PostgreSQL) |",
        "|---|--:|--:|:-:|",
    ]
    for row in rows:
        cells = [_cpu(row.pick(results[s])) if s in results else "n/a" for s in STORES]
        extra = [_extra_cpu(row, results.get(s)) for s in STORES]
        more = "—" if set(extra) == {"—"} else " / ".join(extra)
        per = "event" if "events" in row.unit else "call"
        lines.append(f"| {row.name} (µs CPU per {per}) | {cells[0]} | {cells[1]} | {more} |")
    return "\n".join(lines)


def verdicts(rows: list[Figure], results: dict[str, StoreResults]) -> list[str]:
    """One line per target and store: met, or missed and by how much."""
    found = []
    for row in rows:
        if row.goal is None:
            continue
        for store, result in results.items():
            value, goal = row.rate(result) or 0.0, row.goal(result)
            if value >= goal:
                found.append(f"met: {row.name} on {store} ({row.target})")
            else:
                short = 1 - value / goal
                found.append(f"MISSED: {row.name} on {store}: {short:.0%} short of {row.target}")
    return found


def sla_table(plan: Plan, results: dict[str, StoreResults]) -> str:
    """SLA monitor times per store, in milliseconds."""
    hours = LIST_WITHIN.total_seconds() / 3600
    rows: list[tuple[str, Callable[[SlaTimes], str]]] = [
        ("open orders in the read model (real + synthetic rows)", lambda t: f"{t.open_orders:,}"),
        (
            "of them recorded by command and projected / late (past due, no breach recorded)",
            lambda t: f"{t.real_orders:,} / {t.late:,}",
        ),
        (
            "due query alone (`due_unrecorded`, what a scan reads first), ms",
            lambda t: _ms(t.due_query),
        ),
        (
            f"at-risk/late list (`queries.sla_orders`, due within {hours:.0f} h,"
            f" limit {LIST_LIMIT}: the API's defaults), ms",
            lambda t: f"{_ms(t.list_query)} ({t.listed:,} rows)",
        ),
        (
            "full `SlaMonitor.scan()`: due query + one `record_sla_breach` command per late order"
            ", ms",
            lambda t: f"{_ms(t.scan)} ({t.recorded:,} breaches)",
        ),
        ("per breach recorded (scan minus due query, per breach), ms", lambda t: _ms(t.per_breach)),
        (
            "scan once the breaches are projected (nothing to record), ms",
            lambda t: _ms(t.idle_scan),
        ),
    ]
    title = f"SLA monitor, {plan.sla_open:,} open orders"
    lines = [f"| {title} | SQLite | PostgreSQL |", "|---|--:|--:|"]
    for name, cell in rows:
        cells = [cell(results[s].sla) if s in results else "n/a" for s in STORES]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def sla_plans(results: dict[str, StoreResults]) -> list[str]:
    """The plans the stores chose for the two SLA queries (EXPLAIN), one line each."""
    found = []
    for store, result in results.items():
        found.append(f"{store} plan of the due query: `{_plain(result.sla.due_plan)}`")
        found.append(f"{store} plan of the at-risk/late list: `{_plain(result.sla.list_plan)}`")
    return found


def _plain(plan: str) -> str:
    """A plan without the literal timestamps PostgreSQL prints for the parameters."""
    return re.sub(r"'[^']*'::timestamp with time zone", "$1", plan)


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def write_docs(path: Path, block: str) -> None:
    """Replace what lies between the bench markers in `path` with `block`."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {START} … {END} markers to write between")
    replaced = pattern.sub(lambda _: f"{START}\n{block}\n{END}", text, count=1)
    path.write_text(replaced, encoding="utf-8")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _cpu(measured: Measured | None) -> str:
    return "—" if measured is None else f"{measured.cpu_us:,.0f}"


def _ratio(row: Figure, result: StoreResults | None) -> str:
    if row.reference is None:
        return "—"
    if result is None:
        return "n/a"
    value, reference = row.pick(result), row.reference(result)
    if value is None or reference is None or not reference.rate:
        return "—"
    return f"{value.rate / reference.rate:.2f}"


def _extra_cpu(row: Figure, result: StoreResults | None) -> str:
    if row.reference is None or row.reference is row.pick:
        return "—"
    if result is None:
        return "n/a"
    value, reference = row.pick(result), row.reference(result)
    if value is None or reference is None:
        return "—"
    return f"{value.cpu_us - reference.cpu_us:+,.0f}"

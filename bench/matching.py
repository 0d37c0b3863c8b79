"""Automatic payment matching: the rules engine alone, and auto-matching end to end.

(a) Engine: 10,000 payments against 50,000 open items of 2,000 customers, in memory — the
    time `domain.matching.match` takes and the matches it finds per second. The payments
    are a realistic mix: remittances naming an invoice (spelt several ways), payers paying
    one invoice exactly under a variant of their name (upper case, legal form missing, a
    letter dropped), payers settling their two oldest invoices a little short, and payments
    from strangers or of odd amounts that stay unmatched.
(b) End to end, per store: the same kind of book recorded in the ledger (set-up saves many
    aggregates per transaction; untimed) and projected; then what `run_auto_match` does,
    step by step: load the candidates from the read model, run the engine, and apply the
    proposals through `Ledger.apply_matches` — one save per payment with its invoices. The
    apply rate is shown beside the bare library's "get 2 + command both + save both in one
    save" from the same run, the closest plain-library equivalent of one payment's save.

    python -m bench.matching                 # both, on SQLite and PostgreSQL
    python -m bench.matching --quick --stores sqlite
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.matching import catch_up
from api.runtime import open_runtime
from api.settings import Settings
from bench.baseline import PAIR, baseline_workloads
from bench.commands import meta
from bench.stores import StoreFactory, postgres_problem
from bench.timing import Measured, Profiler, interleaved
from domain.customers import Customer
from domain.invoices import Invoice
from domain.ledger import Ledger
from domain.matching import MatchResult, OpenItem, PaymentToMatch, match
from domain.matching_rules import RULES, default_rules, validate_rules
from domain.payments import Payment
from projections import matching as candidates

DAY = date(2026, 6, 30)
SAVE_BATCH = 200
PLACES = ["Atlas", "Baltic", "Cedar", "Delta", "Elbe", "Fjord", "Granite", "Harbor", "Iris",
          "Juniper", "Kestrel", "Linden", "Meridian", "Nordic", "Orion", "Pinnacle", "Quarry",
          "Rhein", "Summit", "Tundra"]  # fmt: skip
TRADES = ["Steel", "Foods", "Logistics", "Textiles", "Pharma", "Timber", "Glass", "Motors",
          "Paper", "Chemicals", "Plastics", "Optics", "Tools", "Marine", "Energy", "Cables",
          "Ceramics", "Grain", "Robotics", "Printing"]  # fmt: skip
KINDS = ["Trading", "Group", "Works", "Partners", "Supply"]
FORMS = ["GmbH", "Ltd", "AG", "S.A.", "B.V.", "Inc.", "plc", "KG"]
MIX = (("reference", 35), ("exact", 30), ("oldest", 15), ("stranger", 20))


@dataclass(frozen=True)
class Book:
    payments: list[PaymentToMatch]
    items: list[OpenItem]
    customers: list[tuple[str, str]]


@dataclass(frozen=True)
class EngineRates:
    payments: int
    items: int
    customers: int
    seconds: float  # median of the repeats
    matched: int  # payments with at least one proposal
    proposals: int
    by_rule: dict[str, int]

    @property
    def payments_per_second(self) -> float:
        return self.payments / self.seconds

    @property
    def matches_per_second(self) -> float:
        return self.proposals / self.seconds


@dataclass(frozen=True)
class ApplyRates:
    payments: int  # payments in the queue
    items: int
    load_seconds: float  # candidates from the read model
    match_seconds: float  # the engine
    applied_payments: int
    allocations: int
    apply: Measured  # per allocation: apply_matches, one save per payment
    per_payment: Measured  # the same run, per payment saved
    pair: Measured | None  # the bare library's get 2 + command both + save both


def book(customers: int, items: int, payments: int, seed: int = 2026) -> Book:
    """A synthetic ledger of open items and a bank statement's worth of payments."""
    rng = random.Random(seed)
    names = _names(customers, rng)
    per = max(1, items // customers)
    listed: list[OpenItem] = []
    for n in range(items):
        code = names[n // per % customers][0]
        due = DAY - timedelta(days=rng.randint(-30, 120))
        owed = Decimal(rng.randint(5_000, 500_000)) / 100
        currency = "USD" if rng.random() < 0.05 else "EUR"
        listed.append(OpenItem(f"INV-2026-{n + 1:06d}", code, currency, owed, due,
                               due - timedelta(days=30)))  # fmt: skip
    return Book(_payments(payments, listed, names, rng), listed, names)


def _names(count: int, rng: random.Random) -> list[tuple[str, str]]:
    combos = [(p, t, k) for p in PLACES for t in TRADES for k in KINDS]
    rng.shuffle(combos)
    return [(f"C-{n:05d}", f"{p} {t} {k} {rng.choice(FORMS)}")
            for n, (p, t, k) in enumerate(combos[:count])]  # fmt: skip


def _variant(name: str, rng: random.Random) -> str:
    """How a bank statement spells a customer's name."""
    words = name.split()
    kind = rng.randrange(5)
    if kind == 0:
        return name.upper()
    if kind == 1:
        return " ".join(words[:-1])  # no legal form
    if kind == 2:
        return name + "."
    if kind == 3:  # one letter dropped from the longest word
        longest = max(range(len(words) - 1), key=lambda i: len(words[i]))
        word = words[longest]
        cut = rng.randrange(1, len(word))
        words[longest] = word[:cut] + word[cut + 1 :]
        return " ".join(words)
    return name.lower().replace(" ", "  ")


def _payments(
    count: int, items: list[OpenItem], names: list[tuple[str, str]], rng: random.Random
) -> list[PaymentToMatch]:
    by_code = dict(names)
    by_customer: dict[str, list[OpenItem]] = {}
    for item in sorted(items, key=lambda i: (i.due_date, i.number)):
        by_customer.setdefault(item.customer, []).append(item)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    found = []
    for n in range(count):
        kind = rng.choice(kinds)
        item = rng.choice(items)
        payer, amount, remittance = _variant(by_code[item.customer], rng), item.open, ""
        if kind == "reference":
            written = rng.choice([item.number, item.number.lower().replace("-", " "),
                                  item.number.replace("-", "")])  # fmt: skip
            remittance = f"invoice {written} thank you"
            if rng.random() < 0.3:
                amount = (item.open / 2).quantize(Decimal("0.01"))
        elif kind == "oldest":
            oldest = by_customer[item.customer][:2]
            amount = sum((i.open for i in oldest), Decimal(0)) - Decimal("0.40")
            item = oldest[0]
        elif kind == "stranger":
            payer = f"Private person {n}"
            amount = Decimal(rng.randint(100, 99_999)) / 100
        value_date = DAY - timedelta(days=rng.randint(0, 20))
        found.append(PaymentToMatch(f"BANK-{n:06d}", payer, amount, item.currency, value_date,
                                    remittance))  # fmt: skip
    return found


def measure_engine(
    profiler: Profiler, *, payments: int, items: int, customers: int, repeats: int
) -> EngineRates:
    """The engine over an in-memory book: median seconds of `repeats` runs."""
    data = book(customers, items, payments)
    rules = validate_rules(default_rules())
    results: list[MatchResult] = []

    def run() -> None:
        results.append(match(data.payments, data.items, data.customers, rules))

    seconds = sorted(profiler.run("matching-engine", run).wall for _ in range(repeats))
    result = results[-1]
    proposals = result.proposals
    by_rule = {rule: sum(1 for p in proposals if p.rule == rule) for rule in RULES}
    return EngineRates(
        payments, items, customers, seconds[len(seconds) // 2],
        sum(1 for o in result.outcomes if o.proposals), len(proposals), by_rule,
    )  # fmt: skip


def measure_apply(
    settings: Settings, profiler: Profiler, *, payments: int, pair: Measured | None = None
) -> ApplyRates:
    """Auto-matching end to end on one store (see the module docstring)."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        ledger = runtime.ledger
        data = book(max(10, payments // 10), payments * 2, payments, seed=7)
        _record(ledger, data)
        catch_up(runtime, ledger.head())
        rules = validate_rules(default_rules())
        loaded: list[Any] = []

        def load() -> None:
            with runtime.store.read() as cur:
                loaded[:] = [
                    candidates.payments_to_match(cur),
                    candidates.open_items_now(cur, DAY),
                    candidates.customer_names(cur),
                ]

        load_timing = profiler.run("matching-load", load)
        found: list[Any] = []
        match_timing = profiler.run(
            "matching-match",
            lambda: found.append(match(loaded[0], loaded[1], loaded[2], rules).proposals),
        )
        proposals = found[0]
        # Applied by another application on the same store, as by an API process that did
        # not record these payments: every aggregate is read from the store, none cached.
        other = Ledger(settings.eventsourcing_env())
        done: list[Any] = []
        try:
            apply_timing = profiler.run(
                "matching-apply",
                lambda: done.append(other.apply_matches(meta("match_payments"), proposals)),
            )
        finally:
            other.close()
        applied = done[0]
        allocations = sum(len(a.allocations) for a in applied.applied)
        return ApplyRates(
            len(loaded[0]), len(loaded[1]), load_timing.wall, match_timing.wall,
            len(applied.applied), allocations, apply_timing.per(allocations),
            apply_timing.per(len(applied.applied)), pair,
        )  # fmt: skip
    finally:
        runtime.close()


def _record(ledger: Any, data: Book) -> None:
    """The book as aggregates, many per save (set-up, untimed)."""
    at = datetime.now(UTC)
    aggregates: list[Any] = [
        Customer(code, name, [], "a", "b", "north", 30, Decimal(0), "EUR")
        for code, name in data.customers
    ]
    aggregates += [
        Invoice(i.number, i.customer, i.currency, [], i.open, Decimal(0), i.open,
                i.invoice_date, 30, i.due_date, at)
        for i in data.items
    ]  # fmt: skip
    aggregates += [
        Payment(p.bank_ref, p.payer, p.unapplied, p.currency, p.value_date, p.remittance, "bench")
        for p in data.payments
    ]
    for start in range(0, len(aggregates), SAVE_BATCH):
        ledger.save_with_meta(meta("bench_seed"), *aggregates[start : start + SAVE_BATCH])


def engine_lines(engine: EngineRates) -> list[str]:
    rules = ", ".join(f"{rule} {count:,}" for rule, count in engine.by_rule.items())
    return [
        f"| matching engine: {engine.payments:,} payments against {engine.items:,} open items"
        f" of {engine.customers:,} customers | {engine.seconds * 1000:,.0f} ms |"
        f" {engine.payments_per_second:,.0f} payments/s, {engine.matches_per_second:,.0f}"
        f" matches/s | {engine.matched:,} payments matched, {engine.proposals:,} allocations"
        f" ({rules}) |",
    ]


def matching_table(engine: EngineRates | None, stores: dict[str, ApplyRates]) -> str:
    """The matching figures as a Markdown table: the engine, then each store end to end."""
    lines = ["| matching | time | rate | found |", "|---|--:|--:|---|"]
    if engine is not None:
        lines += engine_lines(engine)
    for label, rates in stores.items():
        lines.append(
            f"| {label}: load candidates from the read model ({rates.payments:,} payments,"
            f" {rates.items:,} open items) | {rates.load_seconds * 1000:,.0f} ms | | |"
        )
        lines.append(f"| {label}: engine on them | {rates.match_seconds * 1000:,.0f} ms | | |")
        ratio = ""
        if rates.pair is not None and rates.pair.rate:
            ratio = (
                f"; bare library get 2 + command both + save both: {rates.pair.rate:,.0f}"
                f" saves/s (ratio {rates.per_payment.rate / rates.pair.rate:.2f} per payment)"
            )
        lines.append(
            f"| {label}: `apply_matches`, one save per payment |"
            f" {rates.applied_payments / rates.per_payment.rate * 1000:,.0f} ms |"
            f" {rates.apply.rate:,.0f} allocations/s, {rates.per_payment.rate:,.0f} payments/s |"
            f" {rates.applied_payments:,} payments, {rates.allocations:,} allocations{ratio} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "ORDERLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args(argv)
    profiler = Profiler()
    sizes = (2_000, 10_000, 400, 200) if args.quick else (10_000, 50_000, 2_000, 2_000)
    engine = measure_engine(
        profiler, payments=sizes[0], items=sizes[1], customers=sizes[2], repeats=3
    )
    stores: dict[str, ApplyRates] = {}
    for kind in [k.strip() for k in args.stores.split(",") if k.strip()]:
        if kind == "postgres" and (problem := postgres_problem(args.postgres_url)):
            print(f"skipping PostgreSQL: {problem}", file=sys.stderr)
            continue
        with StoreFactory(kind, args.postgres_url) as factory:
            pair = _pair_rate(factory.settings("baseline"), profiler)
            stores[factory.label] = measure_apply(
                factory.settings("matching"), profiler, payments=sizes[3], pair=pair
            )
    print(matching_table(engine, stores))
    return 0


def _pair_rate(settings: Settings, profiler: Profiler) -> Measured:
    """The bare library's two-aggregate save, for the ratio (as bench.run measures it)."""
    with baseline_workloads(settings, creates=10, updates=600, spread=600) as workloads:
        (pair,) = [w for w in workloads if w.label == PAIR]
        return interleaved(profiler, [pair], 3)[PAIR]


if __name__ == "__main__":
    raise SystemExit(main())

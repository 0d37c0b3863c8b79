"""Automatic payment matching, end to end: read the candidates, run the rules, apply.

Shared by the HTTP route (`POST /matching/run`) and the CLI (`orderledger finance match`).
The rules engine (`domain/matching.py`) is pure; this module feeds it from the receivables
read model — once that has caught up with the log, so a payment recorded a moment ago is
matched — and hands its proposals to `Ledger.apply_matches`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rich.table import Table

from api.errors import ApiError
from api.runtime import Runtime
from domain.commands_matching import MatchApplication
from domain.customer_names import CustomerIndex
from domain.exceptions import InvalidInput, NotFound
from domain.matching import (
    HINT_FLOOR,
    MatchResult,
    PaymentToMatch,
    invoice_references,
    match,
    suggest,
)
from domain.matching_rules import NAMED_RULES, RULES
from domain.values import Meta, code
from projections import matching as candidates
from projections.bank_statements import matched_by_rule

MAX_BANK_REFS = 10_000
SUGGESTIONS = 3


def run_auto_match(
    runtime: Runtime, meta: Meta, bank_refs: list[str] | None = None
) -> dict[str, Any]:
    """Match every payment in the unapplied-cash queue (or only `bank_refs`) by the rules
    in force, apply the proposals one payment per save, and summarise what happened."""
    refs = _bank_refs(bank_refs)
    catch_up(runtime, runtime.ledger.head())
    version, rules = runtime.ledger.rules_in_force()
    with runtime.store.read() as cur:
        if refs is not None:
            unknown = sorted(set(refs) - candidates.known_payments(cur, refs))
            if unknown:
                raise NotFound(f"payment {unknown[0]!r} not found")
        payments = candidates.payments_to_match(cur, refs)
        items = candidates.open_items_now(cur, meta.at.date())
        customers = candidates.customer_names(cur)
    result = match(payments, items, customers, rules)
    applied = runtime.ledger.apply_matches(meta, result.proposals, rules_version=version)
    return summary(result, applied, version)


def catch_up(runtime: Runtime, position: int, names: tuple[str, ...] = ("receivables",)) -> None:
    """The read models `names` at `position` at least: waited for when the projections run
    in the background, else caught up here (a one-off CLI process)."""
    runner = runtime.runner
    if not runner.running:
        for name in names:
            runner.catch_up(name, until=position)
        return
    timeout = runtime.settings.read_your_writes_timeout
    if not runner.wait_for(position, list(names), timeout=timeout):
        raise ApiError(
            503, f"{', '.join(names)} have not reached position {position} yet", "projection-lag"
        )


def match_statement(runtime: Runtime, meta: Meta, imported: dict[str, Any]) -> dict[str, Any]:
    """After a statement's import: match the payments it recorded by the rules in force, and
    count them per rule as `GET /bank-statements/{id}` does (each payment once, by the rule
    of its first allocation still in force); `unmatched` is what waits in the queue."""
    refs = list(imported.get("bank_refs_imported") or [])
    if not refs:
        return imported
    run = run_auto_match(runtime, meta, refs)
    catch_up(runtime, run["position"] or runtime.ledger.head(), ("receivables", "bank_statements"))
    with runtime.store.read() as cur:
        counts = matched_by_rule(cur, imported["statement_id"])
    matched = sum(counts.values())
    return {
        **imported,
        "matched_by_rule": counts,
        "unmatched": len(refs) - matched,
        "matching": {
            "rules_version": run["rules_version"],
            "allocations": run["allocations"],
            "amount_by_rule": run["amount_by_rule"],
            "skipped_stale": run["skipped_stale"],
            "position": run["position"],
        },
    }


def summary(result: MatchResult, applied: MatchApplication, version: int) -> dict[str, Any]:
    by_rule = dict.fromkeys(RULES, 0)
    amounts: dict[str, dict[str, Decimal]] = {rule: {} for rule in RULES}
    currencies = {o.bank_ref: o.payment.currency for o in result.outcomes}
    made: list[dict[str, Any]] = []
    for payment in applied.applied:
        for allocation in payment.allocations:
            rule, currency = allocation["rule"], currencies[payment.bank_ref]
            by_rule[rule] += 1
            amounts[rule][currency] = amounts[rule].get(currency, Decimal(0)) + allocation["amount"]
            made.append({**allocation, "currency": currency, "position": payment.position})
    left = {o.bank_ref: o.left for o in result.outcomes}
    done = {p.bank_ref for p in applied.applied}
    skipped = {s.bank_ref for s in applied.skipped}
    return {
        "rules_version": version,
        "examined": len(result.outcomes),
        "matched_payments": len(done),
        "allocation_count": len(made),
        "matched_by_rule": by_rule,
        "amount_by_rule": amounts,
        "unmatched": sum(1 for o in result.outcomes if not o.proposals),
        "skipped_stale": len(skipped),
        "still_unapplied": sum(1 for ref, money in left.items() if money > 0 or ref in skipped),
        "allocations": made,
        "skipped": [
            {"bank_ref": s.bank_ref, "rule": s.rule, "reason": s.reason} for s in applied.skipped
        ],
        "position": applied.position,
    }


def unapplied_page(
    runtime: Runtime,
    *,
    after: tuple[str, str] | None,
    currency: str | None,
    limit: int,
    as_of: date,
) -> list[dict[str, Any]]:
    """One page of the unapplied-cash queue, each payment with up to three suggestions (the
    rules' proposals for it alone, then similar customers' closest open items): shown to a
    person, never applied."""
    _, rules = runtime.ledger.rules_in_force()
    thresholds = [int(r["threshold"]) for r in rules["rules"] if r["rule"] in NAMED_RULES]
    with runtime.store.read() as cur:
        rows = candidates.unapplied_queue(cur, after=after, currency=currency, limit=limit)
        index = CustomerIndex(candidates.customer_names(cur))
        payments = [_to_match(row) for row in rows]
        codes, numbers = _wanted(payments, index, thresholds)
        items = candidates.open_items_now(cur, as_of, customers=codes, numbers=numbers)
    for row, payment in zip(rows, payments, strict=True):
        row["suggestions"] = [s.as_dict() for s in suggest(payment, items, index, rules)]
    return rows


def matching_table(summary: dict[str, Any]) -> Table:
    """A run's summary for the terminal: per rule, then the counts."""
    table = Table("rule", "allocations", "amount", title="automatic matching")
    for rule in RULES:
        amounts = summary["amount_by_rule"][rule]
        shown = ", ".join(f"{amounts[c]} {c}" for c in sorted(amounts)) or "—"
        table.add_row(rule, str(summary["matched_by_rule"][rule]), shown)
    table.add_section()
    for label, key in (
        ("payments examined", "examined"), ("payments matched", "matched_payments"),
        ("payments unmatched (left in the queue)", "unmatched"),
        ("payments skipped (changed meanwhile)", "skipped_stale"),
        ("payments with money still unapplied", "still_unapplied"),
    ):  # fmt: skip
        table.add_row(label, str(summary[key]), "")
    for skipped in summary["skipped"][:10]:
        table.add_row(f"skipped {skipped['bank_ref']}", skipped["rule"], skipped["reason"])
    return table


def _to_match(row: dict[str, Any]) -> PaymentToMatch:
    return PaymentToMatch(
        row["bank_ref"], row["payer"], row["unapplied"], row["currency"],
        date.fromisoformat(row["value_date"]), row["remittance"],
    )  # fmt: skip


def _wanted(
    payments: list[PaymentToMatch], index: CustomerIndex, thresholds: list[int]
) -> tuple[list[str], list[str]]:
    """The customers and invoice numbers a page's suggestions can come from."""
    codes: set[str] = set()
    numbers: set[str] = set()
    for payment in payments:
        numbers.update(number for number, _ in invoice_references(payment.remittance))
        codes.update(str(who.code) for who in index.near(payment.payer, SUGGESTIONS, HINT_FLOOR))
        for threshold in thresholds:
            who = index.identify(payment.payer, threshold)
            if who.code is not None:
                codes.add(who.code)
    return sorted(codes), sorted(numbers)


def _bank_refs(given: list[str] | None) -> list[str] | None:
    if given is None:
        return None
    if not isinstance(given, list) or not given:
        raise InvalidInput("bank_refs must list one or more bank references (or be left out)")
    if len(given) > MAX_BANK_REFS:
        raise InvalidInput(f"at most {MAX_BANK_REFS} bank references per run")
    return sorted({code(ref, "bank_refs") for ref in given})

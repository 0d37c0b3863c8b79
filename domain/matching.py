"""Automatic payment matching: ordered, explainable rules over payments and open items.

Pure and deterministic — no I/O, no clock: the same payments, open items, customers and
rules give the same proposals whatever order the lists come in. Payments are taken in
(value date, bank reference) order; each runs through the enabled rules in their published
order, every rule working on what the earlier ones left of the payment:

1. `invoice_reference` — invoice numbers written in the remittance text, in the order they
   appear, each paid min(what is left, what it owes); same currency only.
2. `exact_amount_customer` — the payer identified as a customer by name; an open item of
   that customer in the payment's currency owing exactly what is left (several: the oldest
   due, then the lowest number).
3. `oldest_open_items` — the payer identified; the customer's oldest open items (by due
   date, then number) whose sum is within the tolerance of what is left.

Within one run every proposal reduces what its invoice owes, so two payments never take the
same money. The names of customers and payers are compared after `normalise_name`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.customer_names import CustomerIndex, Identified
from domain.exceptions import InvalidInput
from domain.matching_rules import EXACT_AMOUNT_CUSTOMER, INVOICE_REFERENCE, OLDEST_OPEN_ITEMS
from domain.values import ZERO

HINT = "similar_customer"  # suggestions for a person, never applied automatically
HINT_FLOOR = 60  # the lowest name score worth showing a person
SHOWN_ITEMS = 5  # invoice numbers named in one explanation
# INV-2026-000123, inv 2026 000123, INV2026000123, Inv-2026-123 …; not INV-2026-0001234.
_REFERENCE = re.compile(
    r"(?<![A-Z0-9])INV[\s_\-–—/.:#]*(\d{4})[\s_\-–—/.:#]*(\d{1,6})(?!\d)", re.IGNORECASE
)


@dataclass(frozen=True)
class PaymentToMatch:
    bank_ref: str
    payer: str
    unapplied: Decimal
    currency: str
    value_date: date
    remittance: str = ""


@dataclass(frozen=True)
class OpenItem:
    number: str
    customer: str
    currency: str
    open: Decimal
    due_date: date
    invoice_date: date


@dataclass(frozen=True)
class Proposal:
    """One allocation the rules propose: this much of the payment to that invoice, and why."""

    bank_ref: str
    invoice_number: str
    amount: Decimal
    rule: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "bank_ref": self.bank_ref,
            "invoice_number": self.invoice_number,
            "amount": self.amount,
            "rule": self.rule,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class PaymentOutcome:
    """What the rules made of one payment: proposals, what is left, why rules did not match."""

    payment: PaymentToMatch
    proposals: tuple[Proposal, ...]
    left: Decimal
    notes: tuple[str, ...]

    @property
    def bank_ref(self) -> str:
        return self.payment.bank_ref


@dataclass(frozen=True)
class MatchResult:
    outcomes: tuple[PaymentOutcome, ...]  # in the order the payments were processed

    @property
    def proposals(self) -> list[Proposal]:
        return [p for outcome in self.outcomes for p in outcome.proposals]


def invoice_references(text: str) -> list[tuple[str, str]]:
    """(invoice number, as written) for every invoice number in `text`, first mention only."""
    found: dict[str, str] = {}
    for hit in _REFERENCE.finditer(text):
        number = f"INV-{hit[1]}-{int(hit[2]):06d}"
        found.setdefault(number, hit[0])
    return list(found.items())


def match(
    payments: Iterable[PaymentToMatch],
    items: Iterable[OpenItem],
    customers: Iterable[tuple[str, str]],
    rules: dict[str, Any],
) -> MatchResult:
    """Run the enabled rules over every payment with money left; see the module docstring.
    `customers` are (code, name) pairs; `rules` a validated rules document."""
    matcher = Matcher(items, CustomerIndex(customers), rules)
    ordered = sorted(_unique(payments), key=lambda p: (p.value_date, p.bank_ref))
    return MatchResult(tuple(matcher.payment(p) for p in ordered if p.unapplied > 0))


def suggest(
    payment: PaymentToMatch,
    items: Iterable[OpenItem],
    index: CustomerIndex,
    rules: dict[str, Any],
    limit: int = 3,
) -> list[Proposal]:
    """Up to `limit` suggestions for one payment waiting for a person: what the rules would
    propose for it alone, then, per customer whose name resembles the payer's (best first),
    that customer's open item closest to the amount. Nothing is reserved for other payments."""
    matcher = Matcher(items, index, rules)
    found = list(matcher.payment(payment).proposals) if payment.unapplied > 0 else []
    seen = {p.invoice_number for p in found}
    for who in index.near(payment.payer, limit, HINT_FLOOR):
        if len(found) >= limit:
            break
        hint = matcher.closest_item(payment, who, seen)
        if hint is not None:
            found.append(hint)
            seen.add(hint.invoice_number)
    return found[:limit]


def _unique(payments: Iterable[PaymentToMatch]) -> list[PaymentToMatch]:
    listed = list(payments)
    refs = [p.bank_ref for p in listed]
    if len(set(refs)) != len(refs):
        raise InvalidInput("each payment may be matched once per run: a bank_ref is repeated")
    return listed


class Matcher:
    """The open items of one run, indexed, and the rules that consume them."""

    def __init__(self, items: Iterable[OpenItem], index: CustomerIndex, rules: dict[str, Any]):
        self.index = index
        self.rules = [rule for rule in rules["rules"] if rule.get("enabled", True)]
        ordered = sorted(
            ((i.due_date, i.number, i) for i in items if i.open > 0), key=lambda t: t[:2]
        )
        self.items = {number: item for _, number, item in ordered}
        if len(self.items) != len(ordered):
            raise InvalidInput("each open item is listed once: an invoice number is repeated")
        self.open = {number: item.open for _, number, item in ordered}
        # (customer, currency, open amount) → [(due date, number)], oldest first
        self.by_amount: dict[tuple[str, str, Decimal], list[tuple[date, str]]] = {}
        # (customer, currency) → numbers, oldest due first; `start` skips settled ones
        self.by_customer: dict[tuple[str, str], list[str]] = {}
        self.start: dict[tuple[str, str], int] = {}
        for due, number, item in ordered:
            key = (item.customer, item.currency)
            self.by_amount.setdefault((*key, item.open), []).append((due, number))
            self.by_customer.setdefault(key, []).append(number)

    def payment(self, payment: PaymentToMatch) -> PaymentOutcome:
        run = _Run(payment)
        for rule in self.rules:
            if run.left <= 0:
                break
            if rule["rule"] == INVOICE_REFERENCE:
                self._by_reference(run)
            elif rule["rule"] == EXACT_AMOUNT_CUSTOMER:
                self._by_exact_amount(run, rule)
            elif rule["rule"] == OLDEST_OPEN_ITEMS:
                self._by_oldest_items(run, rule)
        return PaymentOutcome(payment, tuple(run.proposals), run.left, tuple(run.notes))

    # -- the rules -----------------------------------------------------------------------------

    def _by_reference(self, run: _Run) -> None:
        payment = run.payment
        for number, written in invoice_references(payment.remittance):
            if run.left <= 0:
                return
            item = self.items.get(number)
            if item is None:
                run.notes.append(f"remittance mentions {number}, which is not an open item")
            elif item.currency != payment.currency:
                run.notes.append(
                    f"remittance mentions {number}, billed in {item.currency}, not"
                    f" {payment.currency}"
                )
            elif self.open[number] <= 0:
                run.notes.append(f"remittance mentions {number}, already settled in this run")
            else:
                shown = "" if written == number else f" (written '{written}')"
                self._propose(
                    run, number, INVOICE_REFERENCE, f"remittance mentions {number}{shown}"
                )

    def _by_exact_amount(self, run: _Run, rule: dict[str, Any]) -> None:
        who = self._identify(run, rule)
        if who.code is None:
            return
        waiting = self.by_amount.get((who.code, run.payment.currency, run.left))
        if not waiting:
            run.notes.append(
                f"{who.explain()}; no open item owes exactly {_text(run.left)}"
                f" {run.payment.currency}"
            )
            return
        number = waiting[0][1]
        explanation = f"{who.explain()}; amount equals open amount of {number}"
        self._propose(run, number, EXACT_AMOUNT_CUSTOMER, explanation)

    def _by_oldest_items(self, run: _Run, rule: dict[str, Any]) -> None:
        who = self._identify(run, rule)
        if who.code is None:
            return
        paid = run.left
        chosen = self._oldest_covering(who.code, run.payment.currency, paid)
        if not chosen:
            run.notes.append(f"{who.explain()}; no open items in {run.payment.currency}")
            return
        total = sum((self.open[n] for n in chosen), ZERO)
        if total > paid and len(chosen) > 1:
            below = total - self.open[chosen[-1]]
            if paid - below <= total - paid:  # closer (or as close) with one item fewer
                chosen, total = chosen[:-1], below
        allowed = tolerance(paid, rule)
        difference = abs(paid - total)
        listed = ", ".join(chosen[:SHOWN_ITEMS])
        if len(chosen) > SHOWN_ITEMS:
            listed += f" and {len(chosen) - SHOWN_ITEMS} more"
        summary = (
            f"{who.explain()}; the {len(chosen)} oldest open item(s) {listed} sum to"
            f" {_text(total)} against {_text(paid)} paid"
        )
        if difference > allowed:
            run.notes.append(
                f"{summary}: a difference of {_text(difference)} beyond the tolerance of"
                f" {_text(allowed)}"
            )
            return
        explanation = f"{summary}, a difference of {_text(difference)} within {_text(allowed)}"
        for number in chosen:
            self._propose(run, number, OLDEST_OPEN_ITEMS, explanation)

    def _oldest_covering(self, customer: str, currency: str, paid: Decimal) -> list[str]:
        """The customer's oldest open items until their sum reaches `paid` (or all of them)."""
        key = (customer, currency)
        numbers = self.by_customer.get(key, [])
        first = self.start.get(key, 0)
        while first < len(numbers) and self.open[numbers[first]] <= 0:
            first += 1
        self.start[key] = first
        chosen: list[str] = []
        total = ZERO
        for number in numbers[first:]:
            owed = self.open[number]
            if owed <= 0:
                continue
            chosen.append(number)
            total += owed
            if total >= paid:
                break
        return chosen

    # -- shared steps --------------------------------------------------------------------------

    def _identify(self, run: _Run, rule: dict[str, Any]) -> Identified:
        who = self.index.identify(run.payment.payer, int(rule["threshold"]))
        if who.code is None:
            note = who.explain()
            if note not in run.notes:
                run.notes.append(note)
        return who

    def _propose(self, run: _Run, number: str, rule: str, explanation: str) -> None:
        amount = min(run.left, self.open[number])
        run.proposals.append(Proposal(run.payment.bank_ref, number, amount, rule, explanation))
        run.left -= amount
        self._consume(number, amount)

    def _consume(self, number: str, amount: Decimal) -> None:
        item = self.items[number]
        before = self.open[number]
        after = before - amount
        self.open[number] = after
        entry = _item_order(item)
        key = _amount_key(item, before)
        waiting = self.by_amount[key]
        del waiting[bisect_left(waiting, entry)]
        if not waiting:
            del self.by_amount[key]
        if after > 0:
            insort(self.by_amount.setdefault(_amount_key(item, after), []), entry)

    def closest_item(
        self, payment: PaymentToMatch, who: Identified, taken: set[str]
    ) -> Proposal | None:
        """A hint: the customer's open item whose amount is closest to the payment's."""
        assert who.code is not None
        numbers = [
            n
            for n in self.by_customer.get((who.code, payment.currency), [])
            if n not in taken and self.open[n] > 0
        ]
        if not numbers:
            return None
        # Oldest first and min() keeps the first of equals: ties go to the oldest item.
        number = min(numbers, key=lambda n: abs(self.open[n] - payment.unapplied))
        item = self.items[number]
        explanation = (
            f"{who.explain()}; {number} owes {_text(self.open[number])}"
            f" (due {item.due_date.isoformat()}), the closest of its open items to"
            f" {_text(payment.unapplied)}"
        )
        amount = min(payment.unapplied, self.open[number])
        return Proposal(payment.bank_ref, number, amount, HINT, explanation)


@dataclass
class _Run:
    """One payment on its way through the rules."""

    payment: PaymentToMatch

    def __post_init__(self) -> None:
        self.left = self.payment.unapplied
        self.proposals: list[Proposal] = []
        self.notes: list[str] = []


def tolerance(paid: Decimal, rule: dict[str, Any]) -> Decimal:
    """The difference `oldest_open_items` accepts between a payment and a sum of items: the
    lower of the absolute limit and the percentage of the payment; a limit set to null does
    not apply, and with neither the sum must equal the payment."""
    limits: list[Decimal] = []
    if rule.get("tolerance_amount") is not None:
        limits.append(Decimal(rule["tolerance_amount"]))
    if rule.get("tolerance_percent") is not None:
        limits.append(paid * Decimal(rule["tolerance_percent"]) / 100)
    return min(limits) if limits else ZERO


def _item_order(item: OpenItem) -> tuple[date, str]:
    return (item.due_date, item.number)


def _amount_key(item: OpenItem, amount: Decimal) -> tuple[str, str, Decimal]:
    return (item.customer, item.currency, amount)


def _text(amount: Decimal) -> str:
    """An amount as people write it: no trailing zeros beyond two places (0.750 → 0.75)."""
    exact = amount.normalize()
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        exact = exact.quantize(Decimal("0.01"))
    return format(exact, "f")

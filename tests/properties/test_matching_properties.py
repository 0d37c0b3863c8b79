"""Random payments, open items, customers and rules: the matching engine never proposes more
than a payment holds or an invoice owes, never across currencies, and gives the same
proposals whatever order its inputs come in."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from domain.matching import OpenItem, PaymentToMatch, match
from domain.matching_rules import RULES, validate_rules

D = Decimal
DAY = date(2026, 4, 1)
NAMES = ["Acme GmbH", "ACME AG", "Acme Holdings", "Beta Trading Ltd", "Müller KG", "Gamma"]
PAYERS = [*NAMES, "acme", "ACME GMBH", "Beta Tradng", "Mueller", "Delta Inc", "gamma."]
CURRENCIES = ["EUR", "EUR", "EUR", "USD"]
AMOUNTS = st.integers(min_value=1, max_value=30_000).map(lambda cents: D(cents) / 100)


@st.composite
def customers(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    return [(f"C-{n}", name) for n, name in enumerate(names)]


@st.composite
def open_items(draw: st.DrawFn, codes: list[str]) -> list[OpenItem]:
    count = draw(st.integers(0, 25))
    items = []
    for n in range(1, count + 1):
        due = DAY + timedelta(days=draw(st.integers(-40, 40)))
        items.append(OpenItem(
            f"INV-2026-{n:06d}", draw(st.sampled_from(codes)), draw(st.sampled_from(CURRENCIES)),
            draw(AMOUNTS), due, due - timedelta(days=30),
        ))  # fmt: skip
    return items


@st.composite
def payments(
    draw: st.DrawFn, items: list[OpenItem], names: list[tuple[str, str]]
) -> list[PaymentToMatch]:
    count = draw(st.integers(1, 20))
    owed = [i.open for i in items] or [D(1)]
    near = st.tuples(st.sampled_from(owed), st.integers(-150, 150)).map(
        lambda pair: max(D("0.01"), pair[0] + D(pair[1]) / 100)  # a little more or less
    )
    payers = [name for _, name in names] + PAYERS
    found = []
    for n in range(count):
        amount = draw(st.one_of(AMOUNTS, st.sampled_from(owed), near))
        mentioned = draw(st.lists(st.integers(1, len(items) + 3), max_size=3))
        remittance = " ".join(f"inv 2026 {m:06d}" for m in mentioned)
        found.append(PaymentToMatch(
            f"B-{n:03d}", draw(st.sampled_from(payers)), amount,
            draw(st.sampled_from(CURRENCIES)), DAY + timedelta(days=draw(st.integers(0, 5))),
            remittance,
        ))  # fmt: skip
    return found


@st.composite
def rule_sets(draw: st.DrawFn) -> dict[str, Any]:
    order = draw(st.permutations(RULES))
    rules = []
    for name in order:
        enabled = draw(st.sampled_from([True, True, True, False]))
        rule: dict[str, Any] = {"rule": name, "enabled": enabled}
        if name != "invoice_reference":
            rule["threshold"] = draw(st.sampled_from([50, 75, 90, 90, 100]))
        if name == "oldest_open_items":
            rule["tolerance_amount"] = draw(st.sampled_from([None, "0", "1.00", "25"]))
            rule["tolerance_percent"] = draw(st.sampled_from([None, "0.5", "10"]))
        rules.append(rule)
    return validate_rules({"rules": rules})


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, ...]:
    names = draw(customers())
    items = draw(open_items([code for code, _ in names]))
    return draw(payments(items, names)), items, names, draw(rule_sets())


@given(scenarios(), st.randoms(use_true_random=False))
def test_proposals_stay_within_payments_and_open_amounts_in_any_input_order(
    scenario: tuple[Any, ...], rng: Any
) -> None:
    paid, items, names, rules = scenario

    proposals = match(paid, items, names, rules).proposals
    for rule in sorted({p.rule for p in proposals}):
        event(f"proposals by {rule}")

    by_ref = {p.bank_ref: p for p in paid}
    by_number = {i.number: i for i in items}
    taken: dict[str, Decimal] = {}
    given_out: dict[str, Decimal] = {}
    for proposal in proposals:
        assert proposal.amount > 0
        payment, item = by_ref[proposal.bank_ref], by_number[proposal.invoice_number]
        assert payment.currency == item.currency
        assert proposal.rule in RULES
        taken[payment.bank_ref] = taken.get(payment.bank_ref, D(0)) + proposal.amount
        given_out[item.number] = given_out.get(item.number, D(0)) + proposal.amount
    assert all(taken[ref] <= by_ref[ref].unapplied for ref in taken)
    assert all(given_out[number] <= by_number[number].open for number in given_out)
    for _ in range(3):
        shuffled = [list(paid), list(items), list(names)]
        for listed in shuffled:
            rng.shuffle(listed)
        assert match(*shuffled, rules).proposals == proposals

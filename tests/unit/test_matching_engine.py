"""The matching engine alone (no store): each rule, fuzzy payer names, ambiguity, tolerance
edges, partial and multi-invoice payments, currencies, and no invoice paid twice in a run."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.customer_names import CustomerIndex, normalise_name
from domain.exceptions import InvalidInput
from domain.matching import (
    HINT,
    OpenItem,
    PaymentToMatch,
    Proposal,
    invoice_references,
    match,
    suggest,
    tolerance,
)
from domain.matching_rules import default_rules, validate_rules

D = Decimal
DAY = date(2026, 4, 1)
CUSTOMERS = [
    ("C-ACME", "Acme GmbH"),
    ("C-HOLD", "Acme Holdings"),
    ("C-BETA", "Beta Trading Ltd"),
    ("C-MUE", "Müller & Söhne KG"),
]


def rules(**changes: Any) -> dict[str, Any]:
    """The default rules, with parameters of some rules changed: rules(oldest_open_items=…)."""
    document = default_rules()
    for rule in document["rules"]:
        rule.update(changes.get(rule["rule"], {}))
    return validate_rules(document)


def item(number: int, customer: str, owed: str, due: int = 0, currency: str = "EUR") -> OpenItem:
    return OpenItem(
        f"INV-2026-{number:06d}", customer, currency, D(owed), DAY + timedelta(days=due),
        DAY - timedelta(days=30),
    )  # fmt: skip


def pay(
    ref: str, payer: str, amount: str, remittance: str = "", currency: str = "EUR", day: int = 0
) -> PaymentToMatch:
    return PaymentToMatch(ref, payer, D(amount), currency, DAY + timedelta(days=day), remittance)


def proposed(
    payments: list[PaymentToMatch], items: list[OpenItem], **changes: Any
) -> list[tuple[str, str, Decimal, str]]:
    result = match(payments, items, CUSTOMERS, rules(**changes))
    return [(p.bank_ref, p.invoice_number, p.amount, p.rule) for p in result.proposals]


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("ACME GMBH", "acme"),
        ("Acme GmbH.", "acme"),
        ("  acme,  g.m.b.h ", "acme"),
        ("Müller & Söhne KG", "muller sohne"),
        ("MUELLER SOEHNE", "mueller soehne"),
        ("S.A.R.L. Dupont Frères", "dupont freres"),
        ("Beta Trading Co. Ltd", "beta trading"),
        ("Trading Beta", "beta trading"),
        ("GmbH", ""),
    ],
)
def test_names_are_compared_casefolded_without_accents_punctuation_or_legal_forms(
    name: str, normal: str
) -> None:
    assert normalise_name(name) == normal


def test_a_payer_is_identified_by_a_close_enough_name_and_not_by_a_part_of_one() -> None:
    index = CustomerIndex(CUSTOMERS)
    for payer in ("ACME GMBH", "Acme GmbH.", "acme", "ACME"):
        who = index.identify(payer, 90)
        assert (who.code, who.score) == ("C-ACME", 100.0), payer
        assert who.explain() == f"payer '{payer}' ≈ customer 'Acme GmbH' (score 100)"
    assert index.identify("Acme Holding", 90).code == "C-HOLD"  # 96
    assert index.identify("Beta Tradng", 90).code == "C-BETA"  # one letter missing: 95
    only_holdings = CustomerIndex([("C-HOLD", "Acme Holdings")])
    who = only_holdings.identify("acme", 90)
    assert who.code is None  # "acme" is part of "Acme Holdings", not the same name (47)
    assert "not close enough" in who.explain()
    assert who.explain() == (
        "payer 'acme' is not close enough to any customer (none scores 90 or more)"
    )


def test_two_customers_with_the_same_best_score_identify_nobody() -> None:
    index = CustomerIndex([("C-1", "Acme GmbH"), ("C-2", "ACME AG"), ("C-3", "Beta")])
    who = index.identify("Acme", 90)
    assert who.code is None
    assert who.explain() == (
        "payer 'Acme' matches customers 'Acme GmbH' and 'ACME AG' equally (score 100):"
        " not identified"
    )
    # Different names that score the same against the payer are as ambiguous.
    tied = CustomerIndex([("C-1", "Acme Nord"), ("C-2", "Acme Sued")])
    assert tied.identify("Acme Nor Sued", 50).code is None
    assert tied.identify("Acme Nord", 50).code == "C-1"


def test_the_threshold_decides_how_close_a_name_must_be() -> None:
    index = CustomerIndex(CUSTOMERS)
    assert index.identify("Acme Holding", 97).code is None  # scores 96
    assert index.identify("Acme Holding", 96).code == "C-HOLD"
    assert index.identify("GmbH", 50).explain() == (
        "payer 'GmbH' has no name left once legal forms and punctuation are removed"
    )


# -- rule 1: invoice reference -------------------------------------------------------------------


def test_invoice_numbers_are_read_in_many_spellings_but_never_beyond_six_digits() -> None:
    text = "inv 2026 000123, INV2026000124; Inv-2026-5 / INV-2026-0001234 and xINV-2026-7"
    assert invoice_references(text) == [
        ("INV-2026-000123", "inv 2026 000123"),
        ("INV-2026-000124", "INV2026000124"),
        ("INV-2026-000005", "Inv-2026-5"),
    ]
    assert invoice_references("INV-2026-000001 again INV 2026 000001") == [
        ("INV-2026-000001", "INV-2026-000001")
    ]


def test_a_remittance_pays_the_invoices_it_names_in_order_and_only_existing_ones() -> None:
    items = [item(1, "C-BETA", "100.00", due=5), item(2, "C-BETA", "60.00"), item(3, "C-BETA", "9")]
    payment = pay("B-1", "somebody", "130.00", "inv 2026 000009, INV2026000001, inv-2026-2")

    result = match([payment], items, CUSTOMERS, rules())

    (outcome,) = result.outcomes
    assert [(p.invoice_number, p.amount, p.rule) for p in outcome.proposals] == [
        ("INV-2026-000001", D("100.00"), "invoice_reference"),
        ("INV-2026-000002", D("30.00"), "invoice_reference"),  # what was left of the payment
    ]
    assert outcome.proposals[1].explanation == (
        "remittance mentions INV-2026-000002 (written 'inv-2026-2')"
    )
    assert outcome.left == 0
    assert "remittance mentions INV-2026-000009, which is not an open item" in outcome.notes


def test_a_partial_payment_by_reference_pays_part_and_the_rest_goes_on_to_later_rules() -> None:
    items = [item(1, "C-BETA", "100.00"), item(2, "C-BETA", "25.00", due=3)]
    assert proposed([pay("B-1", "x", "40.00", "INV-2026-000001")], items) == [
        ("B-1", "INV-2026-000001", D("40.00"), "invoice_reference"),
    ]
    # 125 for INV-1 (100): the 25 left equals the payer's other open item exactly.
    assert proposed([pay("B-2", "Beta Trading", "125.00", "INV-2026-000001")], items) == [
        ("B-2", "INV-2026-000001", D("100.00"), "invoice_reference"),
        ("B-2", "INV-2026-000002", D("25.00"), "exact_amount_customer"),
    ]


def test_a_reference_to_an_invoice_in_another_currency_is_not_matched() -> None:
    items = [item(1, "C-BETA", "50.00", currency="USD")]
    result = match([pay("B-1", "nobody", "50.00", "INV-2026-000001")], items, CUSTOMERS, rules())
    (outcome,) = result.outcomes
    assert outcome.proposals == ()
    assert outcome.notes[0] == "remittance mentions INV-2026-000001, billed in USD, not EUR"


# -- rule 2: exact amount and customer -------------------------------------------------------------


def test_an_exact_amount_of_the_identified_customer_pays_the_oldest_such_item() -> None:
    items = [
        item(4, "C-ACME", "250.00", due=9), item(3, "C-ACME", "250.00", due=2),
        item(2, "C-ACME", "250.00", due=2), item(1, "C-HOLD", "250.00", due=0),
        item(5, "C-ACME", "99.00", due=0),
    ]  # fmt: skip
    result = match([pay("B-1", "ACME GMBH", "250")], items, CUSTOMERS, rules())
    (proposal,) = result.proposals
    assert (proposal.invoice_number, proposal.amount) == ("INV-2026-000002", D("250"))
    assert proposal.explanation == (
        "payer 'ACME GMBH' ≈ customer 'Acme GmbH' (score 100); amount equals open amount of"
        " INV-2026-000002"
    )


def test_no_exact_amount_no_customer_or_another_currency_matches_nothing_by_amount() -> None:
    items = [item(1, "C-ACME", "250.00"), item(2, "C-ACME", "300.00", currency="USD")]
    off = {"oldest_open_items": {"enabled": False}}
    assert proposed([pay("B-1", "Acme GmbH", "250.01")], items, **off) == []
    assert proposed([pay("B-2", "Zeta Corp", "250.00")], items, **off) == []
    assert proposed([pay("B-3", "Acme GmbH", "300.00")], items, **off) == []
    assert proposed([pay("B-4", "Acme GmbH", "300.00", currency="USD")], items, **off) == [
        ("B-4", "INV-2026-000002", D("300.00"), "exact_amount_customer"),
    ]


def test_an_ambiguous_payer_is_not_matched_by_amount() -> None:
    customers = [*CUSTOMERS, ("C-ACME2", "ACME AG")]
    items = [item(1, "C-ACME", "250.00")]
    result = match([pay("B-1", "Acme", "250.00")], items, customers, rules())
    (outcome,) = result.outcomes
    assert outcome.proposals == ()
    assert "equally (score 100): not identified" in outcome.notes[0]


# -- rule 3: oldest open items within a tolerance ------------------------------------------------


def test_the_oldest_items_are_paid_when_their_sum_is_within_the_tolerance() -> None:
    items = [item(1, "C-BETA", "80.00", due=1), item(2, "C-BETA", "40.00", due=2),
             item(3, "C-BETA", "500.00", due=0, currency="USD"),
             item(4, "C-BETA", "70.00", due=3)]  # fmt: skip

    # 80 + 40 = 120 against 119.50: 0.50 off, within min(1.00, 0.5 % of 119.50 = 0.5975).
    assert proposed([pay("B-1", "Beta Trading", "119.50")], items) == [
        ("B-1", "INV-2026-000001", D("80.00"), "oldest_open_items"),
        ("B-1", "INV-2026-000002", D("39.50"), "oldest_open_items"),  # never more than paid
    ]
    # 120.60 pays both in full and 0.60 stays unapplied: never more than an item owes.
    result = match([pay("B-2", "Beta Trading", "120.60")], items, CUSTOMERS, rules())
    (outcome,) = result.outcomes
    assert [(p.invoice_number, p.amount) for p in outcome.proposals] == [
        ("INV-2026-000001", D("80.00")), ("INV-2026-000002", D("40.00")),
    ]  # fmt: skip
    assert outcome.left == D("0.60")
    assert outcome.proposals[0].explanation == (
        "payer 'Beta Trading' ≈ customer 'Beta Trading Ltd' (score 100); the 2 oldest open"
        " item(s) INV-2026-000001, INV-2026-000002 sum to 120.00 against 120.60 paid, a"
        " difference of 0.60 within 0.603"
    )


def test_the_tolerance_edges_are_inclusive_and_the_lower_limit_applies() -> None:
    items = [item(1, "C-BETA", "1000.00")]
    # 0.5 % of 999.00 is 4.995, the absolute limit 1.00 is lower: 999.00 is 1.00 off — in.
    assert proposed([pay("B-1", "Beta Trading", "999.00")], items) != []
    assert proposed([pay("B-2", "Beta Trading", "998.99")], items) == []
    assert proposed([pay("B-3", "Beta Trading", "1001.00")], items) != []
    assert proposed([pay("B-4", "Beta Trading", "1001.01")], items) == []
    # For small payments the percentage is lower: 0.5 % of 100.00 = 0.50.
    small = [item(2, "C-BETA", "100.50")]
    assert proposed([pay("B-5", "Beta Trading", "100.00")], small) != []
    assert proposed([pay("B-6", "Beta Trading", "99.99")], small) == []
    # A limit set to null does not apply; with neither, only an exact sum matches.
    none = {"oldest_open_items": {"tolerance_amount": None, "tolerance_percent": None}}
    assert proposed([pay("B-7", "Beta Trading", "100.49")], small, **none) == []
    amount_only = {"oldest_open_items": {"tolerance_percent": None}}
    assert proposed([pay("B-8", "Beta Trading", "99.50")], small, **amount_only) != []


def test_tolerance_is_the_lower_of_its_limits() -> None:
    both = {"tolerance_amount": D("1.00"), "tolerance_percent": D("0.5")}
    assert tolerance(D("100"), both) == D("0.5")
    assert tolerance(D("1000"), both) == D("1.00")
    assert tolerance(D("1000"), {"tolerance_amount": None, "tolerance_percent": D(1)}) == D(10)
    assert tolerance(D("1000"), {"tolerance_amount": None, "tolerance_percent": None}) == 0


def test_the_closer_of_two_sums_wins_and_a_sum_too_far_matches_nothing() -> None:
    items = [item(1, "C-BETA", "100.00", due=1), item(2, "C-BETA", "0.80", due=2)]
    # 100.50 lies between 100.00 (0.50 off) and 100.80 (0.30 off): both items.
    assert [p[1] for p in proposed([pay("B-1", "Beta Trading", "100.50")], items)] == [
        "INV-2026-000001", "INV-2026-000002",
    ]  # fmt: skip
    # 100.40 is as close to either (0.40): the fewer items.
    assert [p[1] for p in proposed([pay("B-2", "Beta Trading", "100.40")], items)] == [
        "INV-2026-000001"
    ]
    result = match([pay("B-3", "Beta Trading", "150.00")], items, CUSTOMERS, rules())
    assert result.proposals == []
    assert (
        result.outcomes[0]
        .notes[-1]
        .endswith(
            "sum to 100.80 against 150.00 paid: a difference of 49.20 beyond the tolerance of 0.75"
        )
    )


# -- a whole run ---------------------------------------------------------------------------------


def test_two_payments_never_take_the_same_money_and_the_earlier_value_date_goes_first() -> None:
    items = [item(1, "C-ACME", "250.00")]
    payments = [pay("B-2", "Acme GmbH", "250.00", day=0), pay("B-1", "Acme", "250.00", day=1),
                pay("B-0", "x", "100", "INV-2026-000001", day=2)]  # fmt: skip
    result = match(payments, items, CUSTOMERS, rules())
    assert [(p.bank_ref, p.amount) for p in result.proposals] == [("B-2", D("250.00"))]
    assert [o.bank_ref for o in result.outcomes] == ["B-2", "B-1", "B-0"]
    assert result.outcomes[2].notes[0] == (
        "remittance mentions INV-2026-000001, already settled in this run"
    )


def test_rules_run_in_their_published_order_and_disabled_ones_not_at_all() -> None:
    items = [item(1, "C-ACME", "100.00", due=0), item(2, "C-ACME", "100.00", due=5)]
    payment = pay("B-1", "Acme", "100.00", "INV-2026-000002")
    by_reference = ("INV-2026-000002", D("100.00"), "invoice_reference")
    assert proposed([payment], items)[0][1:] == by_reference
    reordered = default_rules()
    reordered["rules"].reverse()
    result = match([payment], items, CUSTOMERS, validate_rules(reordered))
    assert [(p.invoice_number, p.rule) for p in result.proposals] == [
        ("INV-2026-000001", "oldest_open_items")
    ]
    assert proposed([payment], items, invoice_reference={"enabled": False})[0][3] == (
        "exact_amount_customer"
    )


def test_the_same_inputs_in_any_order_give_the_same_proposals() -> None:
    rng = random.Random(7)
    names = [("C-A", "Alpha GmbH"), ("C-B", "Bravo Ltd"), ("C-C", "Charlie SA")]
    items = [item(n, names[n % 3][0], f"{10 + n * 7 % 40}.00", due=n % 9) for n in range(1, 40)]
    payers = ["ALPHA", "Bravo Limited", "charlie s.a.", "Delta"]
    payments = [
        pay(f"B-{n:02d}", payers[n % 4], f"{10 + n * 13 % 60}.00",
            f"INV-2026-{n * 3:06d}" if n % 5 == 0 else "", day=n % 4)
        for n in range(30)
    ]  # fmt: skip
    expected = match(payments, items, names, rules()).proposals
    assert expected  # the data set exercises the rules
    for _ in range(5):
        rng.shuffle(payments)
        rng.shuffle(items)
        rng.shuffle(names)
        assert match(payments, items, names, rules()).proposals == expected


def test_repeated_payments_items_or_customers_are_refused() -> None:
    items = [item(1, "C-ACME", "1")]
    with pytest.raises(InvalidInput):
        match([pay("B-1", "a", "1"), pay("B-1", "b", "2")], items, CUSTOMERS, rules())
    with pytest.raises(InvalidInput):
        match([pay("B-1", "a", "1")], [*items, item(1, "C-BETA", "2")], CUSTOMERS, rules())
    with pytest.raises(InvalidInput):
        match([pay("B-1", "a", "1")], items, [*CUSTOMERS, ("C-ACME", "Other")], rules())


def test_suggestions_add_similar_customers_closest_items_after_the_rules_own() -> None:
    items = [item(1, "C-BETA", "80.00"), item(2, "C-BETA", "55.00", due=1),
             item(3, "C-ACME", "54.00")]  # fmt: skip
    index = CustomerIndex(CUSTOMERS)
    found = suggest(pay("B-1", "Beta Tradin Co", "54.90"), items, index, rules())
    assert [(s.invoice_number, s.rule) for s in found] == [("INV-2026-000002", HINT)]
    assert found[0].explanation == (
        "payer 'Beta Tradin Co' ≈ customer 'Beta Trading Ltd' (score 95); INV-2026-000002 owes"
        " 55.00 (due 2026-04-02), the closest of its open items to 54.90"
    )
    ruled = suggest(pay("B-2", "Acme", "54.00"), items, index, rules())
    assert [(s.invoice_number, s.rule) for s in ruled] == [
        ("INV-2026-000003", "exact_amount_customer")
    ]
    assert isinstance(ruled[0], Proposal)

"""Automatic matching on real SQLite and PostgreSQL: invoices and payments recorded by
command, matched by the rules in force, each allocation stored with its rule, the rest left
in the unapplied-cash queue; undone by a reversal and matched again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.matching import run_auto_match, unapplied_page
from api.runtime import Runtime
from domain.exceptions import AlreadyExists, InvalidInput, NotFound, StaleVersion
from domain.ledger import Ledger
from domain.matching import match
from domain.values import Meta
from projections import matching as candidates
from tests.conftest import command_meta
from tests.integration.helpers import names, produce, settle, stored_events

D = Decimal
AT = datetime(2026, 4, 15, 9, 0, tzinfo=UTC)  # the day matching runs
PAID = date(2026, 4, 10)
INV = [f"INV-2026-{n:06d}" for n in range(6)]  # INV[1] … INV[5]


def meta(command: str = "test") -> Meta:
    return command_meta(command, at=AT)


def customer(ledger: Ledger, code: str, name: str) -> None:
    ledger.register_customer(
        meta("register_customer"), code_=code, name=name, contacts=[], billing_address="a",
        shipping_address="b", region="north", payment_terms_days=30, credit_limit="0",
        currency_code="EUR",
    )  # fmt: skip


def invoice(ledger: Ledger, account: str, amount: str, day: int) -> str:
    """One shipped line of `amount`, billed on 2026-03-`day`; returns the invoice number."""
    number = f"SO-{account}-{day}"
    ledger.create_sales_order(
        meta("create_sales_order"), customer=account, warehouse="WH1", currency_code="EUR",
        salesperson="ann", number=number,
        lines=[{"sku": "SKU-1", "quantity": "1", "unit_price": amount}],
    )  # fmt: skip
    ledger.submit_sales_order(meta("submit_sales_order"), number=number)
    ledger.ship_sales_order(
        meta("ship_sales_order"), number=number, lines={1: "1"}, carrier="DHL",
        tracking_number="T", shipment_ref=f"SH-{day}",
    )  # fmt: skip
    issued = ledger.issue_invoice(
        meta("issue_invoice"), customer=account, invoice_date=date(2026, 3, day),
        shipments=[{"order_number": number, "shipment_ref": f"SH-{day}"}],
    )  # fmt: skip
    return str(issued.result["number"])


def pay(ledger: Ledger, ref: str, payer: str, amount: str, remittance: str = "") -> None:
    ledger.record_payment(
        meta("record_payment"), bank_ref=ref, payer=payer, amount=amount, currency_code="EUR",
        value_date=PAID, remittance=remittance,
    )  # fmt: skip


@pytest.fixture
def books(ledger: Ledger) -> Ledger:
    """Acme GmbH owes INV-1 (100) and INV-2 (250), Beta Holdings Ltd INV-3 (80) and INV-4
    (40), Gamma Trading INV-5 (500); due 30 days after 2026-03-01 … 03-05."""
    produce(ledger, "SKU-1", "100")
    for code, name in (("C-ACME", "Acme GmbH"), ("C-BETA", "Beta Holdings Ltd"),
                       ("C-GAMMA", "Gamma Trading")):  # fmt: skip
        customer(ledger, code, name)
    for day, (account, amount) in enumerate(
        [("C-ACME", "100.00"), ("C-ACME", "250.00"), ("C-BETA", "80.00"), ("C-BETA", "40.00"),
         ("C-GAMMA", "500.00")], start=1,
    ):  # fmt: skip
        assert invoice(ledger, account, amount, day) == INV[day]
    return ledger


def four_payments(ledger: Ledger) -> None:
    pay(ledger, "P1", "Gamma Trading", "200.00", "part payment inv 2026 000005")
    pay(ledger, "P2", "ACME GMBH", "250.00")
    pay(ledger, "P3", "Beta Holdings", "119.50")
    pay(ledger, "P4", "Unknown Corp", "10.00")


def allocations(ledger: Ledger, ref: str) -> list[tuple[str, str, Decimal, str, bool]]:
    payment = ledger.payment(ref)
    return [
        (key, a["invoice_number"], a["amount"], a["rule"], a["active"])
        for key, a in payment.allocations.items()
    ]


def test_auto_matching_applies_each_rule_and_stores_it_on_the_payment(
    runtime: Runtime, books: Ledger
) -> None:
    four_payments(books)  # not projected yet: the run catches the read model up first
    head = books.head()

    summary = run_auto_match(runtime, meta("match_payments"))

    assert (summary["examined"], summary["matched_payments"], summary["unmatched"]) == (4, 3, 1)
    assert (summary["allocation_count"], summary["skipped_stale"]) == (4, 0)
    assert summary["matched_by_rule"] == {
        "invoice_reference": 1, "exact_amount_customer": 1, "oldest_open_items": 2,
    }  # fmt: skip
    assert summary["amount_by_rule"]["oldest_open_items"] == {"EUR": D("119.50")}
    assert allocations(books, "P1") == [("P1-A1", INV[5], D("200.00"), "invoice_reference", True)]
    assert allocations(books, "P2") == [
        ("P2-A1", INV[2], D("250.00"), "exact_amount_customer", True)
    ]
    assert allocations(books, "P3") == [
        ("P3-A1", INV[3], D("80.00"), "oldest_open_items", True),
        ("P3-A2", INV[4], D("39.50"), "oldest_open_items", True),
    ]
    assert allocations(books, "P4") == []
    assert [books.invoice(n).open_amount for n in INV[1:]] == [
        D("100.00"), D("0.00"), D("0.00"), D("0.50"), D("300.00"),
    ]  # fmt: skip
    explained = {a["bank_ref"]: a["explanation"] for a in summary["allocations"]}
    assert explained["P2"] == (
        "payer 'ACME GMBH' ≈ customer 'Acme GmbH' (score 100); amount equals open amount of"
        f" {INV[2]}"
    )
    # One save per payment: the payment and its invoices, stamped with the explanations.
    saved = stored_events(books, head + 1)
    assert names(saved) == [
        "Payment.Allocated", "Invoice.PaymentApplied",  # P1
        "Payment.Allocated", "Invoice.PaymentApplied",  # P2
        "Payment.Allocated", "Payment.Allocated", "Invoice.PaymentApplied",
        "Invoice.PaymentApplied",  # P3
    ]  # fmt: skip
    stamp = saved[0][1].meta
    assert (stamp["command"], stamp["actor"], stamp["matching_rules_version"]) == (
        "match_payments", "tester", "0",
    )  # fmt: skip
    assert stamp["match_explanation"] == (
        f"{INV[5]}: invoice_reference: remittance mentions {INV[5]} (written 'inv 2026 000005')"
    )
    assert len({e.meta["correlation_id"] for _, e in saved}) == 1


def test_what_stays_unmatched_waits_in_the_queue_with_suggestions(
    runtime: Runtime, books: Ledger
) -> None:
    four_payments(books)
    pay(books, "P5", "Acme", "99.00")  # Acme owes 100.00: 1.00 off, beyond 0.5 % of 99
    run_auto_match(runtime, meta())
    settle(runtime)

    queue = unapplied_page(runtime, after=None, currency=None, limit=10, as_of=AT.date())

    assert [(row["bank_ref"], row["unapplied"]) for row in queue] == [
        ("P4", D("10.00")), ("P5", D("99.00")),
    ]  # fmt: skip
    assert queue[0]["suggestions"] == []  # nobody resembles "Unknown Corp"
    (hint,) = queue[1]["suggestions"]
    assert (hint["invoice_number"], hint["amount"], hint["rule"]) == (
        INV[1], D("99.00"), "similar_customer",
    )  # fmt: skip
    assert hint["explanation"].startswith("payer 'Acme' ≈ customer 'Acme GmbH' (score 100);")
    page = unapplied_page(runtime, after=("2026-04-10", "P4"), currency=None, limit=1,
                          as_of=AT.date())  # fmt: skip
    assert [row["bank_ref"] for row in page] == ["P5"]
    assert unapplied_page(runtime, after=None, currency="USD", limit=10, as_of=AT.date()) == []
    # Suggestions are not applied.
    assert allocations(books, "P5") == []


def test_an_undone_allocation_returns_to_the_queue_and_is_matched_again(
    runtime: Runtime, books: Ledger
) -> None:
    four_payments(books)
    run_auto_match(runtime, meta())
    books.unallocate_payment(
        meta(), bank_ref="P2", allocation_id="P2-A1", reason="matched by mistake"
    )
    settle(runtime)
    with runtime.store.read() as cur:
        waiting = {p.bank_ref for p in candidates.payments_to_match(cur)}
    assert waiting == {"P2", "P4"}

    again = run_auto_match(runtime, meta(), ["P2"])

    assert (again["examined"], again["matched_payments"]) == (1, 1)
    assert allocations(books, "P2") == [
        ("P2-A1", INV[2], D("250.00"), "exact_amount_customer", False),
        ("P2-A2", INV[2], D("250.00"), "exact_amount_customer", True),
    ]


def test_a_second_run_finds_nothing_new_and_unknown_payments_are_refused(
    runtime: Runtime, books: Ledger
) -> None:
    four_payments(books)
    run_auto_match(runtime, meta())
    head = books.head()

    again = run_auto_match(runtime, meta())

    assert (again["examined"], again["allocation_count"], again["unmatched"]) == (1, 0, 1)
    with pytest.raises(NotFound):
        run_auto_match(runtime, meta(), ["P4", "P404"])
    for bad in ([], ["not a ref"]):
        with pytest.raises(InvalidInput):
            run_auto_match(runtime, meta(), bad)
    assert books.head() == head


def test_a_proposal_gone_stale_skips_its_whole_payment_and_applies_the_others(
    runtime: Runtime, books: Ledger
) -> None:
    pay(books, "P1", "Nobody", "180.00", f"{INV[1]} and {INV[3]}")
    pay(books, "P2", "Gamma Trading", "500.00")
    settle(runtime)
    proposals = _proposals(runtime, books)
    assert [(p.bank_ref, p.invoice_number) for p in proposals] == [
        ("P1", INV[1]), ("P1", INV[3]), ("P2", INV[5]),
    ]  # fmt: skip
    pay(books, "P9", "Beta", "80.00")
    books.allocate_payment(meta(), bank_ref="P9", invoice_number=INV[3], amount="80.00")

    applied = books.apply_matches(meta(), proposals)

    (skipped,) = applied.skipped
    assert (skipped.bank_ref, skipped.rule) == ("P1", "over-allocation")
    assert f"invoice {INV[3]} has 0.00 open" in skipped.reason
    assert allocations(books, "P1") == []  # not even the still valid INV-1 part
    assert books.invoice(INV[1]).open_amount == D("100.00")
    assert [a.bank_ref for a in applied.applied] == ["P2"]


def _proposals(runtime: Runtime, ledger: Ledger) -> list[Any]:
    _, rules = ledger.rules_in_force()
    with runtime.store.read() as cur:
        found = match(
            candidates.payments_to_match(cur),
            candidates.open_items_now(cur, AT.date()),
            candidates.customer_names(cur),
            rules,
        )
    return found.proposals


def test_published_rules_change_how_payments_are_matched(runtime: Runtime, books: Ledger) -> None:
    assert books.rules_in_force()[0] == 0
    only_references = {"rules": [{"rule": "invoice_reference"},
                                 {"rule": "exact_amount_customer", "enabled": False}]}  # fmt: skip
    published = books.publish_matching_rules(meta(), rules=only_references, expected_version=0)
    assert published.result["version"] == 1
    with pytest.raises(AlreadyExists):
        books.publish_matching_rules(meta(), rules=only_references, expected_version=0)
    with pytest.raises(StaleVersion):
        books.publish_matching_rules(meta(), rules=only_references, expected_version=7)
    head = books.head()
    with pytest.raises(InvalidInput):
        books.publish_matching_rules(meta(), rules={"rules": [{"rule": "guess"}]})
    assert books.head() == head
    four_payments(books)

    summary = run_auto_match(runtime, meta())

    assert summary["rules_version"] == 1
    assert summary["matched_by_rule"] == {
        "invoice_reference": 1, "exact_amount_customer": 0, "oldest_open_items": 0,
    }  # fmt: skip
    revised = books.publish_matching_rules(meta(), rules={"rules": [
        {"rule": "oldest_open_items", "tolerance_amount": "5", "tolerance_percent": None}
    ]}, expected_version=1)  # fmt: skip
    assert revised.result["version"] == 2
    # Beta's 119.50 pays its two oldest items (120.00); Acme's 250 is no sum of its oldest.
    assert run_auto_match(runtime, meta())["matched_by_rule"]["oldest_open_items"] == 2
    assert names(stored_events(books, head + 1))[:1] == ["Payment.Received"]
    stored = [e for _, e in stored_events(books) if type(e).__qualname__.startswith("Matching")]
    assert [type(e).__qualname__ for e in stored] == [
        "MatchingRules.Published", "MatchingRules.Revised",
    ]  # fmt: skip


def test_credits_and_allocations_reduce_the_open_amounts_matching_sees(
    runtime: Runtime, books: Ledger
) -> None:
    pay(books, "P1", "Acme GmbH", "30.00", INV[1])
    books.allocate_payment(meta(), bank_ref="P1", invoice_number=INV[1], amount="30.00")
    settle(runtime)
    with runtime.store.transaction() as cur:  # as credit notes and write-offs project them
        cur.execute(
            "INSERT INTO invoice_credits (credit_id, invoice_number, kind, amount,"
            " effective_date, reversed_date, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("CN-1", INV[1], "credit_note", D("20.00"), "2026-04-01", None, AT),
        )
        cur.execute(
            "INSERT INTO invoice_credits (credit_id, invoice_number, kind, amount,"
            " effective_date, reversed_date, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("WO-1", INV[1], "write_off", D("5.00"), "2026-04-01", "2026-04-02", AT),
        )

    with runtime.store.read() as cur:
        owed = {i.number: i.open for i in candidates.open_items_now(cur, AT.date())}
        acme = candidates.open_items_now(cur, AT.date(), customers=["C-ACME"])
        before = candidates.open_items_now(cur, date(2026, 3, 2))

    assert owed[INV[1]] == D("50.00")  # 100 − 30 paid − 20 credited (the write-off reversed)
    assert [(i.number, i.open) for i in acme] == [(INV[1], D("50.00")), (INV[2], D("250.00"))]
    assert [i.number for i in before] == [INV[1], INV[2]]  # invoices dated by then


def test_the_queue_and_customer_names_are_rebuilt_from_the_log_as_they_were(
    runtime: Runtime, books: Ledger
) -> None:
    four_payments(books)
    run_auto_match(runtime, meta())
    books.unallocate_payment(meta(), bank_ref="P3", allocation_id="P3-A2", reason="short")
    settle(runtime)

    def tables() -> list[list[tuple[Any, ...]]]:
        with runtime.store.read() as cur:
            return [
                cur.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
                for name in ("unapplied_cash", "receivable_customers")
            ]

    live = tables()
    runtime.runner.rebuild("receivables")

    assert tables() == live
    assert [(row[0], D(str(row[3]))) for row in live[0]] == [("P3", D("39.50")), ("P4", D("10"))]
    assert [row[:2] for row in live[1]] == [
        ("C-ACME", "Acme GmbH"), ("C-BETA", "Beta Holdings Ltd"), ("C-GAMMA", "Gamma Trading"),
    ]  # fmt: skip

"""Credit control without a database: the score formula and its edges, the standing's
derived figures, and the approval policy's credit conditions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.credit import CreditStanding, hold_reasons, open_value
from domain.exceptions import InvalidInput
from domain.workflows import (
    ApprovalFacts,
    approval_levels,
    levels_on_resubmission,
    validate_policy,
)
from projections.credit import Paid, credit_score

D = Decimal


def paid(*payments: tuple[str, int]) -> list[Paid]:
    return [Paid(D(amount), days, f"INV-{n}") for n, (amount, days) in enumerate(payments)]


# -- the score --------------------------------------------------------------------------------


def test_a_customer_without_history_gets_the_neutral_score() -> None:
    score, inputs = credit_score([], 0, D(0), D(0))

    assert (score, inputs["neutral"], inputs["average_days_late"]) == (70, True, None)
    assert inputs["penalties"]["payment_speed"] == 30


def test_a_customer_paying_on_time_with_nothing_overdue_scores_100() -> None:
    assert credit_score(paid(("500", 0), ("20", 0)), 0, D(0), D("900"))[0] == 100


def test_the_documented_worked_example_scores_60() -> None:
    # 600 paid 10 days late and 400 paid 35 days late: 20 days on average, one invoice
    # paid more than 30 days late; 2 items overdue now for 300 of 1,200 open.
    score, inputs = credit_score(paid(("600", 10), ("400", 35)), 2, D("300"), D("1200"))

    assert inputs["average_days_late"] == D("20.00")
    assert inputs["penalties"] == {
        "payment_speed": D(20), "overdue_items": D(10), "overdue_share": D(5),
        "late_invoices": D(5),
    }  # fmt: skip
    assert score == 60


def test_the_average_is_weighted_by_amount_not_by_count() -> None:
    # Nine small payments on time do not hide one large payment 40 days late.
    _, inputs = credit_score(paid(*[("1", 0)] * 9, ("991", 40)), 0, D(0), D(0))

    assert inputs["average_days_late"] == D("39.64")


def test_every_penalty_is_capped_and_the_score_never_goes_below_zero() -> None:
    score, inputs = credit_score(paid(*[("10", 200)] * 10), 10, D("50"), D("50"))

    assert inputs["penalties"] == {
        "payment_speed": D(40), "overdue_items": D(20), "overdue_share": D(20),
        "late_invoices": D(20),
    }  # fmt: skip
    assert score == 0


def test_payments_exactly_30_days_late_are_not_counted_as_late_invoices() -> None:
    _, inputs = credit_score(paid(("100", 30), ("100", 31)), 0, D(0), D(0))

    assert inputs["invoices_paid_over_30_days_late"] == 1


def test_several_late_payments_of_one_invoice_count_it_once() -> None:
    payments = [Paid(D("50"), 45, "INV-1"), Paid(D("50"), 60, "INV-1")]

    assert credit_score(payments, 0, D(0), D(0))[1]["invoices_paid_over_30_days_late"] == 1


def test_the_score_rounds_half_up() -> None:
    # 12.5 days late on average: 100 − 12.5 = 87.5 → 88
    assert credit_score(paid(("100", 10), ("100", 15)), 0, D(0), D(0))[0] == 88


def test_overdue_items_without_payment_history_lower_the_neutral_score() -> None:
    score, inputs = credit_score([], 1, D("100"), D("400"))

    # 100 − 30 (unknown speed) − 5 (one item) − 5 (a quarter of open AR overdue)
    assert (score, inputs["neutral"]) == (60, False)


# -- the standing -----------------------------------------------------------------------------


def standing(limit: str, **parts: str) -> CreditStanding:
    figures = {name: D(parts.get(name, "0"))
               for name in ("open_ar", "pending_invoice", "open_orders", "extra")}  # fmt: skip
    return CreditStanding(
        customer="C-1", currency="EUR", limit=D(limit), **figures, include_open_orders=True,
        score=int(parts.get("score", "70")), score_inputs={}, as_of=date(2026, 4, 15),
        position=7,
    )  # fmt: skip


def test_exposure_is_the_sum_of_its_parts_and_only_over_the_limit_is_over() -> None:
    at = standing("100", open_ar="40", pending_invoice="30", open_orders="20", extra="10")
    over = standing("100", open_ar="40", pending_invoice="30", open_orders="20", extra="10.01")

    assert (at.exposure, at.available, at.over_limit) == (D(100), D(0), False)
    assert (over.available, over.over_limit) == (D("-0.01"), True)
    assert over.figures()["exposure"] == D("100.01")


def test_a_customer_without_a_limit_is_never_over_it() -> None:
    found = standing("0", open_ar="1000000")

    assert (found.available, found.over_limit, hold_reasons(found, 40)) == (None, False, [])


def test_a_hold_names_each_reason() -> None:
    found = standing("100", open_ar="150", score="39")

    assert hold_reasons(found, 40) == [
        "exposure 150 EUR is over the credit limit of 100", "credit score 39 is below 40",
    ]  # fmt: skip
    assert hold_reasons(standing("100", score="40"), 40) == []


def test_the_open_value_of_an_order_is_what_is_not_shipped_yet_net_of_discount() -> None:
    lines = [
        {"line_no": 1, "quantity": "10", "unit_price": "2.50", "discount": "0.1"},
        {"line_no": 2, "quantity": "3", "unit_price": "1.00", "discount": "0"},
    ]

    assert open_value(lines, {}, "EUR") == D("25.50")
    assert open_value(lines, {"1": D(4)}, "EUR") == D("16.50")  # 6 × 2.25 + 3
    assert open_value(lines, {"1": D(10), "2": D(3)}, "EUR") == D(0)


# -- policy conditions ------------------------------------------------------------------------


def rule(name: str, levels: list[str], **when: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "levels": levels}


POLICY = validate_policy({
    "rules": [
        rule("big", ["sales_director", "finance"], amount_over="1000"),
        rule("over limit", ["finance"], credit_over_limit=True),
        rule("weak payer", ["manager"], credit_score_below=50),
    ]
})  # fmt: skip


def facts(amount: str = "100", over: bool = False, score: int | None = 70) -> ApprovalFacts:
    return ApprovalFacts(D(amount), "EUR", D(0), False, (), over, score)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"credit_over_limit": False}, "rule 'r': credit_over_limit can only be true"),
        ({"credit_over_limit": "yes"}, "rule 'r': credit_over_limit can only be true"),
        ({"credit_score_below": 0}, "rule 'r': credit_score_below must be a whole number"),
        ({"credit_score_below": 101}, "rule 'r': credit_score_below must be a whole number"),
        ({"credit_score_below": "50"}, "rule 'r': credit_score_below must be a whole number"),
        ({"credit_score_below": 49.5}, "rule 'r': credit_score_below must be a whole number"),
        ({"credit_score_below": True}, "rule 'r': credit_score_below must be a whole number"),
    ],
)
def test_invalid_credit_conditions_are_refused(when: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_policy({"rules": [rule("r", ["finance"], **when)]})

    assert refused.value.message.startswith(expected)


def test_credit_conditions_are_kept_as_given() -> None:
    assert [r["when"] for r in POLICY["rules"][1:]] == [
        {"credit_over_limit": True}, {"credit_score_below": 50},
    ]  # fmt: skip


def test_credit_rules_add_their_levels_when_their_facts_hold() -> None:
    assert approval_levels(POLICY, facts()) == []
    assert approval_levels(POLICY, facts(over=True)) == [{"role": "finance", "rule": "over limit"}]
    assert approval_levels(POLICY, facts(score=49)) == [{"role": "manager", "rule": "weak payer"}]
    assert approval_levels(POLICY, facts(score=50)) == []
    assert approval_levels(POLICY, facts(score=None)) == []  # credit not checked


def test_a_resubmission_asks_again_only_for_rules_that_credit_makes_match_now() -> None:
    approved = facts("2000", over=False)

    assert levels_on_resubmission(POLICY, facts("2000"), approved) == []
    # Finance approved the amount; the limit is a new reason to look, so it asks again.
    assert levels_on_resubmission(POLICY, facts("2000", over=True), approved) == [
        {"role": "finance", "rule": "over limit"}
    ]
    # Credit that improved removes no approval and asks for none.
    assert levels_on_resubmission(POLICY, facts("2000"), facts("2000", over=True)) == []


def test_facts_recorded_before_credit_control_read_back_without_credit() -> None:
    old = {"amount": D(5), "currency": "EUR", "max_discount": D(0), "non_standard": False,
           "customer_flags": ["vip"]}  # fmt: skip

    found = ApprovalFacts.from_dict(old)

    assert (found.credit_over_limit, found.credit_score, found.customer_flags) == (
        False, None, ("vip",),
    )  # fmt: skip
    assert found.order_facts() == old

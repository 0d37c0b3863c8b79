"""Matching rules as data: what a rules document may say, and what it is refused for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import InvalidInput
from domain.matching_rules import default_rules, validate_rules


def test_the_defaults_run_all_three_rules_in_the_fixed_order() -> None:
    clean = validate_rules(default_rules())
    assert [(r["rule"], r["enabled"]) for r in clean["rules"]] == [
        ("invoice_reference", True), ("exact_amount_customer", True), ("oldest_open_items", True),
    ]  # fmt: skip
    assert clean["rules"][1]["threshold"] == 90
    assert clean["rules"][2] == {
        "rule": "oldest_open_items", "enabled": True, "threshold": 90,
        "tolerance_amount": Decimal("1.00"), "tolerance_percent": Decimal("0.5"),
    }  # fmt: skip


def test_omitted_parameters_take_their_defaults_and_the_order_is_kept() -> None:
    clean = validate_rules(
        {"rules": [{"rule": "oldest_open_items", "tolerance_amount": None,
                    "tolerance_percent": "2"}, {"rule": "invoice_reference", "enabled": False}]}
    )  # fmt: skip
    assert clean["rules"] == [
        {"rule": "oldest_open_items", "enabled": True, "threshold": 90,
         "tolerance_amount": None, "tolerance_percent": Decimal("2")},
        {"rule": "invoice_reference", "enabled": False},
    ]  # fmt: skip
    assert validate_rules({"rules": []}) == {"rules": [], "description": ""}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "an object"),
        ({"rules": "all"}, "rules must be a list"),
        ({"rules": [], "extra": 1}, "an object"),
        ({"rules": [{"rule": "lucky_guess"}]}, "unknown matching rule 'lucky_guess'"),
        ({"rules": ["invoice_reference"]}, "naming its rule"),
        ({"rules": [{"rule": "invoice_reference"}] * 2}, "listed twice"),
        ({"rules": [{"rule": "invoice_reference", "threshold": 90}]}, "no parameter 'threshold'"),
        ({"rules": [{"rule": "invoice_reference", "enabled": "yes"}]}, "true or false"),
        ({"rules": [{"rule": "exact_amount_customer", "threshold": 49}]}, "from 50 to 100"),
        ({"rules": [{"rule": "exact_amount_customer", "threshold": 101}]}, "from 50 to 100"),
        ({"rules": [{"rule": "exact_amount_customer", "threshold": "90"}]}, "whole number"),
        ({"rules": [{"rule": "exact_amount_customer", "threshold": 90.5}]}, "whole number"),
        ({"rules": [{"rule": "exact_amount_customer", "threshold": True}]}, "whole number"),
        ({"rules": [{"rule": "oldest_open_items", "tolerance_amount": "-1"}]}, "negative"),
        ({"rules": [{"rule": "oldest_open_items", "tolerance_amount": 1.5}]}, "exact decimal"),
        ({"rules": [{"rule": "oldest_open_items", "tolerance_percent": "11"}]}, "at most 10"),
        ({"rules": [], "description": 7}, "description"),
    ],
)
def test_a_bad_rules_document_is_refused_naming_the_problem(document: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_rules(document)
    assert message in error.value.message

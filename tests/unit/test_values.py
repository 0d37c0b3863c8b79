"""Value validation: exact decimals only, bounded, with named `invalid-input` errors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import DomainError, InvalidInput
from domain.values import (
    MAX_AMOUNT,
    MAX_QUANTITY,
    aware,
    code,
    currency,
    money,
    non_negative_quantity,
    quantity,
    stable_id,
    text,
)


def invalid(check: Any, *args: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        check(*args)
    assert error.value.rule == "invalid-input"
    assert isinstance(error.value, DomainError)
    return error.value


@pytest.mark.parametrize(
    "value", ["1", 1, Decimal("1"), "0.000001", "999999999999.999999", MAX_QUANTITY]
)
def test_an_exact_positive_quantity_is_accepted(value: Any) -> None:
    assert quantity(value) == Decimal(str(value))
    assert isinstance(quantity(value), Decimal)


@pytest.mark.parametrize("value", [1.5, 1.0, 0.1, True, False])
def test_floats_and_booleans_are_refused_as_quantities(value: Any) -> None:
    error = invalid(quantity, value)
    assert "exact decimal" in error.message


@pytest.mark.parametrize("value", ["0.0000001", Decimal("1.1234567"), "1e-7"])
def test_a_quantity_with_more_than_six_decimal_places_is_refused(value: Any) -> None:
    assert "decimal places" in invalid(quantity, value).message


@pytest.mark.parametrize("value", [MAX_QUANTITY + Decimal("0.000001"), "1e13", 10**15])
def test_a_quantity_larger_than_the_maximum_is_refused(value: Any) -> None:
    assert "maximum" in invalid(quantity, value).message


@pytest.mark.parametrize("value", ["0", 0, "-1", -5, "-0.000001", "0.000000"])
def test_zero_and_negative_quantities_are_refused(value: Any) -> None:
    assert "greater than zero" in invalid(quantity, value).message


@pytest.mark.parametrize(
    "value", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN")]
)
def test_nan_and_infinity_are_refused(value: Any) -> None:
    invalid(quantity, value)
    invalid(non_negative_quantity, value)
    invalid(money, value)


@pytest.mark.parametrize("value", ["abc", "", "1,5", None, "1.2.3", [1]])
def test_text_that_is_not_a_number_is_refused(value: Any) -> None:
    invalid(quantity, value)


def test_a_non_negative_quantity_may_be_zero_and_minus_zero_becomes_zero() -> None:
    assert non_negative_quantity("0") == 0
    normalised = non_negative_quantity("-0")
    assert normalised == 0
    assert not normalised.is_signed()
    assert "negative" in invalid(non_negative_quantity, "-0.5").message


def test_money_allows_four_decimal_places_and_not_five() -> None:
    assert money("19.9999") == Decimal("19.9999")
    assert money(0) == 0
    assert "decimal places" in invalid(money, "19.99999").message


@pytest.mark.parametrize("value", [-1, "-0.01", 2.5, MAX_AMOUNT + 1])
def test_negative_float_or_oversized_amounts_are_refused(value: Any) -> None:
    invalid(money, value)


@pytest.mark.parametrize("value", ["SKU-1", "a", "A.B.c_d-9", "9" * 64])
def test_a_well_formed_code_is_accepted(value: str) -> None:
    assert code(value, "sku") == value


@pytest.mark.parametrize(
    "value",
    [
        *("", " SKU", "SKU 1", "-SKU", ".hidden", "x" * 65, "SKU;DROP", "ÄBC", "SKU\tX", "A/B"),
        *(123, None),
    ],
)
def test_a_malformed_code_is_refused(value: Any) -> None:
    assert "sku" in invalid(code, value, "sku").message


@pytest.mark.parametrize("value", ["eur", "EURO", "EU", "", None, "E1R"])
def test_a_currency_must_be_three_capital_letters(value: Any) -> None:
    invalid(currency, value)
    assert currency("EUR") == "EUR"


@pytest.mark.parametrize("value", ["SKU-1\n", "WH1\n"])
def test_a_code_with_a_trailing_newline_is_refused(value: str) -> None:
    # "SKU-1\n" would name a different product (another stable id) that looks identical.
    invalid(code, value, "sku")


def test_a_currency_with_a_trailing_newline_is_refused() -> None:
    invalid(currency, "EUR\n")


def test_text_is_stripped_and_must_not_be_empty_or_too_long() -> None:
    assert text("  damaged  ", "reason") == "damaged"
    invalid(text, "   ", "reason")
    invalid(text, "x" * 201, "reason")
    invalid(text, 7, "reason")
    assert text("", "address", required=False) == ""


def test_a_time_without_a_zone_is_refused() -> None:
    invalid(aware, datetime(2025, 1, 1, 12, 0))


def test_stable_ids_are_deterministic_and_distinct_per_kind() -> None:
    assert stable_id("product", "SKU-1") == stable_id("product", "SKU-1")
    assert stable_id("product", "SKU-1") != stable_id("warehouse", "SKU-1")


@pytest.mark.parametrize("value", ["EUX", "ABC", "XYZ"])
def test_a_currency_must_be_a_real_iso_4217_code(value: str) -> None:
    assert invalid(currency, value).message == f"currency {value!r} is not an ISO 4217 code"
    assert [currency(c) for c in ("CHF", "JPY", "KWD", "XXX")] == ["CHF", "JPY", "KWD", "XXX"]

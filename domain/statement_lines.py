"""A bank statement's lines as read from a file, and the errors found while reading it.

Both parsers (CSV and camt.053) build lines through `statement_line`, so every field is
checked the same way whatever the format, and every error names the line it was found on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput
from domain.values import MAX_AMOUNT, MINOR_UNITS, currency

CREDIT, DEBIT = "credit", "debit"
FORMATS = ("csv", "camt053")
MAX_PAYER = 200
MAX_REMITTANCE = 2000
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Progress = Callable[[int], None]  # called with the file line reached so far


@dataclass(frozen=True)
class StatementLine:
    """One booked movement on the account: a credit (money received) or a debit."""

    line: int  # 1-based line in the file where the entry starts
    bank_ref: str
    payer: str
    amount: Decimal  # always > 0; `direction` says which way it went
    currency: str
    value_date: date
    remittance: str
    direction: str  # CREDIT or DEBIT


@dataclass(frozen=True)
class BadLine:
    line: int
    error: str

    def message(self) -> str:
        return f"line {self.line}: {self.error}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "error": self.error}


@dataclass(frozen=True)
class ParsedStatement:
    """Everything read from one file: good lines, bad lines, and entries not yet booked."""

    format: str
    lines: tuple[StatementLine, ...]
    bad_lines: tuple[BadLine, ...] = ()
    pending_skipped: int = 0
    account: str = ""


class InvalidStatement(InvalidInput):
    """A statement file that cannot be imported as it is; `bad_lines` lists every line."""

    rule = "invalid-statement"

    def __init__(self, bad_lines: Sequence[BadLine]) -> None:
        listed = sorted(bad_lines, key=lambda bad: bad.line)
        more = f" (and {len(listed) - 1} more bad lines)" if len(listed) > 1 else ""
        super().__init__(listed[0].message() + more)
        self.bad_lines = tuple(listed)

    @classmethod
    def at(cls, line: int, error: str) -> InvalidStatement:
        return cls([BadLine(line, error)])

    def errors(self) -> list[dict[str, Any]]:
        return [bad.as_dict() for bad in self.bad_lines]


class LineError(Exception):
    """One line is bad; the parser records it and goes on with the next."""

    def __init__(self, line: int, error: str) -> None:
        super().__init__(error)
        self.bad = BadLine(line, error)


def statement_line(
    line: int,
    *,
    bank_ref: str,
    payer: str,
    amount: Decimal,
    currency_code: str,
    value_date: date,
    remittance: str,
    direction: str,
) -> StatementLine:
    """A checked line; a debit's bank reference is not checked (a debit is never stored)."""
    ref = bank_ref.strip()
    if direction == CREDIT and not ref:
        raise LineError(line, "no bank reference")
    if direction == CREDIT and not _REF.fullmatch(ref):
        raise LineError(
            line,
            f"bank reference {ref!r} must be 1-64 letters, digits or . _ -"
            " (starting with a letter or digit)",
        )
    return StatementLine(
        line, ref, _text(line, payer, "payer", MAX_PAYER),
        checked_amount(line, amount, checked_currency(line, currency_code)), currency_code.strip(),
        value_date, _text(line, remittance, "remittance", MAX_REMITTANCE), direction,
    )  # fmt: skip


def checked_currency(line: int, value: str) -> str:
    code = value.strip()
    if not code:
        raise LineError(line, "no currency")
    try:
        return currency(code)
    except InvalidInput:
        raise LineError(line, f"currency {code!r} is not an ISO 4217 code") from None


def checked_amount(line: int, amount: Decimal, currency_code: str) -> Decimal:
    if amount <= 0:
        raise LineError(line, f"amount {amount} must be greater than zero")
    if amount > MAX_AMOUNT:
        raise LineError(line, f"amount {amount} is larger than the maximum {MAX_AMOUNT}")
    places = MINOR_UNITS.get(currency_code, 2)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise LineError(
            line, f"amount {amount} has more than {places} decimals for {currency_code}"
        )
    return amount


def _text(line: int, value: str, what: str, limit: int) -> str:
    cleaned = " ".join(value.split()) if "\n" in value or "\r" in value else value.strip()
    if len(cleaned) > limit:
        raise LineError(line, f"{what} is longer than {limit} characters")
    if _CONTROL.search(cleaned):
        raise LineError(line, f"{what} contains control characters")
    return cleaned

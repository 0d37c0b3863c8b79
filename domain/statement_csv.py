"""CSV bank statements, read through a column map that says where each field is and how
numbers, dates and the direction of money are written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.exceptions import InvalidInput
from domain.statement_lines import (
    CREDIT,
    DEBIT,
    InvalidStatement,
    LineError,
    ParsedStatement,
    Progress,
    StatementLine,
    statement_line,
)
from domain.values import currency

_NUMBER = re.compile(r"\d+(\.\d+)?|\.\d+")
PROGRESS_EVERY = 500


class CsvColumns(BaseModel):
    """Header names of the columns holding each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bank_ref: str = Field("bank_ref", min_length=1)
    payer: str = Field("payer", min_length=1)
    amount: str = Field("amount", min_length=1)
    currency: str | None = Field("currency", min_length=1)
    value_date: str = Field("value_date", min_length=1)
    remittance: tuple[str, ...] = ("remittance",)  # several columns are joined with a space

    @field_validator("remittance", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class CreditDebit(BaseModel):
    """A column telling credits from debits (e.g. German exports: H = Haben, S = Soll)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    credit: str = Field(min_length=1)
    debit: str | None = Field(None, min_length=1)  # given: any other value is an error


class CsvMap(BaseModel):
    """How to read one bank's CSV export. Without `credit_debit`, the amount's sign tells:
    positive is money received, negative money paid out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = Field(",", min_length=1, max_length=1)
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal[".", ",", " ", "'"] | None = None
    date_format: str = Field("%Y-%m-%d", min_length=2)
    encoding: Literal["utf-8", "utf-8-sig", "latin-1"] = "utf-8"
    skip_rows: int = Field(0, ge=0, le=100)  # preamble rows before the header
    columns: CsvColumns = CsvColumns()
    fixed_currency: str | None = None  # single-currency accounts without a currency column
    credit_debit: CreditDebit | None = None

    @field_validator("fixed_currency")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        try:
            return None if value is None else currency(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None

    @field_validator("date_format")
    @classmethod
    def _directive(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("date_format is a strptime format such as %d.%m.%Y")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CsvMap:
        if self.thousands_separator == self.decimal_separator:
            raise ValueError("the thousands separator must differ from the decimal separator")
        named = "currency" in self.columns.model_fields_set and self.columns.currency
        if self.fixed_currency and named:
            raise ValueError("give either columns.currency or fixed_currency, not both")
        if not self.fixed_currency and not self.columns.currency:
            raise ValueError("give columns.currency or fixed_currency")
        return self

    def currency_column(self) -> str | None:
        return None if self.fixed_currency else self.columns.currency


@dataclass(frozen=True)
class _Positions:
    bank_ref: int
    payer: int
    amount: int
    currency: int | None
    value_date: int
    remittance: tuple[int, ...]
    indicator: int | None
    width: int


def parse_csv(
    data: bytes, column_map: CsvMap, *, max_lines: int = 100_000, progress: Progress | None = None
) -> ParsedStatement:
    """Every data row as a statement line; bad rows are collected, not fatal. A file whose
    structure is wrong (encoding, header, quoting) is refused at once."""
    reader = csv.reader(io.StringIO(_decode(data, column_map.encoding), newline=""),
                        delimiter=column_map.delimiter, strict=True)  # fmt: skip
    rows = _rows(reader)
    positions = _header(rows, column_map)
    lines: list[StatementLine] = []
    bad = []
    for count, (line, row) in enumerate(rows, 1):
        if count > max_lines:
            raise InvalidStatement.at(line, f"the statement has more than {max_lines} lines")
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(line)
        try:
            lines.append(_line(line, row, positions, column_map))
        except LineError as error:
            bad.append(error.bad)
    return ParsedStatement("csv", tuple(lines), tuple(bad))


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InvalidStatement.at(
            line, f"byte {data[error.start]:#04x} is not {encoding} (set the map's encoding)"
        ) from None
    return text.removeprefix("\ufeff")


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, fields), blank rows left out; quoting errors are fatal."""
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InvalidStatement.at(start, f"the CSV cannot be read: {error}") from None
        line, start = start, reader.line_num + 1
        if any(field.strip() for field in row):
            yield line, row


def _header(rows: Iterator[tuple[int, list[str]]], column_map: CsvMap) -> _Positions:
    for _ in range(column_map.skip_rows):
        next(rows, None)
    found = next(rows, None)
    if found is None:
        raise InvalidStatement.at(1, "the file has no header row")
    line, header = found
    names = [name.strip() for name in header]
    cols, credit_debit = column_map.columns, column_map.credit_debit

    def index(name: str, role: str) -> int:
        if name not in names:
            raise InvalidStatement.at(
                line, f"column {name!r} ({role}) is missing; the header has {', '.join(names)}"
            )
        return names.index(name)

    currency_column = column_map.currency_column()
    return _Positions(
        index(cols.bank_ref, "bank_ref"), index(cols.payer, "payer"),
        index(cols.amount, "amount"),
        None if currency_column is None else index(currency_column, "currency"),
        index(cols.value_date, "value_date"),
        tuple(index(name, "remittance") for name in cols.remittance),
        None if credit_debit is None else index(credit_debit.column, "credit/debit"),
        len(names),
    )  # fmt: skip


def _line(line: int, row: list[str], at: _Positions, column_map: CsvMap) -> StatementLine:
    if len(row) < at.width or any(field.strip() for field in row[at.width :]):
        raise LineError(line, f"{len(row)} fields, but the header has {at.width}")
    signed = _number(line, row[at.amount], column_map)
    direction, amount = _direction(line, row, at, column_map, signed)
    money = column_map.fixed_currency or row[at.currency or 0]
    return statement_line(
        line, bank_ref=row[at.bank_ref], payer=row[at.payer], amount=amount,
        currency_code=money, value_date=_date(line, row[at.value_date], column_map.date_format),
        remittance=" ".join(row[i].strip() for i in at.remittance if row[i].strip()),
        direction=direction,
    )  # fmt: skip


def _number(line: int, text: str, column_map: CsvMap) -> Decimal:
    """A signed amount as the bank writes it: '-1.234,56' with a decimal comma, '12.50-'."""
    raw = text.strip()
    value = raw
    negative = value.startswith("-") or value.endswith("-")
    value = value.strip("+-").strip()
    if column_map.thousands_separator:
        value = value.replace(column_map.thousands_separator, "")
    if column_map.decimal_separator == ",":
        value = value.replace(",", ".")
    if not _NUMBER.fullmatch(value) or raw.count("-") + raw.count("+") > 1:
        raise LineError(line, f"amount {raw!r} is not a number")
    return -Decimal(value) if negative else Decimal(value)


def _direction(
    line: int, row: list[str], at: _Positions, column_map: CsvMap, signed: Decimal
) -> tuple[str, Decimal]:
    rule = column_map.credit_debit
    if rule is None or at.indicator is None:
        if signed == 0:
            raise LineError(line, "amount is zero")
        return (CREDIT if signed > 0 else DEBIT), abs(signed)
    if signed < 0:
        raise LineError(
            line, f"amount {signed} is negative, but column {rule.column!r} gives the direction"
        )
    said = row[at.indicator].strip()
    if said.casefold() == rule.credit.casefold():
        return CREDIT, signed
    if rule.debit is None or said.casefold() == rule.debit.casefold():
        return DEBIT, signed
    raise LineError(
        line,
        f"{rule.column} {said!r} is neither credit ({rule.credit!r}) nor debit ({rule.debit!r})",
    )


def _date(line: int, text: str, date_format: str) -> date:
    try:
        return datetime.strptime(text.strip(), date_format).date()
    except ValueError:
        raise LineError(line, f"value date {text.strip()!r} does not match {date_format}") from None

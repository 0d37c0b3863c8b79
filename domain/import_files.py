"""Spreadsheet files read as rows of text: CSV (UTF-8, comma or semicolon) and XLSX (the
first sheet, streamed in openpyxl's read-only mode so a large file is never held whole).

Every cell comes out as a string, whatever the format stored: an XLSX number 12.5 is
"12.5", a whole number 1001 is "1001", a date is "2025-01-31", an empty cell is "". So one
set of rules (`domain/imports.py`) validates both formats alike.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput

FORMATS = ("auto", "csv", "xlsx")
_ZIP_MAGIC = b"PK\x03\x04"


class UnreadableFile(InvalidInput):
    """The file as a whole cannot be read: wrong format, no header, broken encoding."""

    def __init__(self, message: str) -> None:
        super().__init__(message, rule="unreadable-import-file")


@dataclass(frozen=True)
class SheetRow:
    """One data row: its number as the spreadsheet shows it (the header is row 1) and its
    cells by (lower-cased) column name."""

    number: int
    cells: dict[str, str]


@dataclass
class Sheet:
    """The header and a stream of data rows (read once)."""

    format: str
    columns: list[str]
    rows: Iterator[SheetRow]


def detect_format(data: bytes, format: str = "auto") -> str:
    if format not in FORMATS:
        raise UnreadableFile(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if format != "auto":
        return format
    # By content, not by name: an XLSX workbook is a ZIP archive; anything else is read as CSV.
    return "xlsx" if data.startswith(_ZIP_MAGIC) else "csv"


def open_sheet(data: bytes, format: str = "auto") -> Sheet:
    """The file's header and rows; an unreadable file raises `UnreadableFile`."""
    kind = detect_format(data, format)
    raw = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    header = next(raw, None)
    if header is None:
        raise UnreadableFile("the file is empty: the first row must name the columns")
    columns = [cell.strip().lower() for cell in header]
    named = [c for c in columns if c]
    if not named:
        raise UnreadableFile("the first row must name the columns")
    if len(set(named)) != len(named):
        twice = sorted({c for c in named if named.count(c) > 1})
        raise UnreadableFile(f"column {twice[0]!r} is named twice in the header")
    return Sheet(kind, columns, _data_rows(columns, raw))


def _data_rows(columns: list[str], raw: Iterator[list[str]]) -> Iterator[SheetRow]:
    for number, cells in enumerate(raw, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines between blocks of data are common in spreadsheets
        values = {name: "" for name in columns if name}
        extra = cells[len(columns) :]
        for name, cell in zip(columns, cells, strict=False):
            if name:
                values[name] = cell.strip()
        if any(cell.strip() for cell in extra):
            values["\x00extra"] = "has more cells than the header names"
        yield SheetRow(number, values)


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"a CSV file must be UTF-8 (byte {error.start} is not)") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        yield from reader
    except csv.Error as error:
        raise UnreadableFile(f"CSV line {reader.line_num}: {error}") from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # imported on use: a CSV import never needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UnreadableFile(f"not a readable XLSX workbook: {error}") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [cell_text(value) for value in row]
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """A cell as the text a person would have typed into a CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 12.5, not 12.5000001
        return str(Decimal(repr(value)))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)

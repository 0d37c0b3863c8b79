"""Bank statements in, statement lines out: format detection, size limits, column maps.

Parsing is pure (bytes in, `ParsedStatement` out) and stores nothing; importing the lines
is `Ledger.import_statement` (`domain/commands_statements.py`). Every error is an
`InvalidInput` whose message names the line, e.g. ``line 14: amount '12,3x' is not a
number``; `InvalidStatement.bad_lines` lists every bad line of the file, not just the first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Any

import yaml
from pydantic import ValidationError

from domain.exceptions import InvalidInput
from domain.statement_camt import parse_camt053
from domain.statement_csv import CreditDebit, CsvColumns, CsvMap, parse_csv
from domain.statement_lines import (
    CREDIT,
    DEBIT,
    FORMATS,
    BadLine,
    InvalidStatement,
    ParsedStatement,
    Progress,
    StatementLine,
)

__all__ = [
    "CREDIT", "DEBIT", "FORMATS", "BadLine", "CreditDebit", "CsvColumns", "CsvMap",
    "InvalidStatement", "ParsedStatement", "StatementLine", "StatementTooLarge",
    "detect_format", "file_sha256", "load_csv_map", "parse_camt053", "parse_csv",
    "parse_statement",
]  # fmt: skip

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_LINES = 100_000


class StatementTooLarge(InvalidInput):
    """The file is over the size limit for statements (413 over HTTP)."""

    rule = "statement-too-large"


def detect_format(data: bytes, filename: str = "") -> str:
    """'camt053' for XML (the content decides; an .xml name counts too), else 'csv'."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or PurePath(filename).suffix.lower() == ".xml":
        return "camt053"
    return "csv"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_statement(
    data: bytes,
    *,
    file_name: str = "",
    format: str = "auto",
    column_map: CsvMap | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_lines: int = DEFAULT_MAX_LINES,
    progress: Progress | None = None,
) -> ParsedStatement:
    """Read a statement file of either format; bad lines are in the result, not raised."""
    if len(data) > max_bytes:
        raise StatementTooLarge(
            f"the file is {len(data)} bytes; statements are limited to {max_bytes} bytes"
        )
    if not data.strip():
        raise InvalidStatement.at(1, "the file is empty")
    if format not in (*FORMATS, "auto"):
        raise InvalidInput(f"format must be auto, csv or camt053, not {format!r}")
    chosen = detect_format(data, file_name) if format == "auto" else format
    if chosen == "camt053":
        return parse_camt053(data, max_lines=max_lines, progress=progress)
    return parse_csv(data, column_map or CsvMap(), max_lines=max_lines, progress=progress)


def load_csv_map(text: str | bytes, what: str = "column map") -> CsvMap:
    """A column map written as JSON or YAML; errors name the field."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        try:
            raw = json.loads(text)
        except ValueError:
            raise InvalidInput(f"{what} is neither JSON nor YAML") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{what} must be an object of settings (delimiter, columns, …)")
    try:
        return CsvMap.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "map"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{what}: {where}: {message}") from None

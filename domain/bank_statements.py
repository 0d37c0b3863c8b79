"""BankStatement: one statement file imported, and what became of each of its lines.

Keyed by the file's SHA-256: the very same file is the same statement, so importing it
again stores nothing new (see `Ledger.import_statement`). The payments it brought in are
`Payment` aggregates saved in the same atomic save as this record.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.values import stable_id


def statement_id(file_sha256: str) -> UUID:
    return stable_id("bank-statement", file_sha256)


class BankStatement(Aggregate):
    """A statement file and the outcome of its import (counts, references, bad lines)."""

    @staticmethod
    def create_id(file_sha256: str) -> UUID:
        return statement_id(file_sha256)

    @event("Imported")
    def __init__(
        self,
        file_sha256: str,
        file_name: str,
        format: str,
        account: str,
        lines: int,
        imported: int,
        duplicates_skipped: int,
        debits_skipped: int,
        pending_skipped: int,
        bad_lines: list[dict[str, Any]],
        bank_refs_imported: list[str],
        bank_refs_duplicate: list[str],
        totals: dict[str, Decimal],
    ) -> None:
        self.file_sha256 = file_sha256
        self.file_name = file_name
        self.format = format
        self.account = account
        self.lines = lines
        self.imported = imported
        self.duplicates_skipped = duplicates_skipped
        self.debits_skipped = debits_skipped
        self.pending_skipped = pending_skipped
        self.bad_lines = bad_lines
        self.bank_refs_imported = bank_refs_imported
        self.bank_refs_duplicate = bank_refs_duplicate
        self.totals = totals

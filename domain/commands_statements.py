"""Command: import a parsed bank statement as payments, all or nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.application import Decision, IdempotencyClaim, LedgerBase, Outcome
from domain.bank_statements import BankStatement, statement_id
from domain.exceptions import InvalidInput, NotFound
from domain.payments import Payment, payment_id
from domain.statement_lines import CREDIT, FORMATS, BadLine, InvalidStatement, StatementLine
from domain.values import ZERO, Meta, text

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class _Import:
    """The checked arguments of one import."""

    file_sha256: str
    file_name: str
    format: str
    account: str
    credits: tuple[StatementLine, ...]
    debits: int
    bad_lines: tuple[BadLine, ...]
    pending_skipped: int

    @property
    def lines(self) -> int:
        return len(self.credits) + self.debits + len(self.bad_lines) + self.pending_skipped


class StatementCommands(LedgerBase):
    def bank_statement(self, statement: UUID) -> BankStatement:
        return self.load(BankStatement, statement, f"bank statement {statement}")

    def import_statement(
        self,
        meta: Meta,
        *,
        lines: Sequence[StatementLine],
        file_name: str,
        file_sha256: str,
        format: str,
        skip_bad_lines: bool = False,
        bad_lines: Sequence[BadLine] = (),
        pending_skipped: int = 0,
        account: str = "",
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Every new credit line becomes a `Payment`, saved with the `BankStatement` record
        in one atomic save. A bank reference already stored (or repeated in the file) is a
        duplicate and skipped; debits are counted and skipped. Bad lines refuse the whole
        file unless `skip_bad_lines`. The very same file again stores nothing and answers
        the earlier import, everything counted as a duplicate."""
        request = _checked(lines, file_name, file_sha256, format, bad_lines, pending_skipped,
                           account)  # fmt: skip

        def decide() -> Decision:
            earlier = self._statement_if_imported(request.file_sha256)
            if earlier is not None:
                return Decision([], statement_summary(earlier, already_imported=True))
            if request.bad_lines and not skip_bad_lines:
                raise InvalidStatement(request.bad_lines)
            payments, duplicates = self._new_payments(request.credits, request.format)
            totals: dict[str, Decimal] = {}
            for payment in payments:
                totals[payment.currency] = totals.get(payment.currency, ZERO) + payment.amount
            statement = BankStatement(
                request.file_sha256, request.file_name, request.format, request.account,
                request.lines, len(payments), len(duplicates), request.debits,
                request.pending_skipped, [bad.as_dict() for bad in request.bad_lines],
                [p.bank_ref for p in payments], duplicates, totals,
            )  # fmt: skip
            touched: list[Aggregate] = [*payments, statement]
            return Decision(touched, statement_summary(statement))

        return self.execute(meta, decide, idempotency)

    def _statement_if_imported(self, file_sha256: str) -> BankStatement | None:
        try:
            return self.bank_statement(statement_id(file_sha256))
        except NotFound:
            return None

    def _new_payments(
        self, credits: Sequence[StatementLine], source: str
    ) -> tuple[list[Payment], list[str]]:
        """New payments, and the references skipped as duplicates. Nothing is stored twice
        however the duplicates were found: a payment that exists conflicts on its version 1
        when saved, and the retry reads every reference (see `_stored`)."""
        seen: set[str] = set()
        payments: list[Payment] = []
        duplicates: list[str] = []
        for line in credits:
            ref = line.bank_ref
            if ref in seen or self._stored(payment_id(ref)):
                duplicates.append(ref)
            else:
                payments.append(Payment(
                    ref, line.payer, line.amount, line.currency, line.value_date,
                    line.remittance, source,
                ))  # fmt: skip
            seen.add(ref)
        return payments, duplicates

    def _stored(self, payment: UUID) -> bool:
        """Whether a payment exists. A trusting first attempt (as in `require_absent`) asks
        only what this process saved, which costs no query: a fresh statement is recorded
        without reading the store 10,000 times. Any attempt after a conflict reads."""
        if getattr(self._attempt, "trusting", False) and self._saved is not None:
            try:
                self._saved.get(payment)
            except KeyError:
                return False
            return True
        return self.exists(payment)


def statement_summary(
    statement: BankStatement,
    *,
    already_imported: bool = False,
    matched_by_rule: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The one place an import's summary is built (command result, API, CLI). Matching runs
    after the import's save and passes how many of its payments each rule matched;
    `unmatched` is what is left of those imported."""
    matched = dict(matched_by_rule or {})
    imported = 0 if already_imported else statement.imported
    duplicates = statement.duplicates_skipped + (statement.imported if already_imported else 0)
    refs = [] if already_imported else list(statement.bank_refs_imported)
    duplicate_refs = list(statement.bank_refs_duplicate)
    if already_imported:
        duplicate_refs = [*statement.bank_refs_imported, *duplicate_refs]
    return {
        "statement_id": str(statement.id),
        "file_name": statement.file_name,
        "file_sha256": statement.file_sha256,
        "format": statement.format,
        "account": statement.account,
        "already_imported": already_imported,
        "lines": statement.lines,
        "imported": imported,
        "duplicates_skipped": duplicates,
        "debits_skipped": statement.debits_skipped,
        "pending_skipped": statement.pending_skipped,
        "bad_lines": [dict(bad) for bad in statement.bad_lines],
        "totals": {} if already_imported else {c: str(v) for c, v in statement.totals.items()},
        "bank_refs_imported": refs,
        "bank_refs_duplicate": duplicate_refs,
        "matched_by_rule": matched,
        "unmatched": imported - sum(matched.values()),
        "version": statement.version,
    }


def _checked(
    lines: Sequence[StatementLine],
    file_name: str,
    file_sha256: str,
    format: str,
    bad_lines: Sequence[BadLine],
    pending_skipped: int,
    account: str,
) -> _Import:
    if not isinstance(file_sha256, str) or not _SHA256.fullmatch(file_sha256):
        raise InvalidInput("file_sha256 must be 64 lower-case hexadecimal digits")
    if format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if not all(isinstance(line, StatementLine) for line in lines):
        raise InvalidInput("lines must be parsed statement lines")
    if not all(isinstance(bad, BadLine) for bad in bad_lines):
        raise InvalidInput("bad_lines must be the parser's bad lines")
    if not isinstance(pending_skipped, int) or pending_skipped < 0:
        raise InvalidInput("pending_skipped must be a whole number ≥ 0")
    name = PurePosixPath(str(file_name).replace("\\", "/")).name
    credits = tuple(line for line in lines if line.direction == CREDIT)
    return _Import(
        file_sha256, text(name, "file_name", max_length=255, required=False) or "statement",
        format, text(account, "account", max_length=64, required=False), credits,
        len(lines) - len(credits), tuple(bad_lines), pending_skipped,
    )  # fmt: skip

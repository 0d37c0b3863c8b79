"""Commands of automatic payment matching: publishing the rules, applying proposals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from domain.application import Decision, IdempotencyClaim, Outcome, check_version
from domain.commands_finance import FinanceCommands
from domain.exceptions import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    NotFound,
    RuleViolation,
    StaleVersion,
)
from domain.invoices import Invoice
from domain.matching import Proposal
from domain.matching_rules import (
    MATCHING_RULES_ID,
    RULES,
    MatchingRules,
    default_rules,
    validate_rules,
)
from domain.values import Meta, code, money, text


@dataclass(frozen=True)
class AppliedPayment:
    """One payment's proposals, applied in one save."""

    bank_ref: str
    allocations: list[dict[str, Any]]  # allocation_id, invoice_number, amount, rule, explanation
    position: int


@dataclass(frozen=True)
class SkippedPayment:
    """One payment's proposals, none applied: one of them was no longer valid."""

    bank_ref: str
    rule: str  # the rule that refused it (over-allocation, …)
    reason: str
    proposals: list[Proposal]


@dataclass
class MatchApplication:
    applied: list[AppliedPayment] = field(default_factory=list)
    skipped: list[SkippedPayment] = field(default_factory=list)

    @property
    def position(self) -> int:
        return max((a.position for a in self.applied), default=0)


class MatchingCommands(FinanceCommands):
    def matching_rules(self) -> MatchingRules | None:
        try:
            return self.load(MatchingRules, MATCHING_RULES_ID, "matching rules")
        except NotFound:
            return None

    def rules_in_force(self) -> tuple[int, dict[str, Any]]:
        """(version, rules) — version 0 and the built-in defaults until one is published."""
        published = self.matching_rules()
        if published is None:
            return 0, validate_rules(default_rules())
        return published.latest, published.current

    def publish_matching_rules(
        self,
        meta: Meta,
        *,
        rules: Any,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Publish new matching rules; every matching run from now on uses them."""
        clean = validate_rules(rules)

        def decide() -> Decision:
            current = self.matching_rules()
            if current is None:
                if expected_version not in (None, 0):  # GET answers version 0 for none
                    raise StaleVersion(
                        f"there are no published matching rules yet, not version"
                        f" {expected_version}",
                        current_version=0,
                    )
                current = MatchingRules(clean)
            elif expected_version == 0:
                raise AlreadyExists("matching rules are already published")
            else:
                check_version(current, expected_version, "matching rules")
                current.publish(clean)
            result = {"version": current.latest, "rules": clean}
            return Decision([current], result)

        return self.execute(meta, decide, idempotency)

    def apply_matches(
        self, meta: Meta, proposals: Sequence[Proposal], *, rules_version: int | None = None
    ) -> MatchApplication:
        """Apply proposed allocations, one payment per save (the payment and every invoice
        its proposals touch, atomically). A payment with a proposal that is no longer valid
        (the invoice was paid meanwhile, the money already allocated) is skipped whole and
        reported; the others are applied. Each save's events carry the explanations."""
        groups = _by_payment(proposals)
        outcome = MatchApplication()
        for bank_ref, group in groups.items():
            stamped = _stamped(meta, group, rules_version)
            try:
                saved = self.execute(stamped, partial(self._apply_one, group))
            except DomainError as error:
                outcome.skipped.append(SkippedPayment(bank_ref, error.rule, error.message, group))
                continue
            outcome.applied.append(
                AppliedPayment(bank_ref, saved.result["allocations"], saved.position)
            )
        return outcome

    def _apply_one(self, group: list[Proposal]) -> Decision:
        payment = self.payment(group[0].bank_ref)
        invoices: dict[str, Invoice] = {}
        made = []
        for proposal in group:
            invoice = self.invoice(proposal.invoice_number)
            invoices[invoice.number] = invoice
            if payment.currency != invoice.currency:
                raise RuleViolation(
                    f"payment {payment.bank_ref} is in {payment.currency}, invoice"
                    f" {invoice.number} in {invoice.currency}",
                    rule="allocation-currency-mismatch",
                )
            dated = payment.value_date
            allocation = payment.allocate(invoice.number, proposal.amount, proposal.rule, dated)
            invoice.apply_payment(allocation, payment.bank_ref, proposal.amount, dated)
            made.append({"allocation_id": allocation, **proposal.as_dict()})
        return Decision([payment, *invoices.values()], {"allocations": made})


def _by_payment(proposals: Sequence[Proposal]) -> dict[str, list[Proposal]]:
    """Proposals checked and grouped by payment, in the order payments first appear."""
    groups: dict[str, list[Proposal]] = {}
    for proposal in proposals:
        if not isinstance(proposal, Proposal):
            raise InvalidInput("apply_matches takes the proposals of a matching run")
        if proposal.rule not in RULES:
            raise InvalidInput(
                f"{proposal.rule!r} is not a matching rule; known: {', '.join(RULES)}"
            )
        code(proposal.bank_ref, "bank_ref")
        code(proposal.invoice_number, "invoice_number")
        if money(proposal.amount, "amount") <= 0:
            raise InvalidInput(f"a proposed amount must be greater than zero: {proposal}")
        text(proposal.explanation, "explanation", max_length=2000)
        groups.setdefault(proposal.bank_ref, []).append(proposal)
    return groups


def _stamped(meta: Meta, group: list[Proposal], rules_version: int | None) -> Meta:
    """The command's metadata with why each allocation was made, for the audit trail."""
    extra = dict(meta.extra)
    extra["match_explanation"] = " | ".join(
        f"{p.invoice_number}: {p.rule}: {p.explanation}" for p in group
    )[:4000]
    if rules_version is not None:
        extra["matching_rules_version"] = str(rules_version)
    return replace(meta, extra=extra)

"""Write-offs on real SQLite and PostgreSQL: requested by one person, approved or rejected by
another in an approver role; only an approval reduces what the invoice owes, from its date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.ledger import Ledger
from projections import credits, queries
from tests.integration.credits import (
    INV1,
    approve,
    ask_write_off,
    correct,
    invoiced,
    meta,
    taxed,
)
from tests.integration.helpers import names, settle
from tests.integration.orders import saved_by
from tests.integration.test_payments import allocate, pay

__all__ = ["invoiced", "taxed"]

D = Decimal
W1 = f"{INV1}-W1"


def test_a_requested_write_off_waits_and_reduces_nothing_until_approved(
    invoiced: Ledger,
) -> None:
    head = invoiced.head()

    outcome = invoiced.request_write_off(
        meta("ann"), invoice_number=INV1, amount="14.26", reason="small balance"
    )

    assert names(saved_by(invoiced, outcome, head)) == ["Invoice.WriteOffRequested"]
    assert (outcome.result["write_off_id"], outcome.result["status"]) == (W1, "pending")
    assert (outcome.result["requested_by"], outcome.result["invoice"]["open"]) == (
        "ann", "214.26",
    )  # fmt: skip
    head = invoiced.head()

    approved = approve(invoiced, W1, date(2026, 4, 30))

    assert names(saved_by(invoiced, approved, head)) == ["Invoice.WrittenOff"]
    assert (approved.result["status"], approved.result["decided_by"]) == ("approved", "boss")
    assert approved.result["effective_date"] == "2026-04-30"
    invoice = approved.result["invoice"]
    assert (invoice["written_off"], invoice["open"]) == ("14.26", "200.00")


def test_an_approval_without_the_role_is_refused_and_stores_nothing(invoiced: Ledger) -> None:
    write_off = ask_write_off(invoiced, "5")
    head = invoiced.head()

    for role in (None, "finance", "sales_director"):
        with pytest.raises(RuleViolation) as error:
            approve(invoiced, write_off, role=role)
        assert error.value.rule == "write-off-role"
        assert "finance_manager or manager" in error.value.message
    with pytest.raises(RuleViolation) as rejecting:
        invoiced.reject_write_off(meta("boss", "sales"), write_off_id=write_off, reason="no")
    assert rejecting.value.rule == "write-off-role"

    assert invoiced.head() == head
    assert approve(invoiced, write_off, role="manager").result["status"] == "approved"


def test_the_approver_roles_are_a_setting(settings: Settings) -> None:
    strict = settings.model_copy(update={"write_off_approver_roles": ["auditor"]})
    opened = open_runtime(strict, start_projections=False)
    try:
        assert opened.ledger.write_off_approver_roles == ("auditor",)
    finally:
        opened.close()
    assert Settings().write_off_approver_roles == ["finance_manager", "manager"]
    for bad in (["cfo"], []):
        with pytest.raises(ValidationError):
            Settings(write_off_approver_roles=bad)


def test_nobody_decides_their_own_write_off(invoiced: Ledger) -> None:
    write_off = ask_write_off(invoiced, "5", actor="boss")
    head = invoiced.head()

    with pytest.raises(RuleViolation) as approving:
        approve(invoiced, write_off, actor="boss")
    with pytest.raises(RuleViolation) as rejecting:
        invoiced.reject_write_off(
            meta("boss", "manager"), write_off_id=write_off, reason="changed my mind"
        )

    assert {approving.value.rule, rejecting.value.rule} == {"write-off-self-approval"}
    assert invoiced.head() == head


def test_a_write_off_is_decided_once(invoiced: Ledger) -> None:
    approved, rejected = ask_write_off(invoiced, "5"), ask_write_off(invoiced, "6")
    approve(invoiced, approved)
    outcome = invoiced.reject_write_off(
        meta("boss", "manager"), write_off_id=rejected, reason="chase it"
    )
    assert (outcome.result["status"], outcome.result["invoice"]["open"]) == (
        "rejected", "209.26",
    )  # fmt: skip
    head = invoiced.head()

    for write_off in (approved, rejected):
        with pytest.raises(RuleViolation) as twice:
            approve(invoiced, write_off)
        assert twice.value.rule == "write-off-decided"
        with pytest.raises(RuleViolation) as again:
            invoiced.reject_write_off(meta("boss", "manager"), write_off_id=write_off, reason="x")
        assert again.value.rule == "write-off-decided"
    for unknown in (f"{INV1}-W9", "INV-2026-000404-W1", "NOT-A-WRITE-OFF"):
        with pytest.raises(NotFound):
            approve(invoiced, unknown)
    assert invoiced.head() == head


def test_no_write_off_exceeds_what_the_invoice_owes_when_asked_or_when_approved(
    invoiced: Ledger,
) -> None:
    head = invoiced.head()
    with pytest.raises(RuleViolation) as asked:
        ask_write_off(invoiced, "214.27")
    for amount in ("0", "-1", "1.001", "x"):
        with pytest.raises(InvalidInput):
            ask_write_off(invoiced, amount)
    with pytest.raises(InvalidInput):
        invoiced.request_write_off(meta(), invoice_number=INV1, amount="1", reason="")
    assert asked.value.rule == "over-write-off"
    assert invoiced.head() == head

    write_off = ask_write_off(invoiced, "20")
    pay(invoiced, "BANK-1", "200.00", date(2026, 3, 20))
    allocate(invoiced, "BANK-1", INV1, "200.00")  # 14.26 left: less than asked
    head = invoiced.head()
    with pytest.raises(RuleViolation) as approving:
        approve(invoiced, write_off)
    with pytest.raises(RuleViolation) as early:
        approve(invoiced, ask_write_off(invoiced, "1"), date(2026, 2, 1))
    assert (approving.value.rule, early.value.rule) == ("over-write-off", "write-off-date")
    assert invoiced.head() == head + 1  # only the second request


def test_write_offs_are_listed_by_status_and_reduce_open_items_from_their_date(
    runtime: Runtime, invoiced: Ledger
) -> None:
    first, second, third = (ask_write_off(invoiced, amount) for amount in ("4.26", "3", "2"))
    approve(invoiced, first, date(2026, 4, 15), role="manager")
    invoiced.reject_write_off(meta("boss", "manager"), write_off_id=second, reason="chase it")
    correct(invoiced, "100", date(2026, 4, 20))  # 119.00 credited
    settle(runtime)

    with runtime.store.read() as cur:
        pending = credits.list_write_offs(cur, status="pending", customer=None, after=None,
                                          limit=10)  # fmt: skip
        listed = credits.list_write_offs(cur, status=None, customer="C-1", after=None, limit=10)
        before = queries.open_items(cur, customer="C-1", as_of=date(2026, 4, 14))
        after = queries.open_items(cur, customer="C-1", as_of=date(2026, 4, 15))
        credited = queries.open_items(cur, customer="C-1", as_of=date(2026, 4, 20))
        one = credits.write_off(cur, first)
    assert [w["id"] for w in pending] == [third]
    assert [(w["id"], w["status"], w["amount"], w["requested_by"], w["decided_by"])
            for w in listed] == [
        (first, "approved", D("4.26"), "ann", "boss"),
        (second, "rejected", D("3"), "ann", "boss"),
        (third, "pending", D("2"), "ann", None),
    ]  # fmt: skip
    assert one is not None
    assert (one["decided_role"], one["effective_date"], one["customer"]) == (
        "manager", "2026-04-15", "C-1",
    )  # fmt: skip
    assert listed[1]["decision_reason"] == "chase it"
    assert [(i["open"], i["credited"]) for i in before] == [(D("214.26"), D(0))]
    assert [(i["open"], i["credited"]) for i in after] == [(D("210.00"), D("4.26"))]
    assert [(i["open"], i["credited"]) for i in credited] == [(D("91.00"), D("123.26"))]

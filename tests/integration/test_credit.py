"""Credit control on real SQLite and PostgreSQL: the standing's parts against figures worked
out by hand, credit facts judged at approval (and on amendment), the review at shipment
release that stores a hold and refuses the shipment, and finance's holds and releases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.credit import CreditHoldRefusal, CreditStanding
from domain.exceptions import RuleViolation, Unavailable
from domain.ledger import Ledger
from domain.receivables import receivable_id
from domain.values import Meta
from projections.catalog import CatalogProjection
from projections.credit import ProjectionCreditCheck, credit_holds
from projections.queries import order_timeline
from projections.runner import ProjectionRunner
from tests.conftest import command_meta
from tests.integration.helpers import names, produce, settle, stored_events
from tests.integration.orders import saved_by

D = Decimal
AT = datetime(2026, 4, 15, 9, 0, tzinfo=UTC)
TODAY = AT.date()
FINANCE_RULE = {"name": "over credit limit", "when": {"credit_over_limit": True},
                "levels": ["finance"]}  # fmt: skip
BIG_RULE = {"name": "big", "when": {"amount_over": "500"}, "levels": ["sales_director"]}


def meta(command: str = "test", role: str | None = None, at: datetime = AT) -> Meta:
    return dataclasses.replace(command_meta(command, at=at), role=role)


def customer(ledger: Ledger, code: str, limit: str, currency: str = "EUR") -> None:
    ledger.register_customer(
        meta("register_customer"), code_=code, name=f"Customer {code}", contacts=[],
        billing_address="1 Bill St", shipping_address="2 Ship Rd", region="north",
        payment_terms_days=30, credit_limit=limit, currency_code=currency,
    )  # fmt: skip


def order(
    ledger: Ledger, number: str, qty: str, price: str, who: str = "C-1", **extra: Any
) -> Outcome:
    return ledger.create_sales_order(
        meta("create_sales_order"), customer=who, warehouse="WH1", salesperson="ann",
        lines=[{"sku": "SKU-1", "quantity": qty, "unit_price": price}], number=number,
        currency_code=extra.pop("currency", "EUR"), **extra,
    )  # fmt: skip


def submit(ledger: Ledger, number: str) -> Outcome:
    return ledger.submit_sales_order(meta("submit_sales_order"), number=number)


def ship(ledger: Ledger, number: str, qty: str, ref: str, **extra: Any) -> Outcome:
    return ledger.ship_sales_order(
        meta("ship_sales_order", **extra), number=number, lines={1: qty}, carrier="DHL",
        tracking_number=f"T-{ref}", shipment_ref=ref,
    )  # fmt: skip


def bill(ledger: Ledger, who: str, refs: list[tuple[str, str]], on: date) -> str:
    outcome = ledger.issue_invoice(
        meta("issue_invoice"), customer=who, invoice_date=on,
        shipments=[{"order_number": o, "shipment_ref": s} for o, s in refs],
    )  # fmt: skip
    return str(outcome.result["number"])


def pay(ledger: Ledger, ref: str, invoice: str, amount: str, on: date) -> None:
    ledger.record_payment(
        meta("record_payment"), bank_ref=ref, payer="Payer", amount=amount,
        currency_code="EUR", value_date=on,
    )  # fmt: skip
    ledger.allocate_payment(
        meta("allocate_payment"), bank_ref=ref, invoice_number=invoice, amount=amount
    )


def standing(runtime: Runtime, who: str = "C-1", **options: Any) -> CreditStanding:
    check = runtime.ledger.credit
    assert check is not None
    if options.pop("include_open_orders", True) is False:
        check = ProjectionCreditCheck(runtime.runner, runtime.store, include_open_orders=False)
    return check.standing(who, None, D(0), as_of=options.pop("as_of", TODAY), **options)


def policy(ledger: Ledger, *rules: dict[str, Any]) -> None:
    ledger.publish_approval_policy(meta("publish_approval_policy"), policy={"rules": list(rules)})


@pytest.fixture
def stocked(sales: Ledger) -> Ledger:
    """The catalog, C-1 (limit 5000 EUR) and 1000 of SKU-1 on hand in WH1."""
    produce(sales, "SKU-1", "1000")
    return sales


# -- the standing ------------------------------------------------------------------------------


def test_the_standing_adds_open_ar_pending_invoice_and_open_orders_as_worked_out_by_hand(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    policy(ledger, BIG_RULE)
    order(ledger, "SO-1", "40", "2.50")  # 100.00, shipped in full and invoiced
    submit(ledger, "SO-1")
    ship(ledger, "SO-1", "40", "SH-1")
    invoice = bill(ledger, "C-1", [("SO-1", "SH-1")], date(2026, 3, 1))  # due 03-31
    pay(ledger, "BANK-1", invoice, "30.00", date(2026, 3, 20))  # open AR 70.00
    order(ledger, "SO-2", "20", "2.50")  # 50.00: 8 shipped (20.00 pending), 30.00 open
    submit(ledger, "SO-2")
    ship(ledger, "SO-2", "8", "SH-2")
    order(ledger, "SO-3", "240", "2.50")  # 600.00 awaiting the sales director: open
    submit(ledger, "SO-3")
    order(ledger, "SO-4", "4", "2.50")  # a draft: not an open order
    order(ledger, "SO-5", "4", "2.50")  # cancelled: not an open order
    submit(ledger, "SO-5")
    ledger.cancel_sales_order(meta("cancel"), number="SO-5", reason="withdrawn")
    order(ledger, "SO-6", "10", "3.00", currency="USD")  # another currency: listed apart
    submit(ledger, "SO-6")

    found = standing(runtime)

    assert (found.open_ar, found.pending_invoice, found.open_orders) == (
        D("70.00"), D("20.00"), D("630.00"),
    )  # fmt: skip
    assert (found.exposure, found.limit, found.available, found.over_limit) == (
        D("720.00"), D(5000), D("4280.00"), False,
    )  # fmt: skip
    assert found.other_currencies == {
        "USD": {"open_ar": 0, "pending_invoice": 0, "open_orders": D("30.00"), "extra": 0}
    }
    assert found.position == ledger.head()  # every write so far counted
    # The one invoice is 15 days overdue on 04-15 and the payment came before its due date.
    assert (found.score_inputs["overdue_items"], found.score_inputs["average_days_late"]) == (
        1, D("0.00"),
    )  # fmt: skip
    assert found.score == 100 - 5 - 20  # one overdue item, all of open AR overdue

    without = standing(runtime, include_open_orders=False)
    assert (without.open_orders, without.exposure) == (D(0), D("90.00"))
    # Before the invoice date the invoiced shipment is still pending invoice, never lost.
    earlier = standing(runtime, as_of=date(2026, 2, 1))
    assert (earlier.open_ar, earlier.pending_invoice) == (D(0), D("120.00"))


def test_the_running_sums_equal_the_rows_they_sum_and_a_rebuild_gives_the_same_tables(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    customer(ledger, "C-2", "100000")
    policy(ledger, BIG_RULE)
    for n, (who, qty) in enumerate([("C-1", "40"), ("C-2", "300"), ("C-1", "8"), ("C-2", "2")]):
        order(ledger, f"SO-{n}", qty, "2.50", who=who)
        submit(ledger, f"SO-{n}")
    ship(ledger, "SO-0", "15", "SH-1")
    ship(ledger, "SO-2", "8", "SH-2")
    bill(ledger, "C-1", [("SO-0", "SH-1")], date(2026, 3, 1))
    same = [{"sku": "SKU-1", "quantity": "3", "unit_price": "2.50"}]
    ledger.amend_sales_order(meta("amend"), number="SO-3", lines=same)
    ledger.cancel_sales_order(meta("cancel"), number="SO-1", reason="withdrawn")
    settle(runtime)

    def tables() -> tuple[list[Any], list[Any]]:
        with runtime.store.read() as cur:
            balances = cur.execute(
                "SELECT customer, currency, pending_invoice, open_orders FROM credit_balances"
                " ORDER BY customer, currency"
            ).fetchall()
            orders = cur.execute("SELECT * FROM credit_orders ORDER BY order_id").fetchall()
        return [tuple(map(str, b)) for b in balances], [tuple(map(str, o)) for o in orders]

    before = tables()
    runtime.runner.rebuild("credit")

    assert tables() == before
    with runtime.store.read() as cur:
        sums = {
            (str(r[0]), D(str(r[1])).normalize(), D(str(r[2])).normalize())
            for r in cur.execute(
                "SELECT customer, pending_invoice, open_orders FROM credit_balances"
            ).fetchall()
        }
    # C-1: SO-0 shipped 37.50 of 100.00 (invoiced), 62.50 open; SO-2 shipped 20.00, pending.
    # C-2: SO-1 cancelled; SO-3 amended to 7.50 and approved again: open.
    assert sums == {("C-1", D(20), D("62.5")), ("C-2", D(0), D("7.5"))}


def test_a_check_on_read_models_that_do_not_catch_up_in_time_is_refused_storing_nothing(
    runtime: Runtime, stocked: Ledger
) -> None:
    order(stocked, "SO-1", "4", "2.50")
    # A runner working in the background, but on other read models, and the credit read
    # models further behind than one of its pages: the check waits for it, in vain.
    elsewhere = ProjectionRunner(
        stocked, runtime.store, [CatalogProjection()], page_size=1, poll_interval=0.05
    )
    elsewhere.start()
    stocked.credit = ProjectionCreditCheck(elsewhere, runtime.store, timeout=0.2)
    head = stocked.head()
    try:
        with pytest.raises(Unavailable) as refused:
            submit(stocked, "SO-1")
    finally:
        elsewhere.stop()

    assert (refused.value.rule, stocked.head()) == ("credit-check-unavailable", head)
    assert "have not reached log position" in refused.value.message


def test_an_unknown_customer_has_no_standing(runtime: Runtime, stocked: Ledger) -> None:
    with pytest.raises(Exception, match="customer 'C-404' not found"):
        standing(runtime, "C-404")


def test_a_customer_paying_late_gets_a_lower_score_from_the_allocations_of_the_last_year(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    order(ledger, "SO-1", "40", "2.50")
    submit(ledger, "SO-1")
    ship(ledger, "SO-1", "20", "SH-1")  # 50.00
    ship(ledger, "SO-1", "20", "SH-2")  # 50.00
    first = bill(ledger, "C-1", [("SO-1", "SH-1")], date(2026, 1, 1))  # due 01-31
    second = bill(ledger, "C-1", [("SO-1", "SH-2")], date(2026, 2, 1))  # due 03-03
    pay(ledger, "BANK-1", first, "50.00", date(2026, 3, 12))  # 40 days late
    pay(ledger, "BANK-2", second, "50.00", date(2026, 3, 13))  # 10 days late

    found = standing(runtime)

    # average (50 × 40 + 50 × 10) / 100 = 25 days late; one invoice paid > 30 days late
    assert found.score_inputs["average_days_late"] == D("25.00")
    assert found.score_inputs["invoices_paid_over_30_days_late"] == 1
    assert found.score == 100 - 25 - 5
    # A year and more later those payments are out of the window: no history, neutral.
    later = standing(runtime, as_of=date(2027, 3, 14))
    assert (later.score, later.score_inputs["neutral"]) == (70, True)


# -- at approval ---------------------------------------------------------------------------------


def test_an_over_limit_customers_new_order_waits_for_finance_and_an_in_limit_one_does_not(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    customer(ledger, "C-2", "100")
    policy(ledger, FINANCE_RULE)
    order(ledger, "SO-1", "30", "2.50", who="C-2")  # 75.00: within 100
    order(ledger, "SO-2", "20", "2.50", who="C-2")  # 50.00 more: 125.00 > 100
    order(ledger, "SO-3", "20", "2.50")  # C-1, limit 5000

    within = submit(ledger, "SO-1").result
    head = ledger.head()
    over = submit(ledger, "SO-2")
    submitted = saved_by(ledger, over, head)[0][1]
    other = submit(ledger, "SO-3").result

    assert (within["status"], within["awaiting_role"]) == ("approved", None)
    assert (other["status"], other["awaiting_role"]) == ("approved", None)
    assert (over.result["status"], over.result["awaiting_role"]) == ("created", "finance")
    assert submitted.levels == [{"role": "finance", "rule": "over credit limit"}]
    assert (submitted.facts["credit_over_limit"], submitted.facts["credit_score"]) == (True, 70)
    figures = submitted.facts["credit"]
    assert (figures["open_orders"], figures["extra"], figures["exposure"], figures["limit"]) == (
        D("75.00"), D("50.00"), D("125.00"), D(100),
    )  # fmt: skip
    assert figures["position"] == head
    ledger.approve_sales_order(meta("approve", role="finance"), number="SO-2")
    assert ledger.sales_order("SO-2").status == "approved"


def test_a_score_rule_adds_its_level_only_below_the_threshold(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    policy(ledger, {"name": "weak payer", "when": {"credit_score_below": 71},
                    "levels": ["finance"]})  # fmt: skip
    order(ledger, "SO-1", "4", "2.50")
    assert submit(ledger, "SO-1").result["awaiting_role"] == "finance"  # neutral 70 < 71
    policy(ledger, {"name": "weak payer", "when": {"credit_score_below": 70},
                    "levels": ["finance"]})  # fmt: skip
    order(ledger, "SO-2", "4", "2.50")
    assert submit(ledger, "SO-2").result["awaiting_role"] is None


def test_a_customer_without_a_limit_is_not_under_credit_control(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    customer(ledger, "C-0", "0")
    policy(ledger, FINANCE_RULE, {"name": "weak", "when": {"credit_score_below": 100},
                                  "levels": ["finance"]})  # fmt: skip
    order(ledger, "SO-1", "400", "2.50", who="C-0")

    outcome = submit(ledger, "SO-1")

    assert outcome.result["status"] == "approved"
    submitted = next(e for _, e in stored_events(ledger) if type(e).__name__ == "Submitted")
    assert (submitted.facts["credit_score"], submitted.facts["credit"]) == (None, None)
    assert ship(ledger, "SO-1", "400", "SH-1").result["status"] == "shipped"


def test_an_amendment_keeps_its_approvals_unless_credit_now_asks_for_a_level(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    customer(ledger, "C-2", "200")
    policy(ledger, FINANCE_RULE)
    order(ledger, "SO-1", "40", "2.50", who="C-2")  # 100.00
    order(ledger, "SO-2", "36", "2.50", who="C-2")  # 90.00: 190.00 in all
    submit(ledger, "SO-1")
    submit(ledger, "SO-2")
    same = [{"sku": "SKU-1", "quantity": "20", "unit_price": "5.00"}]  # 100.00 again

    kept = ledger.amend_sales_order(meta("amend"), number="SO-1", lines=same).result
    assert (kept["status"], kept["awaiting_role"]) == ("approved", None)  # 190.00, counted once

    order(ledger, "SO-3", "20", "2.50", who="C-2")  # 50.00 more: 240.00, over 200
    assert submit(ledger, "SO-3").result["awaiting_role"] == "finance"
    asked = ledger.amend_sales_order(meta("amend"), number="SO-1", lines=same).result

    assert (asked["status"], asked["awaiting_role"]) == ("created", "finance")
    assert ledger.sales_order("SO-1").levels == [{"role": "finance", "rule": "over credit limit"}]


# -- at shipment release ---------------------------------------------------------------------------


@pytest.fixture
def over_limit(runtime: Runtime, stocked: Ledger) -> Ledger:
    """C-2 (limit 100 EUR) with SO-1 (80.00) and SO-2 (50.00) approved: 130.00 of orders."""
    customer(stocked, "C-2", "100")
    order(stocked, "SO-1", "32", "2.50", who="C-2")
    order(stocked, "SO-2", "20", "2.50", who="C-2")
    submit(stocked, "SO-1")
    submit(stocked, "SO-2")
    return stocked


def test_an_over_limit_shipment_stores_the_hold_and_nothing_of_the_shipment(
    runtime: Runtime, over_limit: Ledger
) -> None:
    ledger = over_limit
    head = ledger.head()
    stock = ledger.stock_item("SKU-1", "WH1")
    before = (stock.version, stock.physical, stock.locked)

    with pytest.raises(CreditHoldRefusal) as refused:
        ship(ledger, "SO-2", "20", "SH-1", role="warehouse")

    found = stored_events(ledger, head + 1)
    assert names(found) == ["SalesOrder.CreditHeld"]  # the hold, and nothing else
    held = found[0][1]
    assert (refused.value.rule, refused.value.position) == ("credit-hold", found[0][0])
    assert (held.source, held.shipment_ref, held.actor, held.role) == (
        "shipment", "SH-1", "tester", "warehouse",
    )  # fmt: skip
    assert "exposure 130.00 EUR is over the credit limit of 100.00" in held.reason
    assert (held.figures["open_orders"], held.figures["extra"]) == (D("80.00"), D("50.00"))
    stock = ledger.stock_item("SKU-1", "WH1")
    assert (stock.version, stock.physical, stock.locked) == before
    assert not ledger.exists(receivable_id("SO-2", "SH-1"))
    order_now = ledger.sales_order("SO-2")
    assert (order_now.status, order_now.shipped, order_now.credit_hold["source"]) == (
        "approved", {}, "shipment",
    )  # fmt: skip
    # Held: the next attempt is refused outright, and stores nothing.
    head = ledger.head()
    with pytest.raises(RuleViolation) as again:
        ship(ledger, "SO-2", "20", "SH-2")
    assert (again.value.rule, ledger.head()) == ("credit-hold", head)


def test_finance_releases_a_held_order_and_it_ships_while_the_warehouse_cannot_release(
    runtime: Runtime, over_limit: Ledger
) -> None:
    ledger = over_limit
    with pytest.raises(CreditHoldRefusal):
        ship(ledger, "SO-2", "10", "SH-1")
    head = ledger.head()

    for role in ("warehouse", "sales", None):
        with pytest.raises(RuleViolation) as refused:
            ledger.release_order_credit(meta("release", role=role), number="SO-2", reason="ok")
        assert refused.value.rule == "credit-role"
    assert ledger.head() == head

    released = ledger.release_order_credit(
        meta("release", role="finance"), number="SO-2", reason="paid in advance by wire"
    )
    event = saved_by(ledger, released, head)[0][1]
    assert (type(event).__name__, event.role, event.actor, event.reason) == (
        "CreditReleased", "finance", "tester", "paid in advance by wire",
    )  # fmt: skip
    # Released: the next shipments pass, until the order is fully shipped.
    assert ship(ledger, "SO-2", "10", "SH-1").result["status"] == "partially_shipped"
    assert ship(ledger, "SO-2", "10", "SH-2").result["status"] == "shipped"
    assert ledger.exists(receivable_id("SO-2", "SH-2"))
    assert ledger.sales_order("SO-2").credit_release is None


def test_a_hold_by_hand_ends_a_release_and_stops_shipments(
    runtime: Runtime, over_limit: Ledger
) -> None:
    ledger = over_limit
    ledger.release_order_credit(meta("release", role="manager"), number="SO-1", reason="vip")
    with pytest.raises(RuleViolation) as twice:
        ledger.release_order_credit(meta("release", role="finance"), number="SO-1", reason="x")
    assert twice.value.rule == "already-released"

    held = ledger.hold_order_credit(
        meta("hold", role="finance"), number="SO-1", reason="cheque bounced"
    )

    assert held.result["credit_hold"]["source"] == "manual"
    assert held.result["credit_hold"]["figures"]["exposure"] == D("130.00")
    assert held.result["credit_release"] is None
    head = ledger.head()
    with pytest.raises(RuleViolation) as refused:
        ship(ledger, "SO-1", "1", "SH-1")
    assert (refused.value.rule, ledger.head()) == ("credit-hold", head)
    with pytest.raises(RuleViolation) as again:
        ledger.hold_order_credit(meta("hold", role="finance"), number="SO-1", reason="again")
    assert again.value.rule == "already-on-hold"
    with pytest.raises(RuleViolation) as not_allowed:
        ledger.hold_order_credit(meta("hold", role="sales"), number="SO-2", reason="x")
    assert (not_allowed.value.rule, ledger.head()) == ("credit-role", head)


def test_a_score_below_the_hold_threshold_holds_the_shipment(
    runtime: Runtime, stocked: Ledger
) -> None:
    ledger = stocked
    order(ledger, "SO-1", "40", "2.50")
    submit(ledger, "SO-1")
    ship(ledger, "SO-1", "20", "SH-1")
    ship(ledger, "SO-1", "20", "SH-2")
    first = bill(ledger, "C-1", [("SO-1", "SH-1")], date(2026, 1, 1))  # due 01-31
    bill(ledger, "C-1", [("SO-1", "SH-2")], date(2026, 2, 1))  # due 03-03, overdue, unpaid
    pay(ledger, "BANK-1", first, "50.00", date(2026, 4, 1))  # 60 days late
    order(ledger, "SO-2", "4", "2.50")
    submit(ledger, "SO-2")

    # 100 − 40 (speed, capped) − 5 (one overdue) − 20 (all open AR overdue) − 5 (one late)
    assert standing(runtime).score == 30
    with pytest.raises(CreditHoldRefusal) as refused:
        ship(ledger, "SO-2", "4", "SH-3")

    assert "credit score 30 is below 40" in refused.value.message
    assert refused.value.details["figures"]["score"] == 30
    assert ledger.sales_order("SO-2").credit_hold is not None
    check = runtime.ledger.credit
    assert isinstance(check, ProjectionCreditCheck)
    check.hold_score = 30  # as with ORDERLEDGER_CREDIT_HOLD_SCORE=30: 30 is not below it
    order(ledger, "SO-3", "4", "2.50")
    submit(ledger, "SO-3")
    assert ship(ledger, "SO-3", "4", "SH-4").result["status"] == "shipped"


def test_holds_and_releases_show_in_the_timeline_and_the_holds_list(
    runtime: Runtime, over_limit: Ledger
) -> None:
    ledger = over_limit
    with pytest.raises(CreditHoldRefusal):
        ship(ledger, "SO-2", "20", "SH-1", role="warehouse")
    ledger.hold_order_credit(meta("hold", role="finance"), number="SO-1", reason="bounced")
    settle(runtime)

    with runtime.store.read() as cur:
        listed = credit_holds(cur, after=None, limit=10)
        steps = order_timeline(cur, "SO-2")
    assert [(h["number"], h["customer"], h["amount"], h["source"]) for h in listed] == [
        ("SO-1", "C-2", D("80.00"), "manual"), ("SO-2", "C-2", D("50.00"), "shipment"),
    ]  # fmt: skip
    assert listed[1]["figures"]["exposure"] == "130.00"
    held = steps[-1]
    assert (held["kind"], held["actor"], held["role"]) == ("CreditHeld", "tester", "warehouse")
    assert held["detail"].startswith("credit hold, shipment SH-1 refused: exposure 130.00 EUR")

    ledger.release_order_credit(meta("release", role="finance"), number="SO-2", reason="ok")
    ledger.cancel_sales_order(meta("cancel"), number="SO-1", reason="withdrawn")
    settle(runtime)
    with runtime.store.read() as cur:
        assert credit_holds(cur, after=None, limit=10) == []
        released = order_timeline(cur, "SO-2")[-1]
    assert (released["kind"], released["detail"]) == (
        "CreditReleased", "credit released by finance: ok",
    )  # fmt: skip

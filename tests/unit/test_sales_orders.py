"""SalesOrder and its commands without a database: amounts, status rules, input validation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import InvalidInput, RuleViolation
from domain.ledger import Ledger
from domain.sales_orders import ExternalReference, SalesOrder, line_amount
from tests.conftest import command_meta as meta
from tests.unit.given import T0, D, given, then, when

SO = "SO-1"
SO_ID = SalesOrder.create_id(SO)


def line(no: int, qty: str, price: str, discount: str = "0", sku: str = "SKU-1") -> dict[str, Any]:
    return {"line_no": no, "sku": sku, "quantity": D(qty), "unit_price": D(price),
            "discount": D(discount)}  # fmt: skip


def created(*lines: dict[str, Any], currency: str = "EUR") -> tuple[type, dict[str, Any]]:
    return SalesOrder.Created, {
        "number": SO, "customer": "C-1", "warehouse": "WH1",
        "lines": list(lines) or [line(1, "10", "2.50")], "currency": currency,
        "requirements": {}, "requested_delivery": date(2025, 4, 1), "promised_date": None,
        "salesperson": "ann", "region": "north", "channel": "api", "external_ref": None,
        "workflow": "standard", "workflow_version": 1, "stage": "created",
        "stage_role": "sales", "sla_due_at": None, "taken_at": None,
    }  # fmt: skip


def approved(reserved: dict[str, str], short: dict[str, str] | None = None) -> Any:
    return SalesOrder.StockAllocated, {
        "reserved": {k: D(v) for k, v in reserved.items()},
        "short": {k: D(v) for k, v in (short or {}).items()},
    }


def submitted() -> Any:
    return SalesOrder.Submitted, {"levels": [], "facts": {}, "policy_version": 1}


def cancelled() -> Any:
    return SalesOrder.Cancelled, {"reason": "customer changed their mind"}


def sales_order(*facts: Any, lines: tuple[dict[str, Any], ...] = ()) -> SalesOrder:
    return given(SalesOrder, SO_ID, created(*lines), *facts)


def refused(order: SalesOrder, command: Callable[[SalesOrder], Any]) -> str:
    before = (order.version, order.status, dict(order.reserved), dict(order.short))
    with pytest.raises(RuleViolation) as error:
        command(order)
    assert order.pending_events == []
    assert (order.version, order.status, dict(order.reserved), dict(order.short)) == before
    return error.value.rule


# -- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "qty", "price", "discount", "expected"),
    [
        # Exactly half a minor unit rounds up (half-even would round these down).
        ("EUR", "1", "0.05", "0.1", "0.05"),  # 0.045
        ("EUR", "0.5", "0.01", "0", "0.01"),  # 0.005
        ("EUR", "3", "0.15", "0.5", "0.23"),  # 0.225
        ("EUR", "3", "1.99", "0.07", "5.55"),  # 5.5521 rounds down
        ("JPY", "1", "5", "0.1", "5"),  # 4.5
        ("JPY", "1", "25", "0.1", "23"),  # 22.5
        ("JPY", "3", "105", "0.05", "299"),  # 299.25
        ("KWD", "1", "0.005", "0.1", "0.005"),  # 0.0045
        ("KWD", "1", "0.025", "0.1", "0.023"),  # 0.0225
        ("KWD", "2", "1.234", "0", "2.468"),
    ],
)
def test_a_line_amount_is_rounded_half_up_to_the_currencys_minor_unit(
    currency: str, qty: str, price: str, discount: str, expected: str
) -> None:
    amount = line_amount(line(1, qty, price, discount), currency)

    assert amount == D(expected)
    assert str(amount) == expected  # exactly the currency's places, no more, no fewer


def test_a_line_amount_keeps_trailing_zeros_to_the_minor_unit() -> None:
    assert str(line_amount(line(1, "2", "5"), "EUR")) == "10.00"
    assert str(line_amount(line(1, "2", "5"), "KWD")) == "10.000"
    assert str(line_amount(line(1, "2", "5"), "JPY")) == "10"


def test_the_total_is_the_sum_of_the_rounded_line_amounts() -> None:
    order = sales_order(
        lines=(line(1, "1", "0.05", "0.1"), line(2, "1", "0.05", "0.1"), line(3, "4", "2.50"))
    )

    # Each line rounds 0.045 up to 0.05 on its own; rounding the sum (0.09) would give 10.09.
    assert order.total == D("10.10")


def test_an_order_in_yen_totals_in_whole_yen() -> None:
    order = given(SalesOrder, SO_ID, created(line(1, "1", "5", "0.1"), line(2, "2", "100"),
                                             currency="JPY"))  # fmt: skip

    assert order.total == D("205")
    assert str(order.total) == "205"


# -- status rules ----------------------------------------------------------------------------


def test_approving_a_created_order_records_what_is_reserved_and_short() -> None:
    order = sales_order(submitted(), lines=(line(1, "10", "2.50"), line(2, "5", "1", sku="SKU-2")))

    events = when(order, lambda o: o.allocate({1: D(10)}, {2: D(5)}, T0))

    assert then(events) == [("StockAllocated", {"reserved": {"1": D(10)}, "short": {"2": D(5)}})]
    assert (order.status, order.reserved, order.short) == ("approved", {"1": D(10)}, {"2": D(5)})


def test_allocating_before_approval_is_refused() -> None:
    order = sales_order()

    assert refused(order, lambda o: o.allocate({1: D(10)}, {}, T0)) == "not-approved"


def test_approving_twice_is_refused() -> None:
    order = sales_order(submitted(), approved({"1": "10"}))

    assert refused(order, lambda o: o.allocate({1: D(10)}, {}, T0)) == "sales-order-status"


def test_approving_a_cancelled_order_is_refused() -> None:
    order = sales_order(cancelled())

    assert refused(order, lambda o: o.allocate({1: D(10)}, {}, T0)) == "sales-order-status"


def test_cancelling_an_approved_order_clears_its_reservations() -> None:
    order = sales_order(approved({"1": "10"}))

    events = when(order, lambda o: o.cancel("no longer needed", T0))

    assert then(events) == [("Cancelled", {"reason": "no longer needed"})]
    assert (order.status, order.reserved) == ("cancelled", {})


def test_cancelling_after_a_cancel_is_refused() -> None:
    order = sales_order(cancelled())

    assert refused(order, lambda o: o.cancel("again", T0)) == "sales-order-status"


def test_amending_a_cancelled_order_is_refused() -> None:
    order = sales_order(cancelled())

    rule = refused(order, lambda o: o.amend([line(1, "1", "1")], None, None, T0))

    assert rule == "sales-order-status"


def test_amending_an_approved_order_sends_it_back_to_created_without_reservations() -> None:
    order = sales_order(
        approved({"1": "10"}, {"2": "5"}),
        lines=(line(1, "10", "2.50"), line(2, "5", "1", sku="SKU-2")),
    )
    new_lines = [line(1, "4", "2.50")]

    order.amend(new_lines, None, date(2025, 5, 1), T0)

    assert (order.submitted, order.approvals) == (False, [])
    assert (order.status, order.reserved, order.short) == ("created", {}, {})
    assert order.lines == new_lines
    assert (order.requested_delivery, order.promised_date) == (date(2025, 4, 1), date(2025, 5, 1))
    assert [type(e).__name__ for e in order.collect_events()] == ["Amended"]


def test_amending_only_dates_keeps_the_lines() -> None:
    order = sales_order()
    before = [dict(x) for x in order.lines]

    order.amend(None, date(2025, 6, 1), None, T0)

    assert order.lines == before
    assert order.requested_delivery == date(2025, 6, 1)


def test_an_external_reference_remembers_its_order() -> None:
    claim = ExternalReference("crm", "X-1", SO)

    assert claim.id == ExternalReference.create_id("crm", "X-1")
    assert claim.id != ExternalReference.create_id("shop", "X-1")
    assert claim.order_number == SO


# -- command validation on the in-memory store ------------------------------------------------


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.register_warehouse(meta(), code_="WH1", name="Main")
    for sku in ("SKU-1", "SKU-2"):
        app.register_product(
            meta(), sku=sku, name=sku, unit="ea", make_or_buy="buy", standard=True,
            list_price="10", standard_cost="4", currency_code="EUR",
        )  # fmt: skip
    app.register_customer(meta(), **customer_args())
    yield app
    app.close()


def customer_args(**overrides: Any) -> dict[str, Any]:
    return {
        "code_": "C-1", "name": "Contoso", "contacts": [{"name": "Eve", "email": "e@x.org"}],
        "billing_address": "1 Bill St", "shipping_address": "2 Ship Rd", "region": "north",
        "payment_terms_days": 30, "credit_limit": "5000", "currency_code": "EUR", **overrides,
    }  # fmt: skip


def order_args(**overrides: Any) -> dict[str, Any]:
    return {
        "customer": "C-1", "warehouse": "WH1", "currency_code": "EUR", "salesperson": "ann",
        "number": SO, "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "9.99"}],
        **overrides,
    }  # fmt: skip


def refused_without_saving(ledger: Ledger, error: type[Exception], call: Any) -> Any:
    head = ledger.head()
    with pytest.raises(error) as raised:
        call()
    assert ledger.head() == head
    return raised.value


def test_a_valid_order_is_stored_with_its_total(ledger: Ledger) -> None:
    outcome = ledger.create_sales_order(meta(), **order_args(requirements={"carrier": "DHL"}))

    assert outcome.result == {
        "number": SO, "status": "created", "stage": "created", "version": 1, "total": "19.98",
        "reserved": {}, "short": {}, "shipped": {}, "awaiting_role": None, "production": [],
        "requisitions": [],
    }  # fmt: skip
    order = ledger.sales_order(SO)
    assert order.region == "north"  # taken from the customer
    assert order.requirements == {"carrier": "DHL"}
    assert order.lines[0]["discount"] == D(0)


@pytest.mark.parametrize(
    ("currency", "price"),
    [("EUR", "9.999"), ("EUR", "0.001"), ("JPY", "100.5"), ("KWD", "1.2345")],
)
def test_a_price_with_more_decimals_than_the_currency_has_is_refused(
    ledger: Ledger, currency: str, price: str
) -> None:
    args = order_args(lines=[{"sku": "SKU-1", "quantity": "1", "unit_price": price}],
                      currency_code=currency)  # fmt: skip

    error = refused_without_saving(
        ledger, InvalidInput, lambda: ledger.create_sales_order(meta(), **args)
    )

    assert currency in error.message


@pytest.mark.parametrize(("currency", "price"), [("JPY", "100"), ("KWD", "1.234"), ("EUR", "9.9")])
def test_a_price_within_the_currencys_decimals_is_accepted(
    ledger: Ledger, currency: str, price: str
) -> None:
    lines = [{"sku": "SKU-1", "quantity": "1", "unit_price": price}]

    ledger.create_sales_order(meta(), **order_args(lines=lines, currency_code=currency))

    assert ledger.sales_order(SO).lines[0]["unit_price"] == D(price)


@pytest.mark.parametrize("discount", ["1", "1.5", "-0.01", "-1", 0.1, "abc"])
def test_a_discount_outside_zero_to_one_is_refused(ledger: Ledger, discount: Any) -> None:
    lines = [{"sku": "SKU-1", "quantity": "1", "unit_price": "10", "discount": discount}]

    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.create_sales_order(meta(), **order_args(lines=lines))
    )


@pytest.mark.parametrize("discount", ["0", "0.999999"])
def test_a_discount_from_zero_up_to_not_including_one_is_accepted(
    ledger: Ledger, discount: str
) -> None:
    lines = [{"sku": "SKU-1", "quantity": "1", "unit_price": "10", "discount": discount}]

    ledger.create_sales_order(meta(), **order_args(lines=lines))

    assert ledger.sales_order(SO).lines[0]["discount"] == D(discount)


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"sku": "SKU-1", "quantity": "0", "unit_price": "1"}],
        [{"sku": "SKU-1", "quantity": "-1", "unit_price": "1"}],
        [{"sku": "SKU-1", "quantity": 1.5, "unit_price": "1"}],
        [{"sku": "SKU-1", "quantity": "1", "unit_price": 9.99}],
        [{"sku": "SKU-1", "quantity": "1", "unit_price": "-1"}],
        [{"sku": "SKU-1", "quantity": "1"}],
    ],
)
def test_malformed_lines_are_refused(ledger: Ledger, lines: list[dict[str, Any]]) -> None:
    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.create_sales_order(meta(), **order_args(lines=lines))
    )


def test_an_unknown_requirement_key_is_refused(ledger: Ledger) -> None:
    error = refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.create_sales_order(
            meta(), **order_args(requirements={"packaging": "crate", "colour": "red"})
        ),
    )  # fmt: skip

    assert "colour" in error.message


@pytest.mark.parametrize("days", [-1, 366, 1000, True, "30", 30.0, None])
def test_payment_terms_outside_zero_to_365_whole_days_are_refused(
    ledger: Ledger, days: Any
) -> None:
    refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.register_customer(
            meta(), **customer_args(code_="C-2", payment_terms_days=days)
        ),
    )  # fmt: skip


@pytest.mark.parametrize("days", [0, 365])
def test_payment_terms_of_zero_and_365_days_are_accepted(ledger: Ledger, days: int) -> None:
    ledger.register_customer(meta(), **customer_args(code_="C-2", payment_terms_days=days))

    assert ledger.customer("C-2").payment_terms_days == days


def test_amending_an_approved_orders_lines_reserves_them_again(ledger: Ledger) -> None:
    ledger.receive_finished_goods(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_="5"
    )
    ledger.create_sales_order(meta(), **order_args())
    ledger.submit_sales_order(meta(), number=SO)
    assert ledger.stock_item("SKU-1", "WH1").reservations == {SO: D(2)}

    result = ledger.amend_sales_order(
        meta(), number=SO, lines=[{"sku": "SKU-1", "quantity": "3", "unit_price": "1"}]
    ).result

    # Nothing the approval rules look at needs approval: the order is approved again and
    # reserved at its new quantity in the same save.
    assert (result["status"], result["reserved"], result["short"]) == ("approved", {"1": "3"}, {})
    item = ledger.stock_item("SKU-1", "WH1")
    assert (item.locked, item.reservations) == (Decimal(3), {SO: D(3)})


def test_an_amendment_that_changes_nothing_is_refused(ledger: Ledger) -> None:
    ledger.create_sales_order(meta(), **order_args())

    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.amend_sales_order(meta(), number=SO)
    )


def test_a_line_worth_more_than_the_largest_amount_is_refused_as_invalid_input(
    ledger: Ledger,
) -> None:
    # Each figure is within its own limit (quantity ≤ 10^12, price ≤ 10^15), but the line is
    # worth 10^27 EUR: more than MAX_AMOUNT and more digits than Decimal's 28-digit context.
    lines = [{"sku": "SKU-1", "quantity": "1000000000000", "unit_price": "1000000000000000"}]

    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.create_sales_order(meta(), **order_args(lines=lines))
    )

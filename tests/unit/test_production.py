"""ProductionOrder and the production, SLA and process-definition commands without a database:
every step by its event, every step out of order by its rule, and every refused command
leaving the log as it was."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import AlreadyExists, InvalidInput, NotFound, RuleViolation, StaleVersion
from domain.ledger import Ledger
from domain.production import (
    CANCELLED,
    COMPLETED,
    MATERIALS_ISSUED,
    QC_FAILED,
    QC_PASSED,
    RECEIVED,
    SCHEDULED,
    ProductionOrder,
)
from domain.sales_orders import SalesOrder
from domain.sla import SlaBreach, sla_breach_id
from domain.workflows import POLICY_ID
from tests.conftest import command_meta as meta
from tests.unit.given import T0, D, Fact, given, then, when

PRD = "PRD-1"
PRD_ID = ProductionOrder.create_id(PRD)


def scheduled(qty: str = "10") -> Fact:
    return ProductionOrder.Scheduled, {
        "number": PRD, "sku": "FG-1", "warehouse": "WH1", "quantity": D(qty),
        "sales_order": None, "line_no": None,
    }  # fmt: skip


def issued(**components: str) -> Fact:
    wanted = components or {"RAW_1": "4"}
    return ProductionOrder.MaterialsIssued, {"components": {k: D(v) for k, v in wanted.items()}}


def completed(qty: str = "10") -> Fact:
    return ProductionOrder.Completed, {"produced": D(qty)}


def qc(passed: bool) -> Fact:
    return ProductionOrder.QcRecorded, {"passed": passed, "notes": "" if passed else "scratched"}


def received(qty: str = "10") -> Fact:
    return ProductionOrder.Received, {"quantity": D(qty)}


def cancelled() -> Fact:
    return ProductionOrder.Cancelled, {"reason": "not needed"}


def production_order(*facts: Fact) -> ProductionOrder:
    return given(ProductionOrder, PRD_ID, scheduled(), *facts)


# The shortest history that leaves a production order in each status.
HISTORY: dict[str, tuple[Fact, ...]] = {
    SCHEDULED: (),
    MATERIALS_ISSUED: (issued(),),
    COMPLETED: (issued(), completed()),
    QC_PASSED: (issued(), completed(), qc(True)),
    QC_FAILED: (issued(), completed(), qc(False)),
    RECEIVED: (issued(), completed(), qc(True), received()),
    CANCELLED: (cancelled(),),
}

# Every step but cancel, and the statuses it is allowed from.
STEPS: dict[str, tuple[Callable[[ProductionOrder], Any], set[str]]] = {
    "issue materials": (lambda p: p.issue_materials({"RAW_1": D(1)}, T0),
                        {SCHEDULED, MATERIALS_ISSUED}),
    "complete": (lambda p: p.complete(D(10), T0), {MATERIALS_ISSUED}),
    "pass qc": (lambda p: p.record_qc(True, "", T0), {COMPLETED}),
    "fail qc": (lambda p: p.record_qc(False, "bent", T0), {COMPLETED}),
    "rework": (lambda p: p.rework("straighten", T0), {QC_FAILED}),
    "receive": (lambda p: p.receive(T0), {QC_PASSED}),
}  # fmt: skip

OUT_OF_ORDER = [
    pytest.param(status, step, id=f"{step}-when-{status}")
    for status, step in itertools.product(HISTORY, STEPS)
    if status not in STEPS[step][1]
]
IN_ORDER = [
    pytest.param(status, step, id=f"{step}-when-{status}")
    for status, step in itertools.product(HISTORY, STEPS)
    if status in STEPS[step][1]
]


def snapshot(order: ProductionOrder) -> tuple[Any, ...]:
    return order.version, order.status, dict(order.materials), order.produced


def refused(order: ProductionOrder, command: Callable[[ProductionOrder], Any]) -> str:
    """Run a step that must be refused; check nothing changed; return the rule."""
    before = snapshot(order)
    with pytest.raises(RuleViolation) as error:
        command(order)
    assert order.pending_events == []
    assert snapshot(order) == before
    return error.value.rule


# -- the aggregate: allowed steps -----------------------------------------------------------


def test_a_new_production_order_is_scheduled_with_nothing_issued_or_produced() -> None:
    order = ProductionOrder(PRD, "FG-1", "WH1", D(10), "SO-1", 2, T0)

    assert then(list(order.collect_events())) == [
        ("Scheduled", {"number": PRD, "sku": "FG-1", "warehouse": "WH1", "quantity": D(10),
                       "sales_order": "SO-1", "line_no": 2}),
    ]  # fmt: skip
    assert (order.id, order.status, order.materials, order.produced) == (
        PRD_ID, SCHEDULED, {}, None,
    )  # fmt: skip


def test_issuing_materials_to_a_scheduled_order_records_the_components() -> None:
    order = production_order()

    events = when(order, lambda p: p.issue_materials({"RAW_1": D(4), "RAW_2": D("0.5")}, T0))

    assert then(events) == [("MaterialsIssued", {"components": {"RAW_1": D(4), "RAW_2": D("0.5")}})]
    assert order.status == MATERIALS_ISSUED
    assert order.materials == {"RAW_1": D(4), "RAW_2": D("0.5")}


def test_issuing_materials_a_second_time_adds_to_what_was_issued() -> None:
    order = production_order(issued(RAW_1="4"))

    events = when(order, lambda p: p.issue_materials({"RAW_1": D(1), "RAW_2": D(2)}, T0))

    assert then(events) == [("MaterialsIssued", {"components": {"RAW_1": D(1), "RAW_2": D(2)}})]
    assert order.status == MATERIALS_ISSUED
    assert order.materials == {"RAW_1": D(5), "RAW_2": D(2)}


def test_the_recorded_components_are_a_copy_of_what_the_caller_passed() -> None:
    order = production_order()
    components = {"RAW_1": D(4)}

    events = when(order, lambda p: p.issue_materials(components, T0))
    components["RAW_1"] = D(99)

    assert then(events) == [("MaterialsIssued", {"components": {"RAW_1": D(4)}})]
    assert order.materials == {"RAW_1": D(4)}


def test_completing_records_the_quantity_produced() -> None:
    order = production_order(issued())

    events = when(order, lambda p: p.complete(D("9.5"), T0))

    assert then(events) == [("Completed", {"produced": D("9.5")})]
    assert (order.status, order.produced) == (COMPLETED, D("9.5"))


def test_passing_quality_control_records_the_verdict_and_notes() -> None:
    order = production_order(issued(), completed())

    events = when(order, lambda p: p.record_qc(True, "all good", T0))

    assert then(events) == [("QcRecorded", {"passed": True, "notes": "all good"})]
    assert (order.status, order.produced) == (QC_PASSED, D(10))


def test_failing_quality_control_records_the_verdict_and_notes() -> None:
    order = production_order(issued(), completed())

    events = when(order, lambda p: p.record_qc(False, "scratched", T0))

    assert then(events) == [("QcRecorded", {"passed": False, "notes": "scratched"})]
    assert (order.status, order.produced) == (QC_FAILED, D(10))


def test_rework_sends_failed_goods_back_with_their_materials_and_clears_what_was_produced() -> None:
    order = production_order(issued(RAW_1="4"), completed(), qc(False))

    events = when(order, lambda p: p.rework("polish", T0))

    assert then(events) == [("Reworked", {"reason": "polish"})]
    assert (order.status, order.produced) == (MATERIALS_ISSUED, None)
    assert order.materials == {"RAW_1": D(4)}


def test_receiving_passed_goods_records_and_returns_the_quantity_produced() -> None:
    order = production_order(issued(), completed("8"), qc(True))
    returned: list[Decimal] = []

    events = when(order, lambda p: returned.append(p.receive(T0)))

    assert returned == [D(8)]
    assert then(events) == [("Received", {"quantity": D(8)})]
    assert order.status == RECEIVED


def test_cancelling_a_scheduled_order_records_the_reason() -> None:
    order = production_order()

    events = when(order, lambda p: p.cancel("customer cancelled", T0))

    assert then(events) == [("Cancelled", {"reason": "customer cancelled"})]
    assert order.status == CANCELLED


def test_the_whole_life_through_a_failed_qc_and_rework_ends_received() -> None:
    order = ProductionOrder(PRD, "FG-1", "WH1", D(10), None, None, T0)
    order.issue_materials({"RAW_1": D(3)}, T0)
    order.issue_materials({"RAW_1": D(1)}, T0)
    order.complete(D(10), T0)
    order.record_qc(False, "cracked", T0)
    order.rework("reglue", T0)
    order.issue_materials({"RAW_2": D(2)}, T0)
    order.complete(D(9), T0)
    order.record_qc(True, "", T0)

    assert order.receive(T0) == D(9)

    events = list(order.collect_events())
    assert [type(e).__name__ for e in events] == [
        "Scheduled", "MaterialsIssued", "MaterialsIssued", "Completed", "QcRecorded",
        "Reworked", "MaterialsIssued", "Completed", "QcRecorded", "Received",
    ]  # fmt: skip
    assert (order.status, order.produced) == (RECEIVED, D(9))
    assert order.materials == {"RAW_1": D(4), "RAW_2": D(2)}
    replayed: Any = None
    for recorded in events:
        replayed = recorded.mutate(replayed)
    assert snapshot(replayed) == snapshot(order)


@pytest.mark.parametrize(("status", "step"), IN_ORDER)
def test_every_allowed_step_records_exactly_one_event(status: str, step: str) -> None:
    order = production_order(*HISTORY[status])

    events = when(order, STEPS[step][0])

    assert len(events) == 1
    assert order.version == len(HISTORY[status]) + 2


# -- the aggregate: steps out of order -------------------------------------------------------


@pytest.mark.parametrize("status", list(HISTORY))
def test_each_history_leaves_the_order_in_its_status(status: str) -> None:
    assert production_order(*HISTORY[status]).status == status


@pytest.mark.parametrize(("status", "step"), OUT_OF_ORDER)
def test_every_step_out_of_order_is_refused_and_records_nothing(status: str, step: str) -> None:
    order = production_order(*HISTORY[status])

    assert refused(order, STEPS[step][0]) == "production-order-status"


@pytest.mark.parametrize(
    "status", [s for s in HISTORY if s not in (SCHEDULED, RECEIVED, CANCELLED)]
)
def test_cancelling_once_production_has_started_is_refused(status: str) -> None:
    order = production_order(*HISTORY[status])

    assert refused(order, lambda p: p.cancel("too late", T0)) == "production-started"


@pytest.mark.parametrize("status", [RECEIVED, CANCELLED])
def test_cancelling_a_received_or_cancelled_production_order_is_a_status_refusal(
    status: str,
) -> None:
    order = production_order(*HISTORY[status])

    assert refused(order, lambda p: p.cancel("again", T0)) == "production-order-status"


# -- commands on the in-memory store ------------------------------------------------------------


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.register_warehouse(meta(), code_="WH1", name="Main")
    app.register_warehouse(meta(), code_="WH2", name="Overflow")
    for sku, make_or_buy in (("FG-1", "make"), ("RAW-1", "buy"), ("RAW-2", "buy")):
        app.register_product(
            meta(), sku=sku, name=sku, unit="ea", make_or_buy=make_or_buy, standard=True,
            list_price="10", standard_cost="4", currency_code="EUR",
        )  # fmt: skip
    app.register_customer(
        meta(), code_="C-1", name="Contoso", contacts=[{"name": "Eve", "email": "e@x.org"}],
        billing_address="1 Bill St", shipping_address="2 Ship Rd", region="north",
        payment_terms_days=30, credit_limit="5000", currency_code="EUR",
    )  # fmt: skip
    for sku, qty in (("RAW-1", "10"), ("RAW-2", "4")):
        app.receive_finished_goods(
            meta(), sku=sku, warehouse="WH1", production_ref="SEED", quantity_=qty
        )
    yield app
    app.close()


def schedule(ledger: Ledger, **overrides: Any) -> Any:
    args: dict[str, Any] = {"sku": "FG-1", "warehouse": "WH1", "quantity_": "5", "number": PRD,
                            **overrides}  # fmt: skip
    return ledger.create_production_order(meta(), **args)


def refused_without_saving(ledger: Ledger, error: type[Exception], call: Any) -> Any:
    head = ledger.head()
    with pytest.raises(error) as raised:
        call()
    assert ledger.head() == head
    return raised.value


def saved_since(ledger: Ledger, head: int) -> list[str]:
    """What was stored after `head`, as `Aggregate.Event` names."""
    return [n.topic.split(":")[-1] for n in ledger.notification_log.select(head + 1, 10)]


def physical(ledger: Ledger, sku: str) -> Decimal:
    return ledger.stock_item(sku, "WH1").physical


def to_qc(ledger: Ledger) -> None:
    """Schedule PRD-1 (5 of FG-1), issue 2 RAW-1 to it and complete it."""
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})
    ledger.complete_production(meta(), number=PRD)


# -- create_production_order --


def test_a_production_order_for_a_make_item_is_stored_scheduled(ledger: Ledger) -> None:
    head = ledger.head()

    outcome = schedule(ledger, quantity_="5.25")

    assert outcome.result == {
        "number": PRD, "sku": "FG-1", "warehouse": "WH1", "quantity": "5.25", "produced": None,
        "status": "scheduled", "sales_order": None, "line_no": None, "materials": {},
        "version": 1,
    }  # fmt: skip
    assert saved_since(ledger, head) == ["ProductionOrder.Scheduled"]
    assert ledger.production_order(PRD).quantity == D("5.25")


def test_a_production_order_without_a_number_gets_one(ledger: Ledger) -> None:
    number = schedule(ledger, number=None).result["number"]

    assert number.startswith("PRD-")
    assert ledger.production_order(number).status == SCHEDULED


def test_a_production_order_for_a_buy_item_is_refused(ledger: Ledger) -> None:
    error = refused_without_saving(ledger, RuleViolation, lambda: schedule(ledger, sku="RAW-1"))

    assert error.rule == "not-a-make-item"


@pytest.mark.parametrize(
    "overrides", [{"sku": "NOPE-1"}, {"warehouse": "WH9"}], ids=["unknown-sku", "unknown-warehouse"]
)
def test_a_production_order_for_an_unknown_sku_or_warehouse_is_not_found(
    ledger: Ledger, overrides: dict[str, str]
) -> None:
    refused_without_saving(ledger, NotFound, lambda: schedule(ledger, **overrides))


@pytest.mark.parametrize(
    "qty",
    ["0", "-1", "0.0000001", "1000000000001", 1.5, "abc", "NaN", True],
    ids=["zero", "negative", "seven-places", "too-large", "float", "word", "nan", "bool"],
)
def test_a_production_order_for_a_bad_quantity_is_invalid_input(ledger: Ledger, qty: Any) -> None:
    refused_without_saving(ledger, InvalidInput, lambda: schedule(ledger, quantity_=qty))


def test_a_production_order_with_a_malformed_number_is_invalid_input(ledger: Ledger) -> None:
    refused_without_saving(ledger, InvalidInput, lambda: schedule(ledger, number="PRD 1"))


def test_a_production_order_number_can_only_be_used_once(ledger: Ledger) -> None:
    schedule(ledger)

    refused_without_saving(ledger, AlreadyExists, lambda: schedule(ledger, quantity_="7"))
    assert ledger.production_order(PRD).quantity == D(5)


# -- issue_production_materials --


def test_issuing_materials_takes_every_component_out_of_stock_in_the_same_save(
    ledger: Ledger,
) -> None:
    schedule(ledger)
    head = ledger.head()
    saves: list[int] = []
    ledger.save_listeners.append(saves.append)

    outcome = ledger.issue_production_materials(
        meta(), number=PRD, components={"RAW-2": "1.5", "RAW-1": "4"}
    )

    assert saves == [outcome.position]  # one save
    assert sorted(saved_since(ledger, head)) == [
        "ProductionOrder.MaterialsIssued", "StockItem.MaterialIssued", "StockItem.MaterialIssued",
    ]  # fmt: skip
    assert outcome.position == ledger.head()
    assert (outcome.result["status"], outcome.result["materials"]) == (
        "materials_issued", {"RAW-2": "1.5", "RAW-1": "4"},
    )  # fmt: skip
    assert (physical(ledger, "RAW-1"), physical(ledger, "RAW-2")) == (D(6), D("2.5"))


def test_issuing_materials_twice_sums_them_on_the_order(ledger: Ledger) -> None:
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "4"})

    result = ledger.issue_production_materials(
        meta(), number=PRD, components={"RAW-1": "1", "RAW-2": "2"}
    ).result

    assert result["materials"] == {"RAW-1": "5", "RAW-2": "2"}
    assert (physical(ledger, "RAW-1"), physical(ledger, "RAW-2")) == (D(5), D(2))


@pytest.mark.parametrize(
    "components",
    [
        {},
        [("RAW-1", "1")],
        {"RAW-1": "0"},
        {"RAW-1": "-1"},
        {"RAW-1": 1.5},
        {"RAW-1": "0.0000001"},
        {"RAW 1": "1"},
        {f"RAW-{n}": "1" for n in range(201)},
    ],
    ids=["empty", "not-a-mapping", "zero", "negative", "float", "seven-places", "bad-sku",
         "too-many"],
)  # fmt: skip
def test_issuing_malformed_components_is_invalid_input(ledger: Ledger, components: Any) -> None:
    schedule(ledger)

    refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.issue_production_materials(meta(), number=PRD, components=components),
    )  # fmt: skip


def test_issuing_more_of_a_component_than_is_available_stores_nothing(ledger: Ledger) -> None:
    schedule(ledger)

    # RAW-1 has enough; RAW-2 (4 in stock) does not: neither leaves stock.
    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.issue_production_materials(
            meta(), number=PRD, components={"RAW-1": "3", "RAW-2": "4.000001"}
        ),
    )  # fmt: skip

    assert error.rule == "material-issue-exceeds-available"
    assert ledger.production_order(PRD).status == SCHEDULED
    assert (physical(ledger, "RAW-1"), physical(ledger, "RAW-2")) == (D(10), D(4))


def test_reserved_stock_cannot_be_issued_as_material(ledger: Ledger) -> None:
    schedule(ledger)
    ledger.reserve(meta(), sku="RAW-2", warehouse="WH1", order_ref="SO-9", quantity_="3")

    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.issue_production_materials(meta(), number=PRD, components={"RAW-2": "2"}),
    )  # fmt: skip

    assert error.rule == "material-issue-exceeds-available"


def test_issuing_a_component_never_stocked_in_the_warehouse_is_not_found(ledger: Ledger) -> None:
    schedule(ledger, warehouse="WH2")  # RAW-1 is stocked in WH1 only

    refused_without_saving(
        ledger, NotFound,
        lambda: ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "1"}),
    )  # fmt: skip


def test_issuing_a_component_that_is_not_a_product_is_not_found(ledger: Ledger) -> None:
    schedule(ledger)

    refused_without_saving(
        ledger, NotFound,
        lambda: ledger.issue_production_materials(meta(), number=PRD, components={"NOPE": "1"}),
    )  # fmt: skip


def test_issuing_materials_to_an_unknown_production_order_is_not_found(ledger: Ledger) -> None:
    refused_without_saving(
        ledger, NotFound,
        lambda: ledger.issue_production_materials(meta(), number="PRD-9",
                                                  components={"RAW-1": "1"}),
    )  # fmt: skip


def test_issuing_materials_to_a_completed_order_is_refused_and_takes_no_stock(
    ledger: Ledger,
) -> None:
    to_qc(ledger)

    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "1"}),
    )  # fmt: skip

    assert error.rule == "production-order-status"
    assert physical(ledger, "RAW-1") == D(8)


# -- complete_production, record_production_qc, rework_production --


def test_completing_without_a_quantity_produces_the_planned_quantity(ledger: Ledger) -> None:
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})

    result = ledger.complete_production(meta(), number=PRD).result

    assert (result["status"], result["produced"]) == ("completed", "5")


def test_completing_with_a_quantity_records_what_was_made(ledger: Ledger) -> None:
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})

    result = ledger.complete_production(meta(), number=PRD, produced="4.5").result

    assert (result["status"], result["produced"]) == ("completed", "4.5")


@pytest.mark.parametrize("produced", ["0", "-2", 4.5])
def test_completing_with_a_bad_quantity_is_invalid_input(ledger: Ledger, produced: Any) -> None:
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})

    refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.complete_production(meta(), number=PRD, produced=produced),
    )  # fmt: skip


def test_completing_before_materials_are_issued_is_refused(ledger: Ledger) -> None:
    schedule(ledger)

    error = refused_without_saving(
        ledger, RuleViolation, lambda: ledger.complete_production(meta(), number=PRD)
    )

    assert error.rule == "production-order-status"


@pytest.mark.parametrize("notes", ["", "   \n"], ids=["empty", "blank"])
def test_failing_quality_control_without_notes_is_invalid_input(ledger: Ledger, notes: str) -> None:
    to_qc(ledger)

    refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.record_production_qc(meta(), number=PRD, passed=False, notes=notes),
    )  # fmt: skip
    assert ledger.production_order(PRD).status == COMPLETED


def test_failing_quality_control_with_notes_is_stored(ledger: Ledger) -> None:
    to_qc(ledger)

    result = ledger.record_production_qc(meta(), number=PRD, passed=False, notes="dented").result

    assert result["status"] == "qc_failed"


def test_passing_quality_control_needs_no_notes(ledger: Ledger) -> None:
    to_qc(ledger)

    assert ledger.record_production_qc(meta(), number=PRD, passed=True).result["status"] == (
        "qc_passed"
    )


@pytest.mark.parametrize("passed", ["yes", 1, None])
def test_a_quality_verdict_that_is_not_true_or_false_is_invalid_input(
    ledger: Ledger, passed: Any
) -> None:
    to_qc(ledger)

    refused_without_saving(
        ledger, InvalidInput,
        lambda: ledger.record_production_qc(meta(), number=PRD, passed=passed, notes="x"),
    )  # fmt: skip


def test_quality_control_before_completion_is_refused(ledger: Ledger) -> None:
    schedule(ledger)

    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.record_production_qc(meta(), number=PRD, passed=True),
    )  # fmt: skip

    assert error.rule == "production-order-status"


def test_reworking_failed_goods_sends_them_back_to_materials_issued(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=False, notes="dented")

    result = ledger.rework_production(meta(), number=PRD, reason="beat it flat").result

    assert (result["status"], result["produced"], result["materials"]) == (
        "materials_issued", None, {"RAW-1": "2"},
    )  # fmt: skip


def test_reworking_needs_a_reason(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=False, notes="dented")

    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.rework_production(meta(), number=PRD, reason=" ")
    )


def test_reworking_goods_that_passed_is_refused(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=True)

    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.rework_production(meta(), number=PRD, reason="again"),
    )  # fmt: skip

    assert error.rule == "production-order-status"


# -- receive_production, cancel_production_order --


def test_receiving_passed_goods_puts_what_was_produced_into_stock(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=True)
    head = ledger.head()

    result = ledger.receive_production(meta(), number=PRD).result

    assert result["status"] == "received"
    # FG-1 had no stock item yet: the receipt opens it in the same save.
    assert saved_since(ledger, head) == [
        "ProductionOrder.Received", "StockItem.Opened", "StockItem.FinishedGoodsReceived",
    ]  # fmt: skip
    item = ledger.stock_item("FG-1", "WH1")
    assert (item.physical, item.available, item.reservations) == (D(5), D(5), {})


def test_receiving_adds_the_quantity_actually_produced_to_existing_stock(ledger: Ledger) -> None:
    ledger.receive_finished_goods(
        meta(), sku="FG-1", warehouse="WH1", production_ref="OLD", quantity_="1"
    )
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})
    ledger.complete_production(meta(), number=PRD, produced="3")
    ledger.record_production_qc(meta(), number=PRD, passed=True)

    ledger.receive_production(meta(), number=PRD)

    assert physical(ledger, "FG-1") == D(4)


def test_receiving_twice_is_refused(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=True)
    ledger.receive_production(meta(), number=PRD)

    error = refused_without_saving(
        ledger, RuleViolation, lambda: ledger.receive_production(meta(), number=PRD)
    )

    assert error.rule == "production-order-status"
    assert physical(ledger, "FG-1") == D(5)


def test_receiving_failed_goods_is_refused(ledger: Ledger) -> None:
    to_qc(ledger)
    ledger.record_production_qc(meta(), number=PRD, passed=False, notes="dented")

    error = refused_without_saving(
        ledger, RuleViolation, lambda: ledger.receive_production(meta(), number=PRD)
    )

    assert error.rule == "production-order-status"


def test_cancelling_a_scheduled_production_order_is_stored(ledger: Ledger) -> None:
    schedule(ledger)

    result = ledger.cancel_production_order(meta(), number=PRD, reason="not needed").result

    assert result["status"] == "cancelled"


def test_cancelling_once_materials_are_issued_is_refused(ledger: Ledger) -> None:
    schedule(ledger)
    ledger.issue_production_materials(meta(), number=PRD, components={"RAW-1": "2"})

    error = refused_without_saving(
        ledger, RuleViolation,
        lambda: ledger.cancel_production_order(meta(), number=PRD, reason="changed my mind"),
    )  # fmt: skip

    assert error.rule == "production-started"


def test_production_for_a_short_order_line_moves_the_order_and_is_reserved_for_it(
    ledger: Ledger,
) -> None:
    ledger.create_sales_order(
        meta(), customer="C-1", warehouse="WH1", currency_code="EUR", salesperson="ann",
        number="SO-1", lines=[{"sku": "FG-1", "quantity": "3", "unit_price": "9.99"}],
    )  # fmt: skip
    ledger.submit_sales_order(meta(), number="SO-1")
    number = "PRD-SO-1-L1-1"
    assert ledger.production_order(number).sales_order == "SO-1"
    assert ledger.sales_order("SO-1").stage == "production_scheduled"

    ledger.issue_production_materials(meta(), number=number, components={"RAW-1": "2"})
    ledger.complete_production(meta(), number=number)
    assert ledger.sales_order("SO-1").stage == "production_complete"
    ledger.record_production_qc(meta(), number=number, passed=True)
    assert ledger.sales_order("SO-1").stage == "qc_passed"
    ledger.receive_production(meta(), number=number)

    order = ledger.sales_order("SO-1")
    assert (order.reserved, order.short) == ({"1": D(3)}, {})
    assert order.production == {number: {"line_no": 1, "status": "received"}}
    assert ledger.stock_item("FG-1", "WH1").reservations == {"SO-1": D(3)}


# -- record_sla_breach --

DUE = T0 + timedelta(hours=24)  # the standard workflow gives "created" 24 hours
SO_ID = SalesOrder.create_id("SO-1")


@pytest.fixture
def late_order(ledger: Ledger) -> Ledger:
    """SO-1, created at T0 and still in its first stage."""
    ledger.create_sales_order(
        meta(at=T0), customer="C-1", warehouse="WH1", currency_code="EUR", salesperson="ann",
        number="SO-1", lines=[{"sku": "RAW-1", "quantity": "1", "unit_price": "9.99"}],
    )  # fmt: skip
    order = ledger.sales_order("SO-1")
    assert (order.stage, order.sla_due_at) == ("created", DUE)
    return ledger


def breach(ledger: Ledger, at: datetime, stage: str = "created", due: datetime = DUE) -> Any:
    return ledger.record_sla_breach(meta(at=at), number="SO-1", stage=stage, due_at=due)


def test_a_late_order_has_its_breach_recorded(late_order: Ledger) -> None:
    detected = DUE + timedelta(hours=1)

    outcome = breach(late_order, detected)

    assert outcome.result == {"number": "SO-1", "stage": "created", "due_at": DUE}
    recorded = late_order.repository.get(sla_breach_id(SO_ID, "created", DUE))
    assert isinstance(recorded, SlaBreach)
    assert (recorded.order_id, recorded.stage, recorded.due_at) == (SO_ID, "created", DUE)
    assert (recorded.number, recorded.role, recorded.detected_at) == ("SO-1", "sales", detected)


def test_an_order_is_late_from_the_moment_it_is_due(late_order: Ledger) -> None:
    assert breach(late_order, DUE).result["due_at"] == DUE


def test_a_breach_is_recorded_once_per_stage_entry(late_order: Ledger) -> None:
    breach(late_order, DUE + timedelta(hours=1))

    refused_without_saving(
        late_order, AlreadyExists, lambda: breach(late_order, DUE + timedelta(hours=2))
    )


def test_an_order_not_yet_due_has_no_breach(late_order: Ledger) -> None:
    error = refused_without_saving(
        late_order, RuleViolation, lambda: breach(late_order, DUE - timedelta(seconds=1))
    )

    assert error.rule == "sla-not-due"


@pytest.mark.parametrize(
    ("stage", "due"),
    [("approved", DUE), ("created", DUE + timedelta(minutes=1))],
    ids=["other-stage", "other-due-time"],
)
def test_a_breach_read_from_a_stale_row_is_refused(
    late_order: Ledger, stage: str, due: datetime
) -> None:
    error = refused_without_saving(
        late_order, RuleViolation,
        lambda: breach(late_order, DUE + timedelta(days=2), stage=stage, due=due),
    )  # fmt: skip

    assert error.rule == "sla-stale"


def test_an_order_that_moved_on_has_no_breach_in_its_old_stage(late_order: Ledger) -> None:
    late_order.submit_sales_order(meta(at=T0 + timedelta(hours=1)), number="SO-1")

    error = refused_without_saving(
        late_order, RuleViolation, lambda: breach(late_order, DUE + timedelta(hours=1))
    )

    assert error.rule == "sla-stale"


def test_a_breach_of_an_unknown_order_is_not_found(ledger: Ledger) -> None:
    refused_without_saving(ledger, NotFound, lambda: breach(ledger, DUE))


def test_a_due_time_without_a_time_zone_is_invalid_input(late_order: Ledger) -> None:
    naive = DUE.replace(tzinfo=None)

    refused_without_saving(late_order, InvalidInput, lambda: breach(late_order, DUE, due=naive))


def test_the_same_due_time_at_another_offset_is_the_same_breach(late_order: Ledger) -> None:
    breach(late_order, DUE + timedelta(hours=1))
    same_instant = DUE.astimezone(timezone(timedelta(hours=1)))

    refused_without_saving(
        late_order, AlreadyExists,
        lambda: breach(late_order, DUE + timedelta(hours=2), due=same_instant),
    )  # fmt: skip


# -- publish_workflow --


def definition(**changes: Any) -> dict[str, Any]:
    """created → approved (reserves) → done."""
    found: dict[str, Any] = {
        "name": "simple", "initial": "created",
        "stages": [
            {"key": "created", "role": "sales", "sla_hours": 24},
            {"key": "approved", "role": "warehouse", "sla_hours": 4,
             "on_enter": ["reserve_stock"]},
            {"key": "done", "role": "sales", "sla_hours": None},
        ],
        "transitions": [
            {"from": "created", "to": "approved", "on": "approved"},
            {"from": "approved", "to": "done", "on": "shipped"},
        ],
    }  # fmt: skip
    found.update(changes)
    return found


def test_publishing_a_new_workflow_stores_version_one(ledger: Ledger) -> None:
    result = ledger.publish_workflow(meta(), definition=definition()).result

    assert (result["name"], result["version"], result["aggregate_version"]) == ("simple", 1, 1)
    assert result["definition"]["initial"] == "created"
    assert ledger.workflow_definition("simple").latest == 1


def test_publishing_again_at_the_current_version_adds_a_version(ledger: Ledger) -> None:
    ledger.publish_workflow(meta(), definition=definition())

    result = ledger.publish_workflow(
        meta(), definition=definition(description="v2"), expected_version=1
    ).result

    assert (result["version"], result["aggregate_version"]) == (2, 2)
    assert result["definition"]["description"] == "v2"


def test_expected_version_zero_creates_a_workflow_that_is_new(ledger: Ledger) -> None:
    result = ledger.publish_workflow(meta(), definition=definition(), expected_version=0).result

    assert result["version"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        None,
        definition(initial="nowhere"),
        definition(stages=[]),
        definition(colour="red"),
        definition(transitions=[{"from": "created", "to": "done", "on": "teleported"}]),
    ],
    ids=["not-an-object", "unknown-initial", "no-stages", "unknown-field", "unknown-trigger"],
)
def test_publishing_an_invalid_workflow_stores_nothing(ledger: Ledger, raw: Any) -> None:
    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.publish_workflow(meta(), definition=raw)
    )


def test_expected_version_zero_on_an_existing_workflow_already_exists(ledger: Ledger) -> None:
    ledger.publish_workflow(meta(), definition=definition())

    refused_without_saving(
        ledger, AlreadyExists,
        lambda: ledger.publish_workflow(meta(), definition=definition(), expected_version=0),
    )  # fmt: skip
    assert ledger.workflow_definition("simple").latest == 1


@pytest.mark.parametrize("expected", [1, 3])
def test_a_stale_expected_version_of_a_workflow_is_refused(ledger: Ledger, expected: int) -> None:
    ledger.publish_workflow(meta(), definition=definition())
    ledger.publish_workflow(meta(), definition=definition(description="v2"))

    error = refused_without_saving(
        ledger, StaleVersion,
        lambda: ledger.publish_workflow(
            meta(), definition=definition(), expected_version=expected
        ),
    )  # fmt: skip

    assert error.current_version == 2


def test_an_expected_version_of_a_workflow_that_does_not_exist_is_not_found(
    ledger: Ledger,
) -> None:
    refused_without_saving(
        ledger, NotFound,
        lambda: ledger.publish_workflow(meta(), definition=definition(), expected_version=1),
    )  # fmt: skip


# -- publish_approval_policy --

POLICY = {"rules": [{"name": "big", "when": {"amount_over": "1000"}, "levels": ["manager"]}]}


def test_publishing_the_first_approval_policy_stores_version_one(ledger: Ledger) -> None:
    result = ledger.publish_approval_policy(meta(), policy=POLICY).result

    assert result["version"] == 1
    assert result["policy"]["rules"] == [
        {"name": "big", "when": {"amount_over": D(1000)}, "levels": ["manager"]}
    ]
    assert ledger.repository.get(POLICY_ID).latest == 1


def test_publishing_an_approval_policy_at_its_current_version_adds_a_version(
    ledger: Ledger,
) -> None:
    ledger.publish_approval_policy(meta(), policy=POLICY)

    result = ledger.publish_approval_policy(meta(), policy={"rules": []}, expected_version=1)

    assert (result.result["version"], result.result["policy"]["rules"]) == (2, [])


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"rules": "all"},
        {"rules": [], "colour": "red"},
        {"rules": [{"name": "x", "when": {}, "levels": ["manager"]}]},
        {"rules": [{"name": "x", "when": {"amount_over": "-1"}, "levels": ["manager"]}]},
        {"rules": [{"name": "x", "when": {"non_standard": True}, "levels": ["nobody"]}]},
        {"rules": [{"name": "x", "when": {"non_standard": True}, "levels": []}]},
        {"rules": [{"name": "x", "when": {"currency": "EUR"}, "levels": ["manager"]}]},
        {"rules": [{"name": "x", "when": {"non_standard": True}, "levels": ["manager"]},
                   {"name": "x", "when": {"non_standard": True}, "levels": ["finance"]}]},
    ],
    ids=["not-an-object", "rules-not-a-list", "unknown-field", "no-conditions",
         "negative-amount", "unknown-role", "no-levels", "currency-alone", "duplicate-name"],
)  # fmt: skip
def test_publishing_an_invalid_approval_policy_stores_nothing(ledger: Ledger, raw: Any) -> None:
    refused_without_saving(
        ledger, InvalidInput, lambda: ledger.publish_approval_policy(meta(), policy=raw)
    )
    assert ledger.approval_policy() is None


def test_a_stale_expected_version_of_the_approval_policy_is_refused(ledger: Ledger) -> None:
    ledger.publish_approval_policy(meta(), policy=POLICY)
    ledger.publish_approval_policy(meta(), policy={"rules": []})

    error = refused_without_saving(
        ledger, StaleVersion,
        lambda: ledger.publish_approval_policy(meta(), policy=POLICY, expected_version=1),
    )  # fmt: skip

    assert error.current_version == 2


def test_an_expected_version_other_than_zero_without_a_policy_is_refused(ledger: Ledger) -> None:
    refused_without_saving(
        ledger, StaleVersion,
        lambda: ledger.publish_approval_policy(meta(), policy=POLICY, expected_version=5),
    )  # fmt: skip

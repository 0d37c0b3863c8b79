"""A state machine over sales orders, their production and stock on a real SQLite ledger.

Orders go through the whole lifecycle under the default workflow and an approval policy that
asks 0, 1 or 2 levels depending on the order's amount: create, submit, approve (as the right
role or not), reject, amend lines or dates, cancel, reserve shortages, ship part of what is
reserved, confirm deliveries, complete by hand; short make lines get production orders that
are driven through materials, completion, QC (pass or fail), rework and receipt; stock is
received for a few make and buy SKUs.

Each command's outcome is predicted from the ledger's state before it; a refusal must store
nothing. Invariants, after every step, read from the ledger:
  * per order line: 0 ≤ shipped ≤ reserved ≤ ordered (reserved counts everything ever
    reserved for the line, shipped part included, so what is still held = reserved − shipped),
    and for an allocated order reserved + short = ordered (no line short and fully reserved);
  * per stock item: physical ≥ 0, locked = Σ reservations ≥ 0, available = physical − locked
    ≥ 0, and its reservation for each order = Σ (reserved − shipped) over that order's lines
    of the SKU (so zero for a cancelled, created, shipped or delivered order);
  * status and stage agree under the default workflow, and so do shipments and deliveries;
  * an order's view of its production orders matches them, and a requisition raised for a
    line stays open only while the line is short;
  * an approval (first, or again after the lines changed) routes every short line to a new
    production order (make) or requisition (buy);
and, whenever the read models are checked: the orders read model, caught up in small pages,
equals the aggregates (and at teardown a rebuild from the log, row for row, timeline
included); the inventory read model's four dimensions equal the stock items'; a fresh
application replays the same aggregates as the cached one.

The plain tests at the end pin what the machine found, as minimal examples.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from api.runtime import open_runtime
from domain.commands_sales import requisition_for_order_id
from domain.exceptions import DomainError
from domain.ledger import Ledger
from domain.production import ProductionOrder
from domain.requisitions import OPEN, PurchaseRequisition
from domain.sales_orders import SHIPPABLE, SalesOrder
from domain.stock_items import StockItem
from tests.conftest import command_meta as meta
from tests.conftest import make_settings

D = Decimal
ZERO = D(0)
WH = "WH1"
PRODUCTS = {"MAKE-1": "make", "MAKE-2": "make", "BUY-1": "buy"}
SKUS = tuple(PRODUCTS)
PRICE = D(10)
OPEN_ORDERS = 3  # a few orders at a time, so that they get far
POLICY = {
    "rules": [
        {"name": "over 40", "when": {"amount_over": "40"}, "levels": ["sales_director"]},
        {
            "name": "over 120",
            "when": {"amount_over": "120"},
            "levels": ["sales_director", "finance"],
        },
    ]
}
DEAD = ("cancelled", "detached")  # an order's production entries that no longer count
ALLOCATED = ("approved", "partially_shipped", "shipped", "delivered")
# Where each status may stand in the default workflow.
STAGES_OF = {
    "created": {"created", "awaiting_approval"},
    "approved": {"stock_confirmed", "production_scheduled", "production_complete", "qc_passed"},
    "partially_shipped": {
        "stock_confirmed", "production_scheduled", "production_complete", "qc_passed",
    },
    "shipped": {"shipped"},
    "delivered": {"delivered", "completed"},
    "cancelled": {"cancelled"},
}  # fmt: skip

skus = st.sampled_from(SKUS)
line_quantities = st.sampled_from(["1", "2", "2.5", "4", "6"]).map(D)
stock_quantities = st.sampled_from(["1", "3", "5", "10"]).map(D)
order_lines = st.lists(st.tuples(skus, line_quantities), min_size=1, max_size=3)
picks = st.integers(0, 999)
acting = st.sampled_from(["wanted", "wanted", "wanted", "sales_director", "finance", "sales"])
portions = st.sampled_from(["all", "all", "half", "one", "skip", "over"])


def event(label: str) -> None:
    """Count what happened in Hypothesis's statistics (steps also run outside a test)."""
    if currently_in_test_context():
        hypothesis_event(label)


def lines_payload(lines: list[tuple[str, Decimal]]) -> list[dict[str, str]]:
    return [{"sku": sku, "quantity": str(qty), "unit_price": str(PRICE)} for sku, qty in lines]


def held_per_sku(order: SalesOrder) -> dict[str, Decimal]:
    """What the order still holds per SKU: Σ (reserved − shipped) over its lines."""
    held: dict[str, Decimal] = {}
    for line in order.lines:
        key = str(line["line_no"])
        rest = order.reserved.get(key, ZERO) - order.shipped.get(key, ZERO)
        held[line["sku"]] = held.get(line["sku"], ZERO) + rest
    return held


def shippable(order: SalesOrder) -> bool:
    return order.status in SHIPPABLE and any(
        order.shippable(line["line_no"]) > 0 for line in order.lines
    )


def undelivered(order: SalesOrder) -> bool:
    return any(shipment["delivered"] is None for shipment in order.shipments.values())


def order_state(order: SalesOrder) -> tuple[Any, ...]:
    return (
        order.version, order.status, order.stage, order.stage_role, order.lines,
        order.reserved, order.short, order.shipped, order.shipments, order.submitted,
        order.levels, order.approvals, order.production, order.requisitions,
    )  # fmt: skip


class OrderLifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="order-machine-"))
        # Small pages: catching up splits an order's events over several pages (its row is
        # written and read back in between), unlike the rebuild it is compared with.
        self.settings = make_settings("sqlite", self.directory, projection_page_size=16)
        self.runtime = open_runtime(self.settings, start_projections=False)
        self.ledger: Ledger = self.runtime.ledger
        self.ledger.register_warehouse(meta(), code_=WH, name=WH)
        for sku, make_or_buy in PRODUCTS.items():
            self.ledger.register_product(
                meta(), sku=sku, name=sku, unit="ea", make_or_buy=make_or_buy, standard=True,
                list_price=str(PRICE), standard_cost="4", currency_code="EUR",
            )  # fmt: skip
        self.ledger.register_customer(
            meta(), code_="C-1", name="Customer", contacts=[], billing_address="1 Bill St",
            shipping_address="2 Ship Rd", region="north", payment_terms_days=30,
            credit_limit="5000", currency_code="EUR",
        )  # fmt: skip
        self.ledger.publish_approval_policy(meta(), policy=POLICY)
        self.numbers: list[str] = []  # sales orders created
        self.productions: list[str] = []  # production orders made for them
        self.finished: set[str] = set()  # orders cancelled or delivered
        self.serial = 0

    # -- harness -------------------------------------------------------------------------

    def next_ref(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def attempt(
        self,
        expected_ok: bool,
        command: Callable[..., Any],
        role: str | None = None,
        **arguments: Any,
    ) -> bool:
        """Run a ledger command whose outcome was predicted; a refusal stores nothing."""
        head = self.ledger.head()
        refusal: DomainError | None = None
        try:
            command(replace(meta(command.__name__), role=role), **arguments)
        except DomainError as error:
            refusal = error
        if refusal is not None:
            event(f"{command.__name__}: refused ({refusal.rule})")
            assert self.ledger.head() == head, "a refused command stored events"
            assert not expected_ok, f"refused unexpectedly: {refusal.rule}: {refusal}"
            return False
        event(f"{command.__name__}: accepted")
        assert expected_ok, f"{command.__name__} accepted a command the rules refuse"
        assert self.ledger.head() > head, "an accepted command stored nothing"
        return True

    def order(self, number: str, ledger: Ledger | None = None) -> SalesOrder:
        found = (ledger or self.ledger).repository.get(SalesOrder.create_id(number))
        assert isinstance(found, SalesOrder)
        return found

    def stock(self, sku: str, ledger: Ledger | None = None) -> StockItem | None:
        try:
            found = (ledger or self.ledger).repository.get(StockItem.create_id(sku, WH))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, StockItem)
        return found

    def production(self, number: str, ledger: Ledger | None = None) -> ProductionOrder:
        found = (ledger or self.ledger).repository.get(ProductionOrder.create_id(number))
        assert isinstance(found, ProductionOrder)
        return found

    def available(self, sku: str) -> Decimal:
        item = self.stock(sku)
        return ZERO if item is None else item.available

    def choose(self, pick: int, *preferences: Callable[[SalesOrder], bool]) -> SalesOrder:
        """Mostly an order the command fits (the first preference some order meets);
        otherwise any (mostly to see the command refused)."""
        orders = [self.order(number) for number in self.numbers]
        for fits in preferences if pick % 4 else ():
            fitting = [order for order in orders if fits(order)]
            if fitting:
                return fitting[pick % len(fitting)]
        return orders[pick % len(orders)]

    def picked_production(self, pick: int, *statuses: str) -> ProductionOrder:
        """Mostly a production order in one of `statuses`; otherwise any."""
        made = [self.production(number) for number in self.productions]
        fitting = [m for m in made if m.status in statuses]
        if fitting and pick % 4:
            return fitting[pick % len(fitting)]
        return made[pick % len(made)]

    @initialize(
        opening=st.lists(st.none() | stock_quantities, min_size=3, max_size=3),
        lines=order_lines,
    )
    def opening(self, opening: list[Decimal | None], lines: list[tuple[str, Decimal]]) -> None:
        """Start with some stock and one order, so that most rules have work to do."""
        for sku, qty in zip(SKUS, opening, strict=True):
            if qty is not None:
                self.receive_stock(sku, qty)
        self.create_order(lines, dated=False)

    # -- stock -----------------------------------------------------------------------------

    @rule(sku=skus, qty=stock_quantities)
    def receive_stock(self, sku: str, qty: Decimal) -> None:
        self.attempt(
            True, self.ledger.receive_finished_goods, sku=sku, warehouse=WH,
            production_ref=self.next_ref("LOT"), quantity_=str(qty),
        )  # fmt: skip

    # -- sales orders ------------------------------------------------------------------------

    @precondition(lambda self: len(self.numbers) - len(self.finished) < OPEN_ORDERS)
    @rule(lines=order_lines, dated=st.booleans())
    def create_order(self, lines: list[tuple[str, Decimal]], dated: bool) -> None:
        number = self.next_ref("SO")
        self.attempt(
            True, self.ledger.create_sales_order, customer="C-1", warehouse=WH,
            lines=lines_payload(lines), currency_code="EUR", salesperson="ann", number=number,
            requested_delivery=date(2031, 1, 10) if dated else None,
            promised_date=date(2031, 1, 12) if dated else None,
        )  # fmt: skip
        self.numbers.append(number)

    @rule(pick=picks)
    def submit(self, pick: int) -> None:
        self.do_submit(self.choose(pick, lambda o: o.status == "created" and not o.submitted))

    @rule(pick=picks, acting=acting)
    def approve(self, pick: int, acting: str) -> None:
        self.do_approve(self.choose(pick, lambda o: o.awaiting_approval), acting)

    @rule(pick=picks, acting=acting)
    def reject(self, pick: int, acting: str) -> None:
        order = self.choose(pick, lambda o: o.awaiting_approval)
        role, ok = self.acting_role(order, acting)
        self.attempt(
            ok, self.ledger.reject_sales_order, role=role, number=order.number, comment="no"
        )

    @rule(
        pick=picks,
        what=st.sampled_from(["lines", "dates", "dates", "dates", "both"]),
        lines=order_lines,
        shift=st.integers(0, 30),
    )
    def amend(self, pick: int, what: str, lines: list[tuple[str, Decimal]], shift: int) -> None:
        editable = ("created", "approved")
        before = self.choose(
            pick,
            # Now and then one whose short lines were routed: they are routed again.
            *[lambda o: o.status == "approved" and bool(o.production or o.requisitions)]
            * (pick % 3 == 0),
            lambda o: o.status in editable,
        )
        self.do_amend(before, what, lines, shift)

    def do_amend(
        self, before: SalesOrder, what: str, lines: list[tuple[str, Decimal]], shift: int
    ) -> None:
        ok = before.status in ("created", "approved")
        day = date(2031, 2, 1) + timedelta(days=shift)
        dates = {"requested_delivery": day, "promised_date": day} if what != "lines" else {}
        changed = {"lines": lines_payload(lines)} if what != "dates" else {}
        if self.attempt(
            ok, self.ledger.amend_sales_order, number=before.number, **changed, **dates
        ):
            self.check_allocation(before, lines_changed=bool(changed))

    @rule(pick=picks)
    def cancel(self, pick: int) -> None:
        """Mostly an order past cancelling (to see it refused), sometimes one that is not."""
        if pick % 3:
            order = self.choose(pick, lambda o: o.status not in ("created", "approved"))
        else:
            order = self.choose(pick, lambda o: o.status in ("created", "approved"))
        ok = order.status in ("created", "approved")
        self.attempt(ok, self.ledger.cancel_sales_order, number=order.number, reason="no")

    @rule(pick=picks)
    def reserve_shortages(self, pick: int) -> None:
        self.do_reserve_shortages(
            self.choose(pick, lambda o: o.status in SHIPPABLE and bool(o.short))
        )

    @rule(pick=picks, portions=st.lists(portions, min_size=3, max_size=3))
    def ship(self, pick: int, portions: list[str]) -> None:
        self.do_ship(self.choose(pick, shippable), portions)

    @rule(pick=picks)
    def confirm_delivery(self, pick: int) -> None:
        self.do_confirm_delivery(self.choose(pick, undelivered), pick)

    @rule(
        pick=picks,
        to_stage=st.sampled_from(["completed", "completed", "cancelled", "shipped"]),
        role=st.sampled_from(["sales", "manager", "warehouse"]),
    )
    def transition(self, pick: int, to_stage: str, role: str) -> None:
        self.do_transition(self.choose(pick, lambda o: o.stage == "delivered"), to_stage, role)

    # -- production for short lines ----------------------------------------------------------

    @precondition(lambda self: self.productions)
    @rule(pick=picks, sku=skus, qty=st.sampled_from(["0.5", "1", "2"]).map(D))
    def issue_materials(self, pick: int, sku: str, qty: Decimal) -> None:
        made = self.picked_production(pick, "scheduled", "materials_issued")
        self.do_issue_materials(made, sku, qty)

    @precondition(lambda self: self.productions)
    @rule(pick=picks, produced=st.sampled_from(["planned", "planned", "less", "more"]))
    def complete_production(self, pick: int, produced: str) -> None:
        self.do_complete_production(self.picked_production(pick, "materials_issued"), produced)

    @precondition(lambda self: self.productions)
    @rule(pick=picks, passed=st.booleans())
    def record_qc(self, pick: int, passed: bool) -> None:
        self.do_record_qc(self.picked_production(pick, "completed"), passed)

    @precondition(lambda self: self.productions)
    @rule(pick=picks)
    def rework(self, pick: int) -> None:
        self.do_rework(self.picked_production(pick, "qc_failed"))

    @precondition(lambda self: self.productions)
    @rule(pick=picks)
    def receive_production(self, pick: int) -> None:
        self.do_receive_production(self.picked_production(pick, "qc_passed"))

    @precondition(lambda self: self.productions)
    @rule(pick=picks)
    def cancel_production(self, pick: int) -> None:
        made = self.picked_production(pick, "scheduled")
        ok = made.status == "scheduled"
        self.attempt(ok, self.ledger.cancel_production_order, number=made.number, reason="no")

    # -- moving an order on --------------------------------------------------------------------

    @rule(pick=picks, steps=st.integers(1, 8), passed=st.booleans())
    def progress(self, pick: int, steps: int, passed: bool) -> None:
        """The next few natural steps of an order that is not finished: what a busy order
        centre does most of the time (the other rules also try what does not fit). The
        invariants are checked after each of them."""
        for step in range(steps):
            if step:
                self.orders_and_stock_hold_their_invariants()
            self.progress_one(pick + step, passed)

    def progress_one(self, pick: int, passed: bool) -> None:
        order = self.choose(pick, lambda o: o.status != "cancelled" and o.stage != "completed")
        if order.status == "created":
            if order.awaiting_approval:
                self.do_approve(order, "wanted")
            else:
                self.do_submit(order)
        elif shippable(order) and pick % 3:
            self.do_ship(order, ["all", "half", "all"])
        elif order.status in SHIPPABLE and order.short:
            self.progress_shortage(order, pick, passed)
        elif undelivered(order):
            self.do_confirm_delivery(order, pick)
        elif order.stage == "delivered":
            self.do_transition(order, "completed", "sales")

    def progress_shortage(self, order: SalesOrder, pick: int, passed: bool) -> None:
        """Cover a short line: from stock if there is some, else move its production on,
        else receive the goods (a buy line, or production that will not cover it)."""
        keys = sorted(order.short, key=int)
        key = keys[pick % len(keys)]
        sku = order.line(int(key))["sku"]
        if self.available(sku) >= order.short[key]:
            self.do_reserve_shortages(order)
            return
        live = [
            self.production(number)
            for number, entry in sorted(order.production.items())
            if entry["line_no"] == int(key) and entry["status"] not in DEAD
        ]
        made = next((m for m in live if m.status not in ("received", "cancelled")), None)
        if made is None:
            self.receive_stock(sku, order.short[key])
        elif made.status == "scheduled":
            component = max(SKUS, key=self.available)
            if self.available(component) < D("0.5"):
                self.receive_stock(component, D(3))
            self.do_issue_materials(made, component, D("0.5"))
        elif made.status == "materials_issued":
            self.do_complete_production(made, "planned")
        elif made.status == "completed":
            self.do_record_qc(made, passed)
        elif made.status == "qc_failed":
            self.do_rework(made)
        else:
            self.do_receive_production(made)

    # -- the commands, with their predicted outcome ------------------------------------------------

    def acting_role(self, order: SalesOrder, acting: str) -> tuple[str | None, bool]:
        """The role to act in, and whether it is the one the waiting level needs."""
        wanted = order.levels[len(order.approvals)]["role"] if order.awaiting_approval else None
        role = (wanted or "sales_director") if acting == "wanted" else acting
        return role, order.awaiting_approval and role == wanted

    def do_submit(self, before: SalesOrder) -> None:
        ok = before.status == "created" and not before.submitted
        if self.attempt(ok, self.ledger.submit_sales_order, number=before.number):
            self.check_allocation(before)

    def do_approve(self, before: SalesOrder, acting: str) -> None:
        role, ok = self.acting_role(before, acting)
        if self.attempt(ok, self.ledger.approve_sales_order, role=role, number=before.number):
            self.check_allocation(before)

    def do_reserve_shortages(self, order: SalesOrder) -> None:
        available = {sku: self.available(sku) for sku in SKUS}
        covered = False
        for key, qty in sorted(order.short.items(), key=lambda kv: int(kv[0])):
            sku = order.line(int(key))["sku"]
            if qty <= available[sku]:
                available[sku] -= qty
                covered = True
        ok = order.status in SHIPPABLE and covered
        self.attempt(ok, self.ledger.reserve_shortages, number=order.number)

    def do_ship(self, order: SalesOrder, portions: list[str]) -> None:
        lines: dict[int, Decimal] = {}
        for line, portion in zip(order.lines, portions, strict=False):
            no = line["line_no"]
            left = order.shippable(no)
            wanted = {
                "all": left,
                "half": (left / 2).quantize(D("0.01"), rounding=ROUND_DOWN),
                "one": min(D(1), left),
                "skip": ZERO,
                "over": left + 1,
            }[portion]
            if wanted > 0:
                lines[no] = wanted
        if not lines:
            lines = {order.lines[0]["line_no"]: D(1)}
        ok = order.status in SHIPPABLE and all(q <= order.shippable(no) for no, q in lines.items())
        self.attempt(
            ok, self.ledger.ship_sales_order, number=order.number,
            lines={str(no): str(q) for no, q in lines.items()}, carrier="DHL",
            tracking_number=self.next_ref("TRK"), shipment_ref=self.next_ref("SHP"),
        )  # fmt: skip

    def do_confirm_delivery(self, order: SalesOrder, pick: int) -> None:
        refs = sorted(order.shipments)
        waiting = [ref for ref in refs if order.shipments[ref]["delivered"] is None]
        if waiting and pick % 5:
            ref = waiting[pick % len(waiting)]
        else:  # one already signed for, or none at all
            ref = refs[pick % len(refs)] if refs else "SHP-0"
        ok = ref in order.shipments and order.shipments[ref]["delivered"] is None
        self.attempt(
            ok, self.ledger.confirm_delivery, number=order.number, shipment_ref=ref,
            signed_by="Eve",
        )  # fmt: skip

    def do_transition(self, order: SalesOrder, to_stage: str, role: str) -> None:
        ok = order.stage == "delivered" and to_stage == "completed" and role != "warehouse"
        self.attempt(
            ok, self.ledger.transition_sales_order, role=role, number=order.number,
            to_stage=to_stage,
        )  # fmt: skip

    def do_issue_materials(self, made: ProductionOrder, sku: str, qty: Decimal) -> None:
        item = self.stock(sku)
        ok = (
            made.status in ("scheduled", "materials_issued")
            and item is not None
            and qty <= item.available
        )
        self.attempt(
            ok, self.ledger.issue_production_materials, number=made.number,
            components={sku: str(qty)},
        )  # fmt: skip

    def do_complete_production(self, made: ProductionOrder, produced: str) -> None:
        amount = {
            "planned": None,
            "less": max(D("0.5"), (made.quantity / 2).quantize(D("0.1"), rounding=ROUND_DOWN)),
            "more": made.quantity + 1,
        }[produced]
        ok = made.status == "materials_issued"
        self.attempt(
            ok, self.ledger.complete_production, number=made.number,
            produced=None if amount is None else str(amount),
        )  # fmt: skip

    def do_record_qc(self, made: ProductionOrder, passed: bool) -> None:
        ok = made.status == "completed"
        self.attempt(
            ok, self.ledger.record_production_qc, number=made.number, passed=passed,
            notes="" if passed else "scratched",
        )  # fmt: skip

    def do_rework(self, made: ProductionOrder) -> None:
        ok = made.status == "qc_failed"
        self.attempt(ok, self.ledger.rework_production, number=made.number, reason="polish")

    def do_receive_production(self, made: ProductionOrder) -> None:
        ok = made.status == "qc_passed"
        assert made.sales_order is not None
        assert made.line_no is not None
        before = self.order(made.sales_order)
        key = str(made.line_no)
        entry = before.production.get(made.number, {})
        waiting = (
            entry.get("status") not in DEAD and before.status in SHIPPABLE and key in before.short
        )
        if not self.attempt(ok, self.ledger.receive_production, number=made.number):
            return
        assert made.produced is not None
        after = self.order(made.sales_order)
        took = after.reserved.get(key, ZERO) - before.reserved.get(key, ZERO)
        if waiting:  # the goods are reserved at once for the line waiting on them
            expected = min(made.produced, before.short[key], self.available(made.sku) + took)
            assert took == expected, f"{made.number} reserved {took} for line {key}, not {expected}"
        else:
            assert took == 0, f"{made.number} reserved {took} for a line not waiting on it"

    # -- read models ----------------------------------------------------------------------------

    @rule()
    def check_read_models(self) -> None:
        self.check_projections(rebuild=False)

    # -- checks after a command --------------------------------------------------------------

    def check_allocation(self, before: SalesOrder, *, lines_changed: bool = False) -> None:
        """An order that this command approved (again, if its lines changed) has each line
        reserved in full or short, and every short line routed to a new production order
        (make) or requisition (buy)."""
        after = self.order(before.number)
        if after.status != "approved" or (before.status == "approved" and not lines_changed):
            return
        event("allocated" + (" with short lines" if after.short else " in full"))
        if any(entry["status"] == "received" for entry in before.production.values()):
            event("allocated again after production was received")
        if before.requisitions:
            event("allocated again after requisitions")
        for key, qty in after.short.items():
            line = after.line(int(key))
            made = [
                number for number, entry in after.production.items()
                if number not in before.production and entry["line_no"] == int(key)
            ]  # fmt: skip
            asked = [
                number for number, no in after.requisitions.items()
                if number not in before.requisitions and no == int(key)
            ]  # fmt: skip
            routed = f"{made or asked or 'nothing'}; earlier routes {before.production}"
            routed += f" {before.requisitions}"
            assert len(made) + len(asked) == 1, (
                f"short line {key} of {after.number} ({line['sku']} × {qty}) was routed to {routed}"
            )
            if PRODUCTS[line["sku"]] == "make":
                assert made, f"make line {key} of {after.number} got a requisition"
                production = self.production(made[0])
                assert (production.sku, production.quantity, production.status) == (
                    line["sku"], qty, "scheduled",
                )  # fmt: skip
            else:
                assert asked, f"buy line {key} of {after.number} got a production order"
                requisition = self.ledger.repository.get(requisition_for_order_id(asked[0]))
                assert isinstance(requisition, PurchaseRequisition)
                assert (requisition.sku, requisition.quantity, requisition.status) == (
                    line["sku"], qty, OPEN,
                )  # fmt: skip

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def orders_and_stock_hold_their_invariants(self) -> None:
        orders = [self.order(number) for number in self.numbers]
        productions: list[str] = []
        for order in orders:
            self.check_order(order)
            self.check_stage(order)
            self.check_production_entries(order)
            self.check_requisitions(order)
            productions += sorted(order.production)
            if order.status in ("cancelled", "delivered"):
                self.finished.add(order.number)
        self.productions = productions
        for sku in SKUS:
            item = self.stock(sku)
            if item is not None:
                self.check_item(item, orders)

    @staticmethod
    def check_order(order: SalesOrder) -> None:
        keys = {str(line["line_no"]) for line in order.lines}
        where = f"{order.number} ({order.status}, {order.stage})"
        assert set(order.reserved) <= keys, where
        assert set(order.short) <= keys, where
        assert set(order.shipped) <= keys, where
        for line in order.lines:
            key = str(line["line_no"])
            ordered = D(line["quantity"])
            reserved = order.reserved.get(key, ZERO)
            shipped = order.shipped.get(key, ZERO)
            short = order.short.get(key, ZERO)
            at = f"{where} line {key}: ordered {ordered}, reserved {reserved}, shipped {shipped}"
            at += f", short {short}"
            assert ZERO <= shipped <= reserved <= ordered, at  # still held = reserved − shipped
            assert key not in order.short or short > 0, at
            assert not (short > 0 and reserved >= ordered), at  # short and fully reserved
            if order.status in ALLOCATED:
                assert reserved + short == ordered, at
            shipments = sum((s["lines"].get(key, ZERO) for s in order.shipments.values()), ZERO)
            assert shipments == shipped, at
        if order.status in ("created", "cancelled"):
            assert not order.reserved, where
            assert not order.short, where
        if order.status in ("created", "approved", "cancelled"):
            assert not order.shipments, where  # cancelled only before any shipment
        delivered = [s["delivered"] is not None for s in order.shipments.values()]
        fully = not order.short and all(
            order.shipped.get(str(line["line_no"]), ZERO) == D(line["quantity"])
            for line in order.lines
        )
        if order.status == "partially_shipped":
            assert order.shipments, where
            assert not fully, where
        if order.status == "shipped":
            assert fully, where
            assert not all(delivered), where
        if order.status == "delivered":
            assert fully, where
            assert all(delivered), where

    @staticmethod
    def check_stage(order: SalesOrder) -> None:
        where = f"{order.number}: status {order.status}, stage {order.stage}"
        assert order.stage in STAGES_OF[order.status], where
        assert (order.stage == "awaiting_approval") == order.awaiting_approval, where
        if order.stage == "created":
            assert not order.submitted, where
        if order.stage == "stock_confirmed":
            assert not order.short, f"{where}: short {order.short}"
        if order.stage == "production_scheduled":
            assert order.short, f"{where}: nothing short"

    def check_requisitions(self, order: SalesOrder) -> None:
        """A requisition raised for a line stays open only while that line is short."""
        for number, line_no in order.requisitions.items():
            requisition = self.ledger.repository.get(requisition_for_order_id(number))
            assert isinstance(requisition, PurchaseRequisition)
            if requisition.status == OPEN:
                where = f"{number} is open for {order.number} ({order.status}) line {line_no}"
                assert order.status in SHIPPABLE, where
                assert str(line_no) in order.short, f"{where}, which is not short"
                assert order.line(line_no)["sku"] == requisition.sku, where

    def check_production_entries(self, order: SalesOrder) -> None:
        for number, entry in order.production.items():
            made = self.production(number)
            assert (made.sales_order, made.line_no) == (order.number, entry["line_no"])
            if entry["status"] == "cancelled":
                assert made.status == "cancelled", f"{number} is {made.status}"
            elif entry["status"] != "detached":
                assert entry["status"] == made.status, (
                    f"{order.number} thinks {number} is {entry['status']}: it is {made.status}"
                )

    @staticmethod
    def check_item(item: StockItem, orders: list[SalesOrder]) -> None:
        where = f"{item.sku}: physical {item.physical}, locked {item.locked} {item.reservations}"
        assert item.physical >= 0, where
        assert item.locked >= 0, where
        assert item.locked == sum(item.reservations.values(), ZERO), where
        assert all(qty > 0 for qty in item.reservations.values()), where
        assert item.available == item.physical - item.locked >= 0, where
        known = {order.number for order in orders}
        assert set(item.reservations) <= known, where
        for order in orders:
            expected = held_per_sku(order).get(item.sku, ZERO)
            assert item.reservations.get(order.number, ZERO) == expected, (
                f"{where}: {order.number} ({order.status}) holds {expected} of {item.sku}:"
                f" reserved {order.reserved}, shipped {order.shipped}, lines {order.lines}"
            )

    # -- read models and a fresh replay ---------------------------------------------------------

    def orders_tables(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with self.runtime.store.read() as cur:
            rows = cur.execute("SELECT * FROM sales_orders ORDER BY order_id").fetchall()
            timeline = cur.execute("SELECT * FROM order_timeline ORDER BY position").fetchall()
        return [tuple(r) for r in rows], [tuple(r) for r in timeline]

    def check_projections(self, *, rebuild: bool = True) -> None:
        runner = self.runtime.runner
        head = self.ledger.head()
        for name in ("orders", "inventory"):
            runner.catch_up(name)
            assert runner.position(name) == head
        replaying = Ledger(self.ledger.env)  # a second application: no cache, fresh replay
        try:
            self.check_replay(replaying)
            self.check_inventory_read_model(replaying)
            self.check_orders_read_model(replaying)
            if not rebuild:
                return
            caught_up = self.orders_tables()
            runner.rebuild("orders")
            assert runner.position("orders") == head
            rebuilt = self.orders_tables()
            assert rebuilt[0] == caught_up[0], "sales_orders differ from a rebuild"
            assert rebuilt[1] == caught_up[1], "order_timeline differs from a rebuild"
        finally:
            replaying.close()

    def check_replay(self, replaying: Ledger) -> None:
        for number in self.numbers:
            assert order_state(self.order(number)) == order_state(self.order(number, replaying))
        for number in self.productions:
            cached, fresh = self.production(number), self.production(number, replaying)
            assert cached.__dict__.keys() == fresh.__dict__.keys()
            assert (cached.status, cached.produced, cached.materials, cached.version) == (
                fresh.status, fresh.produced, fresh.materials, fresh.version,
            )  # fmt: skip
        for sku in SKUS:
            cached_item, fresh_item = self.stock(sku), self.stock(sku, replaying)
            assert (cached_item is None) == (fresh_item is None)
            if cached_item is not None and fresh_item is not None:
                assert cached_item.reservations == fresh_item.reservations
                assert (cached_item.physical, cached_item.locked, cached_item.version) == (
                    fresh_item.physical, fresh_item.locked, fresh_item.version,
                )  # fmt: skip

    def check_inventory_read_model(self, replaying: Ledger) -> None:
        with self.runtime.store.read() as cur:
            rows = cur.execute(
                "SELECT sku, warehouse, physical, in_transit, locked, available"
                " FROM inventory_items"
            ).fetchall()
        projected = {(r[0], r[1]): tuple(D(str(v)) for v in r[2:]) for r in rows}
        opened = [sku for sku in SKUS if self.stock(sku, replaying) is not None]
        assert sorted(projected) == sorted((sku, WH) for sku in opened)
        for sku in opened:
            item = self.stock(sku, replaying)
            assert item is not None
            assert projected[(sku, WH)] == (
                item.physical, item.in_transit, item.locked, item.available,
            ), f"inventory read model of {sku}"  # fmt: skip

    def check_orders_read_model(self, replaying: Ledger) -> None:
        with self.runtime.store.read() as cur:
            rows = cur.execute(
                "SELECT number, status, stage, stage_role, awaiting_role, version, ordered_qty,"
                " shipped_qty, delivered_qty FROM sales_orders"
            ).fetchall()
            timeline = cur.execute(
                "SELECT number, count(*) FROM order_timeline GROUP BY number"
            ).fetchall()
            last = cur.execute(
                "SELECT number, status, to_stage FROM order_timeline"
                " WHERE position IN (SELECT max(position) FROM order_timeline GROUP BY number)"
            ).fetchall()
        projected = {r[0]: tuple(r[1:]) for r in rows}
        assert sorted(projected) == sorted(self.numbers)
        events = dict(timeline)
        latest = {number: (status, stage) for number, status, stage in last}
        for number in self.numbers:
            order = self.order(number, replaying)
            status, stage, stage_role, awaiting, version, ordered, shipped, delivered = projected[
                number
            ]
            waiting = (
                order.levels[len(order.approvals)]["role"] if order.awaiting_approval else None
            )
            delivered_qty = sum(
                (
                    q
                    for s in order.shipments.values()
                    if s["delivered"] is not None
                    for q in s["lines"].values()
                ),
                ZERO,
            )
            assert (status, stage, stage_role, awaiting, int(version)) == (
                order.status, order.stage, order.stage_role, waiting, order.version,
            ), f"sales_orders row of {number}"  # fmt: skip
            assert (D(str(ordered)), D(str(shipped)), D(str(delivered))) == (
                order.ordered_quantity, sum(order.shipped.values(), ZERO), delivered_qty,
            ), f"quantities in the sales_orders row of {number}"  # fmt: skip
            assert events[number] == order.version, f"timeline of {number}"
            assert latest[number] == (order.status, order.stage), f"timeline of {number}"

    def teardown(self) -> None:
        try:
            self.check_projections()
        finally:
            self.runtime.close()
            shutil.rmtree(self.directory, ignore_errors=True)


OrderLifecycleMachine.TestCase.settings = settings(
    # Three times the profile's examples: dev (20) gives 60 runs, ci (60) gives 180. A fresh
    # ledger per example; rules on production orders wait until there is one.
    settings.default,
    max_examples=3 * settings.default.max_examples,
    stateful_step_count=100,
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.filter_too_much],
)
TestOrderLifecycle = OrderLifecycleMachine.TestCase


# -- what the machine found, as plain examples ------------------------------------------------


def test_a_cancelled_order_awaits_no_approval_in_the_read_model() -> None:
    """The machine's shrunk example: an order that needs one approval level is submitted and
    cancelled; `sales_orders.awaiting_role` still names the approver."""
    machine = OrderLifecycleMachine()
    try:
        machine.create_order([("MAKE-1", D(6))], dated=False)  # 60 EUR: one level
        machine.do_submit(machine.order("SO-1"))
        machine.attempt(True, machine.ledger.cancel_sales_order, number="SO-1", reason="no")
        machine.orders_and_stock_hold_their_invariants()
    finally:
        machine.teardown()  # checks the read models


def test_a_line_short_again_after_its_production_was_received_is_routed_again() -> None:
    """A make line is produced and received; the order's lines are then amended and the
    line is short again on re-approval: it must get a new production order."""
    machine = OrderLifecycleMachine()
    try:
        machine.receive_stock("BUY-1", D(5))  # components
        machine.create_order([("MAKE-1", D(1))], dated=False)
        number = machine.numbers[-1]
        machine.do_submit(machine.order(number))  # short: PRD-<number>-L1-1
        made = f"PRD-{number}-L1-1"
        machine.do_issue_materials(machine.production(made), "BUY-1", D(1))
        machine.do_complete_production(machine.production(made), "planned")
        machine.do_record_qc(machine.production(made), passed=True)
        machine.do_receive_production(machine.production(made))  # line 1 reserved
        machine.orders_and_stock_hold_their_invariants()
        machine.do_amend(machine.order(number), "lines", [("MAKE-1", D(4))], 0)
        machine.orders_and_stock_hold_their_invariants()
    finally:
        machine.teardown()

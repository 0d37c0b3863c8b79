"""Commands of production (make items) and of the process definitions (workflows and
approval rules). A production order made for a sales order line reports its progress to that
order in the same save, which moves the order's stage; finished goods received for a waiting
line are reserved for it in that save too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.application import Decision, IdempotencyClaim, Outcome, check_version
from domain.commands_sales import SalesCommands, _unique
from domain.exceptions import AlreadyExists, InvalidInput, NotFound, RuleViolation, StaleVersion
from domain.production import (
    COMPLETED,
    QC_PASSED,
    RECEIVED,
    ProductionOrder,
    production_order_id,
)
from domain.sales_orders import SalesOrder
from domain.sla import SlaBreach, sla_breach_id
from domain.values import Meta, aware, code, new_ref, quantity, text
from domain.workflows import (
    ApprovalPolicy,
    WorkflowDefinition,
    validate_definition,
    validate_policy,
)

MAX_COMPONENTS = 200


class ProductionCommands(SalesCommands):
    def production_order(self, number: str) -> ProductionOrder:
        return self.load(
            ProductionOrder, production_order_id(number), f"production order {number!r}"
        )

    def create_production_order(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        quantity_: Any,
        number: str | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Schedule production for stock (orders' short lines get theirs automatically)."""
        ref = code(number, "number") if number else new_ref("PRD")
        qty = quantity(quantity_)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            self.require_absent(production_order_id(ref), f"production order {ref!r}")
            if self.product(sku).make_or_buy != "make":
                raise RuleViolation(f"{sku} is a buy item: it is not made", rule="not-a-make-item")
            self.warehouse(warehouse)
            made = ProductionOrder(ref, sku, warehouse, qty, None, None, when)
            return Decision([made], _production_result(made))

        return self.execute(meta, decide, idempotency)

    def issue_production_materials(
        self,
        meta: Meta,
        *,
        number: str,
        components: dict[str, Any],
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Components leave stock for the production order, in the same save."""
        if not isinstance(components, dict) or not 0 < len(components) <= MAX_COMPONENTS:
            raise InvalidInput(f"components maps 1 to {MAX_COMPONENTS} SKUs to quantities")
        wanted = {
            code(sku, "component sku"): quantity(qty, f"component {sku} quantity")
            for sku, qty in components.items()
        }
        when = meta.effective(effective_at)

        def decide() -> Decision:
            made = self.production_order(number)
            made.issue_materials(wanted, when)
            items: list[Aggregate] = []
            for sku, qty in sorted(wanted.items()):
                item = self.stock_item(sku, made.warehouse, open_if_missing=False)
                item.issue_material(made.number, qty, when)
                items.append(item)
            touched = self._report(made, when)
            return Decision([made, *items, *touched], _production_result(made))

        return self.execute(meta, decide, idempotency)

    def complete_production(
        self,
        meta: Meta,
        *,
        number: str,
        produced: Any = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Production finished (by default the planned quantity was made)."""
        made_qty = None if produced is None else quantity(produced)

        def step(made: ProductionOrder, when: datetime) -> None:
            made.complete(made.quantity if made_qty is None else made_qty, when)

        return self._step(meta, number, step, effective_at, idempotency)

    def record_production_qc(
        self,
        meta: Meta,
        *,
        number: str,
        passed: bool,
        notes: str = "",
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Quality control's verdict; failed goods go back for rework."""
        if not isinstance(passed, bool):
            raise InvalidInput("passed must be true or false")
        remark = text(notes, "notes", max_length=2000, required=not passed)
        return self._step(
            meta, number, lambda made, when: made.record_qc(passed, remark, when), effective_at,
            idempotency,
        )  # fmt: skip

    def rework_production(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        why = text(reason, "reason")
        return self._step(
            meta, number, lambda made, when: made.rework(why, when), effective_at, idempotency
        )

    def receive_production(
        self,
        meta: Meta,
        *,
        number: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Passed goods into stock; reserved at once for the order line waiting on them."""
        when = meta.effective(effective_at)

        def decide() -> Decision:
            made = self.production_order(number)
            qty = made.receive(when)
            item = self.stock_item(made.sku, made.warehouse)
            item.receive_finished_goods(made.number, qty, when)
            touched: list[Aggregate] = [made, item]
            order = self._linked_order(made)
            if order is not None:
                touched.append(order)
                order.production_progressed(made.number, made.status, when)
                line_no = order.waits_on(made.number)
                if line_no is not None:
                    take = min(qty, order.short[str(line_no)], item.available)
                    if take > 0:
                        item.reserve(order.number, take, when)
                        order.reserve_shortages({line_no: take}, when)
                        if not order.short:
                            touched += self._advance(
                                order, self._workflow_of(order), "stock_covered", when
                            )
                    # Less was made than the line lacks: the rest is routed again (a new
                    # production order, or a requisition), never left waiting on nothing.
                    touched += self._route_shortages(order, when)
            return Decision(_unique(touched), _production_result(made))

        return self.execute(meta, decide, idempotency)

    def cancel_production_order(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Cancel production that has not started."""
        why = text(reason, "reason")
        return self._step(
            meta, number, lambda made, when: made.cancel(why, when), effective_at, idempotency
        )

    def _step(
        self,
        meta: Meta,
        number: str,
        step: Callable[[ProductionOrder, datetime], None],
        effective_at: datetime | None,
        idempotency: IdempotencyClaim | None,
    ) -> Outcome:
        """One step of a production order, reported to the order waiting on it."""
        when = meta.effective(effective_at)

        def decide() -> Decision:
            made = self.production_order(number)
            step(made, when)
            return Decision([made, *self._report(made, when)], _production_result(made))

        return self.execute(meta, decide, idempotency)

    def _linked_order(self, made: ProductionOrder) -> SalesOrder | None:
        if made.sales_order is None:
            return None
        order = self.sales_order(made.sales_order)
        entry = order.production.get(made.number)
        if entry is None or entry["status"] in ("cancelled", "detached"):
            return None
        return order

    def _report(self, made: ProductionOrder, when: datetime) -> list[Aggregate]:
        """Tell the waiting order; its stage moves when all its production has."""
        order = self._linked_order(made)
        if order is None:
            return []
        order.production_progressed(made.number, made.status, when)
        touched: list[Aggregate] = [order]
        flow = self._workflow_of(order)
        if order.production_all({COMPLETED, QC_PASSED, RECEIVED}) and made.status == COMPLETED:
            touched += self._advance(order, flow, "production_completed", when)
        if order.production_all({QC_PASSED, RECEIVED}) and made.status == QC_PASSED:
            touched += self._advance(order, flow, "qc_passed", when)
        return touched

    # -- SLA ------------------------------------------------------------------------------------

    def record_sla_breach(
        self, meta: Meta, *, number: str, stage: str, due_at: datetime
    ) -> Outcome:
        """Record that `number` is still in `stage` past `due_at` (once per stage entry).
        Refused if the order has moved on or is not late: the monitor read a stale row."""
        due = aware(due_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            if order.stage != stage or order.sla_due_at != due:
                raise RuleViolation(
                    f"{number} is no longer in {stage} with that SLA", rule="sla-stale"
                )
            if due > meta.at:
                raise RuleViolation(f"{number} is not late in {stage} yet", rule="sla-not-due")
            breach_id = sla_breach_id(order.id, stage, due)
            self.require_absent(breach_id, f"SLA breach of {number} in {stage}")
            breach = SlaBreach(order.id, stage, due, number, order.stage_role, meta.at)
            return Decision([breach], {"number": number, "stage": stage, "due_at": due})

        return self.execute(meta, decide)

    # -- process definitions ------------------------------------------------------------------

    def publish_workflow(
        self,
        meta: Meta,
        *,
        definition: Any,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Publish a new version of a workflow (the first publishes version 1). Orders keep
        the version they started with; new orders take this one."""
        clean = validate_definition(definition)

        def decide() -> Decision:
            try:
                workflow = self.workflow_definition(clean["name"])
            except NotFound:
                if expected_version not in (None, 0):
                    raise
                workflow = WorkflowDefinition(clean["name"], clean)
            else:
                if expected_version == 0:
                    raise AlreadyExists(f"workflow {clean['name']!r} already exists") from None
                check_version(workflow, expected_version, f"workflow {clean['name']!r}")
                workflow.publish(clean)
            return Decision([workflow], _workflow_result(workflow))

        return self.execute(meta, decide, idempotency)

    def publish_approval_policy(
        self,
        meta: Meta,
        *,
        policy: Any,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Publish new approval rules; they judge every order submitted from now on."""
        clean = validate_policy(policy)

        def decide() -> Decision:
            current = self.approval_policy()
            if current is None:
                if expected_version not in (None, 0):  # GET answers version 0 for none
                    raise StaleVersion(
                        f"there is no approval policy yet, not version {expected_version}",
                        current_version=0,
                    )
                current = ApprovalPolicy(clean)
            elif expected_version == 0:
                raise AlreadyExists("an approval policy already exists")
            else:
                check_version(current, expected_version, "approval policy")
                current.publish(clean)
            result = {"version": current.latest, "policy": clean}
            return Decision([current], result)

        return self.execute(meta, decide, idempotency)


def _production_result(made: ProductionOrder) -> dict[str, Any]:
    return {
        "number": made.number,
        "sku": made.sku,
        "warehouse": made.warehouse,
        "quantity": str(made.quantity),
        "produced": None if made.produced is None else str(made.produced),
        "status": made.status,
        "sales_order": made.sales_order,
        "line_no": made.line_no,
        "materials": {sku: str(qty) for sku, qty in made.materials.items()},
        "version": made.version,
    }


def _workflow_result(workflow: WorkflowDefinition) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "version": workflow.latest,
        "aggregate_version": workflow.version,
        "definition": workflow.versions[-1],
    }

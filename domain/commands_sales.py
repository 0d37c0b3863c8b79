"""Commands of the order centre: customers and sales orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.application import (
    Decision,
    IdempotencyClaim,
    LedgerBase,
    Outcome,
    ReadSkew,
    check_version,
)
from domain.credit import CreditCheck, CreditStanding, at_submission, review_shipment
from domain.customers import ACTIVE, Customer, customer_id
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.production import SCHEDULED, ProductionOrder, production_order_id
from domain.receivables import Receivable, shipped_lines
from domain.requisitions import OPEN, PurchaseRequisition, requisition_id
from domain.sales_orders import (
    APPROVED,
    CREATED,
    DELIVERED,
    SHIPPABLE,
    SHIPPED,
    ExternalReference,
    SalesOrder,
    external_reference_id,
    sales_order_id,
)
from domain.stock_items import StockItem
from domain.values import (
    MAX_AMOUNT,
    ZERO,
    Meta,
    code,
    currency,
    fraction,
    line_number,
    money,
    new_ref,
    price,
    quantity,
    text,
)
from domain.workflows import (
    DEFAULT_WORKFLOW,
    POLICY_ID,
    ApprovalFacts,
    ApprovalPolicy,
    Workflow,
    WorkflowDefinition,
    approval_levels,
    default_definition,
    levels_on_resubmission,
    workflow_id,
)

MAX_LINES = 500
REQUIREMENTS = ("packaging", "craft", "carrier", "notes")
MAX_FLAGS = 20
ZERO_ID = UUID(int=0)


def requisition_for_order_id(number: str) -> UUID:
    return requisition_id(ZERO_ID, 0, number)


class SalesCommands(LedgerBase):
    tax_rate = ZERO  # on receivables, as a fraction of the net amount (settings: TAX_RATE)
    credit: CreditCheck | None = None  # set by the runtime; None checks no credit

    def customer(self, code_: str) -> Customer:
        return self.load(Customer, customer_id(code_), f"customer {code_!r}")

    def customer_view(self, code_: str) -> Customer:
        """A customer to read, not change (see `peek`)."""
        return self.peek(Customer, customer_id(code_), f"customer {code_!r}")

    def sales_order(self, number: str) -> SalesOrder:
        return self.load(SalesOrder, sales_order_id(number), f"sales order {number!r}")

    def register_customer(
        self,
        meta: Meta,
        *,
        code_: str,
        name: str,
        contacts: list[dict[str, Any]],
        billing_address: str,
        shipping_address: str,
        region: str,
        payment_terms_days: int,
        credit_limit: Any,
        currency_code: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Open a customer account."""
        args: dict[str, Any] = {
            "code": code(code_, "customer code"),
            "name": text(name, "name"),
            "contacts": [_contact(c) for c in contacts],
            "billing_address": text(billing_address, "billing_address", max_length=500),
            "shipping_address": text(shipping_address, "shipping_address", max_length=500),
            "region": text(region, "region", max_length=64),
            "payment_terms_days": _days(payment_terms_days),
            "credit_limit": money(credit_limit, "credit_limit"),
            "currency": currency(currency_code),
        }

        def decide() -> Decision:
            self.require_absent(customer_id(args["code"]), f"customer {args['code']!r}")
            customer = Customer(**args)
            return Decision([customer], {"code": customer.code, "version": 1})

        return self.execute(meta, decide, idempotency)

    def set_customer_status(
        self,
        meta: Meta,
        *,
        code_: str,
        blocked: bool,
        reason: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Block a customer (no new orders) or lift the block, with a reason."""
        why = text(reason, "reason")

        def decide() -> Decision:
            customer = self.customer(code_)
            if blocked:
                customer.block(why)
            else:
                customer.unblock(why)
            result = {"code": customer.code, "status": customer.status, "version": customer.version}
            return Decision([customer], result)

        return self.execute(meta, decide, idempotency)

    def create_sales_order(
        self,
        meta: Meta,
        *,
        customer: str,
        warehouse: str,
        lines: list[dict[str, Any]],
        currency_code: str,
        salesperson: str,
        region: str | None = None,
        channel: str = "api",
        external_ref: str | None = None,
        number: str | None = None,
        requirements: dict[str, str] | None = None,
        requested_delivery: date | None = None,
        promised_date: date | None = None,
        workflow: str = DEFAULT_WORKFLOW,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Take an order under the newest version of its workflow; a channel's external
        reference taken twice returns the first order. `effective_at` is when the customer
        placed it (default: now), which the KPIs count cycle times and order value from."""
        taken_at = meta.effective(effective_at)
        order_number = code(number, "number") if number else new_ref("SO")
        money_code = currency(currency_code)
        clean_lines = _lines(lines, money_code)
        channel_code = code(channel, "channel")
        reference = code(external_ref, "external_ref") if external_ref else None

        def decide() -> Decision:
            if reference and self.exists(external_reference_id(channel_code, reference)):
                return Decision([], self._first_order(channel_code, reference))
            self.require_absent(sales_order_id(order_number), f"sales order {order_number!r}")
            account = self.customer_view(customer)
            if account.status != ACTIVE:
                raise RuleViolation(
                    f"customer {customer!r} is {account.status}", rule="customer-not-active"
                )
            self.warehouse(warehouse)
            for sku in {line["sku"] for line in clean_lines}:
                self.product(sku)
            definition, defaults = self._workflow_or_default(code(workflow, "workflow"))
            flow = definition.workflow()
            start = flow.stage(flow.initial)
            order = SalesOrder(
                order_number, customer, warehouse, clean_lines, money_code,
                _requirements(requirements or {}), requested_delivery, promised_date,
                text(salesperson, "salesperson", max_length=64),
                text(region if region is not None else account.region, "region", max_length=64),
                channel_code, reference, flow.name, flow.version, flow.initial, start["role"],
                flow.sla_due(flow.initial, meta.at), taken_at,
            )  # fmt: skip
            claimed = (
                [ExternalReference(channel_code, reference, order_number)] if reference else []
            )
            return Decision([order, *claimed, *defaults], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def _first_order(self, channel: str, reference: str) -> dict[str, Any]:
        claim = self.load(
            ExternalReference, external_reference_id(channel, reference), "external reference"
        )
        first = self.sales_order(claim.order_number)
        return {**_order_result(first), "duplicate_of_external_ref": reference}

    def amend_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        lines: list[dict[str, Any]] | None = None,
        requested_delivery: date | None = None,
        promised_date: date | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Change lines or dates before shipment. Changed lines give back every reservation
        and unstarted production and send a submitted order through approval again: the
        approvals given stand only if nothing the approval rules look at changed."""
        when = meta.effective(effective_at)
        if lines is None and requested_delivery is None and promised_date is None:
            raise InvalidInput("an amendment changes lines, requested_delivery or promised_date")

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            new_lines = None if lines is None else _lines(lines, order.currency)
            for sku in {line["sku"] for line in new_lines or []}:
                self.product(sku)
            flow = self._workflow_of(order)
            resubmit = new_lines is not None and order.stage != flow.initial
            if resubmit and flow.target(order.stage, "amended") is None:
                raise RuleViolation(
                    f"workflow {flow.name} v{flow.version} does not allow amending lines in"
                    f" stage {order.stage}",
                    rule="workflow-transition",
                )
            touched = self._unwind(order, "order amended", when) if new_lines is not None else []
            order.amend(new_lines, requested_delivery, promised_date, when)
            if resubmit:
                touched += self._advance(order, flow, "amended", when)
                touched += self._submit(order, flow, when, meta.at)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def submit_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Send an order for approval. The approval policy decides the levels; with none,
        the order is approved and its stock reserved in the same save."""
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            touched = self._submit(order, self._workflow_of(order), when, meta.at)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def approve_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        comment: str = "",
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Approve the level waiting on the caller's role. The last level's approval reserves
        every line in full or routes it (production or purchase) in one atomic save."""
        remark = text(comment, "comment", max_length=2000, required=False)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            flow = self._workflow_of(order)
            touched: list[Aggregate] = []
            if order.give_approval(meta.role, remark, when):
                touched = self._advance(order, flow, "approved", when, comment=remark)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def reject_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        comment: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Send the order back to its salesperson, with the reason."""
        remark = text(comment, "comment", max_length=2000)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            order.reject(meta.role, remark, when)
            touched = self._advance(
                order, self._workflow_of(order), "rejected", when, comment=remark
            )
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def transition_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        to_stage: str,
        comment: str = "",
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Move an order by hand along a manual transition of its workflow version."""
        remark = text(comment, "comment", max_length=2000, required=False)
        target = code(to_stage, "to_stage")
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            flow = self._workflow_of(order)
            roles = flow.manual_roles(order.stage, target)
            if roles is None:
                raise RuleViolation(
                    f"workflow {flow.name} v{flow.version} has no manual transition from"
                    f" {order.stage} to {target}",
                    rule="workflow-transition",
                )
            if meta.role not in roles:
                raise RuleViolation(
                    f"moving {number} from {order.stage} to {target} is for"
                    f" {', '.join(roles)}; this request acts as {meta.role or 'no role'}",
                    rule="transition-role",
                )
            touched = self._enter(order, flow, target, "manual", when, comment=remark)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def add_internal_note(self, meta: Meta, *, number: str, note: str) -> Outcome:
        """A remark on the order for staff only (shown to roles holding fields:internal)."""
        remark = text(note, "note", max_length=2000)

        def decide() -> Decision:
            order = self.sales_order(number)
            order.add_internal_note(remark, meta.actor, meta.at)
            result = {"number": order.number, "notes": len(order.internal_notes),
                      "version": order.version}  # fmt: skip
            return Decision([order], result)

        return self.execute(meta, decide)

    def record_complaint(
        self,
        meta: Meta,
        *,
        number: str,
        category: str,
        reason: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """A customer's complaint against an order, in one of the COMPLAINT_CATEGORIES."""
        kind = complaint_category(category)
        why = text(reason, "reason", max_length=2000)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            complaint_id = order.record_complaint(kind, why, when)
            result = {"number": order.number, "complaint_id": complaint_id,
                      "complaints": len(order.complaints), "version": order.version}  # fmt: skip
            return Decision([order], result)

        return self.execute(meta, decide, idempotency)

    def cancel_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Cancel before shipment: every reservation is released, production not yet started
        is cancelled and open requisitions are closed, in the same save."""
        why = text(reason, "reason")
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            order.require_status({CREATED, APPROVED}, "cancel")
            flow = self._workflow_of(order)
            if flow.target(order.stage, "cancelled") is None:
                raise RuleViolation(
                    f"workflow {flow.name} v{flow.version} does not allow cancelling in"
                    f" stage {order.stage}",
                    rule="workflow-transition",
                )
            touched = self._unwind(order, f"order cancelled: {why}", when)
            order.cancel(why, when)
            touched += self._advance(order, flow, "cancelled", when, comment=why)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def reserve_shortages(
        self,
        meta: Meta,
        *,
        number: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Reserve short lines for which stock is available now, in one atomic save."""
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            order.require_status(SHIPPABLE, "reserve stock for")
            items: dict[str, StockItem] = {}
            reserved: dict[int, Decimal] = {}
            # In line order, as at approval ("10" sorts before "2" as text).
            for key, qty in sorted(order.short.items(), key=lambda kv: int(kv[0])):
                sku = order.line(int(key))["sku"]
                item = items.get(sku) or self.stock_item(sku, order.warehouse)
                items[sku] = item
                if qty <= item.available:
                    item.reserve(order.number, qty, when)
                    reserved[int(key)] = qty
            if not reserved:
                raise RuleViolation(
                    f"no short line of {number} can be covered from stock yet",
                    rule="shortage-not-covered",
                )
            if len(reserved) < len(order.short):
                self.confirm_on_fresh_reads()  # what stays short must not rest on a stale copy
            order.reserve_shortages(reserved, when)
            touched: list[Aggregate] = [item for item in items.values() if item.pending_events]
            touched += self._close_covered_requisitions(order, when)
            if not order.short:
                touched += self._advance(order, self._workflow_of(order), "stock_covered", when)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def ship_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        lines: dict[Any, Any],
        carrier: str,
        tracking_number: str,
        shipment_ref: str | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Ship (part of) an order: stock leaves out of its reservation, in the same save."""
        if not lines:
            raise InvalidInput("a shipment needs at least one line")
        quantities: dict[int, Decimal] = {}
        for no, qty in lines.items():
            if line_number(no) in quantities:
                raise InvalidInput(f"line {no} appears twice in one shipment")
            quantities[line_number(no)] = quantity(qty, f"line {no} quantity")
        ref = code(shipment_ref, "shipment_ref") if shipment_ref else new_ref("SHP")
        who = text(carrier, "carrier", max_length=64)
        tracking = text(tracking_number, "tracking_number", max_length=64)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            order.check_shipment(ref, quantities)
            customer = self.customer_view(order.customer)
            held = review_shipment(
                self.credit, customer, order, quantities, self.tax_rate, meta, ref, when
            )
            if held is not None:  # the hold is stored, the shipment is not
                return Decision([order], _order_result(order), refusal=held)
            order.ship(ref, quantities, who, tracking, when)
            per_sku: dict[str, Decimal] = {}
            for line_no, qty in quantities.items():
                sku = order.line(line_no)["sku"]
                per_sku[sku] = per_sku.get(sku, ZERO) + qty
            items: list[Aggregate] = [
                self.stock_item(sku, order.warehouse, open_if_missing=False) for sku in per_sku
            ]
            for item in items:
                assert isinstance(item, StockItem)
                try:
                    item.issue_for_shipment(order.number, per_sku[item.sku], ref, when)
                except RuleViolation:
                    # The order and its reservation change in one save: if the order says
                    # shippable and the item disagrees, another shipment may have landed
                    # between the two reads (or the reservation was released by hand).
                    if self.read_skew_possible():
                        raise ReadSkew from None
                    raise
            trigger = "shipped" if order.status == SHIPPED else "partially_shipped"
            items += self._advance(order, self._workflow_of(order), trigger, when)
            # What the customer now owes, recognised in the shipment's own save.
            owed = Receivable.for_shipment(
                order.number, ref, order.customer, order.currency,
                shipped_lines(order.lines, quantities, order.currency), self.tax_rate, when,
            )  # fmt: skip
            result = {
                **_order_result(order), "shipment_ref": ref, "tracking_number": tracking,
                "receivable": {"id": str(owed.id), "net": str(owed.net), "tax": str(owed.tax),
                               "total": str(owed.total), "currency": owed.currency},
            }  # fmt: skip
            return Decision([order, *_unique(items), owed], result)

        return self.execute(meta, decide, idempotency)

    def confirm_delivery(
        self,
        meta: Meta,
        *,
        number: str,
        shipment_ref: str,
        signed_by: str,
        proof_ref: str = "",
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Record the customer's sign-off for a shipment."""
        signer = text(signed_by, "signed_by")
        proof = text(proof_ref, "proof_ref", required=False)
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            order.confirm_delivery(shipment_ref, signer, proof, when)
            touched: list[Aggregate] = []
            if order.status == DELIVERED:
                touched = self._advance(order, self._workflow_of(order), "delivered", when)
            return Decision([order, *_unique(touched)], _order_result(order))

        return self.execute(meta, decide, idempotency)

    # -- the process engine ------------------------------------------------------------------

    def workflow_definition(self, name: str) -> WorkflowDefinition:
        return self.load(WorkflowDefinition, workflow_id(name), f"workflow {name!r}")

    def approval_policy(self) -> ApprovalPolicy | None:
        try:
            return self.load(ApprovalPolicy, POLICY_ID, "approval policy")
        except NotFound:
            return None

    def _workflow_of(self, order: SalesOrder) -> Workflow:
        """The definition version the order started with."""
        return self.workflow_definition(order.workflow).workflow(order.workflow_version)

    def _workflow_or_default(self, name: str) -> tuple[WorkflowDefinition, list[Aggregate]]:
        """The named workflow; the built-in `standard` (and an empty approval policy) is
        published with the first order that needs it."""
        try:
            return self.workflow_definition(name), []
        except NotFound:
            if name != DEFAULT_WORKFLOW:
                raise
        definition = WorkflowDefinition(DEFAULT_WORKFLOW, default_definition())
        defaults: list[Aggregate] = [definition]
        if self.approval_policy() is None:
            defaults.append(ApprovalPolicy({"rules": [], "description": "no approval needed"}))
        return definition, defaults

    def _facts(
        self, order: SalesOrder, now: datetime
    ) -> tuple[ApprovalFacts, CreditStanding | None]:
        customer = self.customer_view(order.customer)
        credit = at_submission(self.credit, customer, order, now)
        facts = ApprovalFacts(
            amount=order.total,
            currency=order.currency,
            max_discount=max((Decimal(line["discount"]) for line in order.lines), default=ZERO),
            non_standard=any(not self.product(sku).standard for sku in order.skus),
            customer_flags=tuple(sorted(customer.flags)),
            credit_over_limit=credit.over_limit if credit else False,
            credit_score=credit.score if credit else None,
        )
        return facts, credit

    def _submit(
        self, order: SalesOrder, flow: Workflow, when: datetime, now: datetime
    ) -> list[Aggregate]:
        """Judge the order by the current approval policy: levels to wait for, or approved
        now (also when an amendment left the order's own facts unchanged and credit asks
        for no level it did not ask for before). The credit figures judged are recorded."""
        judged, credit = self._facts(order, now)
        facts = {**judged.as_dict(), "credit": credit.figures() if credit else None}
        policy = self.approval_policy()
        approved = order.approved_facts
        before = ApprovalFacts.from_dict(approved) if approved is not None else None
        levels: list[dict[str, str]] = []
        if policy is not None and before and judged.order_facts() == before.order_facts():
            levels = levels_on_resubmission(policy.current, judged, before)
        elif policy is not None:
            levels = approval_levels(policy.current, judged)
        order.submit(levels, facts, policy.latest if policy else None, when)
        if levels:
            return self._advance(order, flow, "submitted", when, role=levels[0]["role"])
        return self._advance(order, flow, "approved", when)

    def _advance(
        self,
        order: SalesOrder,
        flow: Workflow,
        trigger: str,
        when: datetime,
        *,
        comment: str = "",
        role: str | None = None,
    ) -> list[Aggregate]:
        """Follow `trigger` out of the order's stage, if the definition has it."""
        target = flow.target(order.stage, trigger)
        if target is None:
            return []
        return self._enter(order, flow, target, trigger, when, comment=comment, role=role)

    def _enter(
        self,
        order: SalesOrder,
        flow: Workflow,
        target: str,
        trigger: str,
        when: datetime,
        *,
        comment: str = "",
        role: str | None = None,
    ) -> list[Aggregate]:
        """Enter a stage and run its actions; returns the other aggregates they touched."""
        stage = flow.stage(target)
        if role is None and order.awaiting_approval:
            role = order.current_level("approve")[1]["role"]
        order.change_stage(
            target, trigger, role or stage["role"], "notify" in stage["on_enter"],
            flow.sla_due(target, when), comment, when,
        )  # fmt: skip
        touched: list[Aggregate] = []
        if "reserve_stock" in stage["on_enter"]:
            touched += self._allocate(order, when)
        if "create_production" in stage["on_enter"]:
            touched += self._route_shortages(order, when)
        if "reserve_stock" in stage["on_enter"]:
            trigger = "stock_short" if order.short else "stock_covered"
            touched += self._advance(order, flow, trigger, when)
        return touched

    def _allocate(self, order: SalesOrder, when: datetime) -> list[Aggregate]:
        """Every line reserved in full or recorded short: all lines decided in one save."""
        items: dict[str, StockItem] = {}
        reserved: dict[int, Decimal] = {}
        short: dict[int, Decimal] = {}
        for line in order.lines:
            sku, qty = line["sku"], Decimal(line["quantity"])
            item = items.get(sku) or self.stock_item(sku, order.warehouse)
            items[sku] = item
            if qty <= item.available:
                item.reserve(order.number, qty, when)
                reserved[line["line_no"]] = qty
            else:  # routed to production or purchasing, never silently dropped
                short[line["line_no"]] = qty
        if short:
            self.confirm_on_fresh_reads()  # "short" must not rest on a stale cached item
        order.allocate(reserved, short, when)
        return [item for item in items.values() if item.pending_events]

    def _route_shortages(self, order: SalesOrder, when: datetime) -> list[Aggregate]:
        """A production order per short make line, a purchase requisition per buy line."""
        created: list[Aggregate] = []
        routes: list[dict[str, Any]] = []
        waiting = order.routed_lines
        for key, qty in sorted(order.short.items(), key=lambda kv: int(kv[0])):
            line_no = int(key)
            if line_no in waiting:
                continue
            sku = order.line(line_no)["sku"]
            attempt = (
                1
                + sum(1 for made in order.production.values() if made["line_no"] == line_no)
                + sum(1 for no in order.requisitions.values() if no == line_no)
            )
            if self.product(sku).make_or_buy == "make":
                document = f"PRD-{order.number}-L{line_no}-{attempt}"
                created.append(
                    ProductionOrder(
                        document, sku, order.warehouse, qty, order.number, line_no, when
                    )
                )
                kind = "production"
            else:
                document = f"REQ-{order.number}-L{line_no}-{attempt}"
                stock = StockItem.create_id(sku, order.warehouse)
                why = f"short for sales order {order.number} line {line_no}"
                requisition = PurchaseRequisition(
                    stock, 0, document, sku, order.warehouse, qty, why, document
                )
                created.append(requisition)
                kind = "purchase"
            routes.append({"line_no": line_no, "sku": sku, "quantity": qty,
                           "kind": kind, "document": document})  # fmt: skip
        if routes:
            order.route_shortages(routes, when)
        return created

    def _unwind(self, order: SalesOrder, why: str, when: datetime) -> list[Aggregate]:
        """Give back what the order holds: reservations, production not yet started (started
        production goes on, for stock), open requisitions raised for it."""
        touched: list[Aggregate] = list(self._release_all(order, when))
        for number, made in sorted(order.production.items()):
            if made["status"] in ("cancelled", "detached", "received"):
                continue
            production = self.load(
                ProductionOrder, production_order_id(number), f"production order {number!r}"
            )
            if production.status == SCHEDULED:
                production.cancel(why, when)
                order.production_progressed(number, "cancelled", when)
            else:
                order.production_progressed(number, "detached", when)
            touched.append(production)
        for number in sorted(order.requisitions):
            requisition = self.load(
                PurchaseRequisition, requisition_for_order_id(number), f"requisition {number!r}"
            )
            if requisition.status == OPEN:
                requisition.close(None, why)
                touched.append(requisition)
        return touched

    def _close_covered_requisitions(self, order: SalesOrder, when: datetime) -> list[Aggregate]:
        """Lines stock now covers need no purchase any more: their open requisitions close."""
        closed: list[Aggregate] = []
        for number, line_no in sorted(order.requisitions.items()):
            if number in order.closed_requisitions or str(line_no) in order.short:
                continue
            requisition = self.load(
                PurchaseRequisition, requisition_for_order_id(number), f"requisition {number!r}"
            )
            if requisition.status == OPEN:
                requisition.close(None, f"line {line_no} of {order.number} covered from stock")
                closed.append(requisition)
        return closed

    def _release_all(self, order: SalesOrder, when: datetime) -> list[StockItem]:
        items = []
        for sku in order.skus if order.reserved else ():
            item = self.stock_item(sku, order.warehouse, open_if_missing=False)
            if item.reservations.get(order.number, ZERO) > 0:
                item.release(order.number, None, when)
                items.append(item)
        return items

    def set_customer_flags(
        self,
        meta: Meta,
        *,
        code_: str,
        flags: list[str],
        reason: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Replace a customer's flags (read by the approval rules, e.g. `credit_watch`)."""
        if not isinstance(flags, list) or len(flags) > MAX_FLAGS:
            raise InvalidInput(f"flags is a list of at most {MAX_FLAGS} codes")
        clean = sorted({code(flag, "flag") for flag in flags})
        why = text(reason, "reason")

        def decide() -> Decision:
            customer = self.customer(code_)
            customer.set_flags(clean, why)
            result = {"code": customer.code, "flags": clean, "version": customer.version}
            return Decision([customer], result)

        return self.execute(meta, decide, idempotency)


def _unique(aggregates: list[Aggregate]) -> list[Aggregate]:
    """Each aggregate once (the same stock item may be touched by two actions)."""
    return list({aggregate.id: aggregate for aggregate in aggregates}.values())


def _order_result(order: SalesOrder) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "stage": order.stage,
        "version": order.version,
        "total": str(order.total),
        "reserved": {k: str(v) for k, v in order.reserved.items()},
        "short": {k: str(v) for k, v in order.short.items()},
        "shipped": {k: str(v) for k, v in order.shipped.items()},
        "awaiting_role": order.current_level("approve")[1]["role"]
        if order.awaiting_approval
        else None,
        "production": sorted(order.production),
        "requisitions": sorted(order.requisitions),
    }


def _lines(lines: list[dict[str, Any]], currency_code: str) -> list[dict[str, Any]]:
    if not lines:
        raise InvalidInput("a sales order needs at least one line")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a sales order has at most {MAX_LINES} lines")
    clean = [
        {
            "line_no": no,
            "sku": code(line.get("sku"), f"line {no} sku"),
            "quantity": quantity(line.get("quantity"), f"line {no} quantity"),
            "unit_price": price(line.get("unit_price"), currency_code, f"line {no} unit_price"),
            "discount": fraction(line.get("discount", "0"), f"line {no} discount"),
        }
        for no, line in enumerate(lines, start=1)
    ]
    _check_amounts(clean)
    return clean


def _check_amounts(lines: list[dict[str, Any]]) -> None:
    """Each field has its own bound; their product must stay an amount the ledger can hold."""
    with localcontext() as exact:
        exact.prec = 60  # 10^12 units × 10^15 per unit fits without rounding
        total = ZERO
        for line in lines:
            amount = line["quantity"] * line["unit_price"]
            if amount > MAX_AMOUNT:
                raise InvalidInput(f"line {line['line_no']} is worth more than {MAX_AMOUNT}")
            total += amount
        if total > MAX_AMOUNT:
            raise InvalidInput(f"the order is worth more than {MAX_AMOUNT}")


def _requirements(given: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(REQUIREMENTS)
    if unknown:
        raise InvalidInput(f"unknown requirement {sorted(unknown)[0]!r}; known: {REQUIREMENTS}")
    return {key: text(value, key, max_length=2000) for key, value in given.items()}


def _contact(contact: dict[str, Any]) -> dict[str, str]:
    return {
        "name": text(contact.get("name"), "contact name"),
        "email": text(contact.get("email", ""), "contact email", required=False),
        "phone": text(contact.get("phone", ""), "contact phone", max_length=40, required=False),
    }


def _days(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
        raise InvalidInput(
            f"payment_terms_days must be a whole number from 0 to 365, got {value!r}"
        )
    return value


COMPLAINT_CATEGORIES = ("quality", "late", "damaged", "wrong_items", "quantity", "billing", "other")


def complaint_category(value: object) -> str:
    if value not in COMPLAINT_CATEGORIES:
        raise InvalidInput(
            f"category must be one of {', '.join(COMPLAINT_CATEGORIES)}, got {value!r}"
        )
    return str(value)

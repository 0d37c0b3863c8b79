"""Random streams of shipments, invoices, payments, allocations and reversals: no allocation
ever exceeds a payment or an invoice's open amount, open = invoiced − allocated ≥ 0 at every
step, and a refused command stores nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.exceptions import DomainError
from domain.ledger import Ledger
from tests.conftest import command_meta as meta

D = Decimal
DAY0 = date(2026, 1, 5)
AMOUNTS = st.integers(min_value=1, max_value=4000).map(lambda cents: D(cents) / 100)


class AllocationMachine(RuleBasedStateMachine):
    """One customer, one SKU; shipments become invoices, payments are applied and undone."""

    @initialize()
    def setup(self) -> None:
        self.ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
        m = meta
        self.ledger.register_warehouse(m(), code_="WH1", name="Main")
        self.ledger.register_product(
            m(), sku="SKU-1", name="Widget", unit="pcs", make_or_buy="buy", standard=True,
            list_price="10", standard_cost="4", currency_code="EUR",
        )  # fmt: skip
        self.ledger.register_customer(
            m(), code_="C-1", name="Contoso", contacts=[], billing_address="a",
            shipping_address="b", region="north", payment_terms_days=30, credit_limit="0",
            currency_code="EUR",
        )  # fmt: skip
        self.ledger.receive_finished_goods(
            m(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_="1000000"
        )
        self.orders = 0
        self.pending: list[tuple[str, str]] = []  # shipments not yet invoiced
        self.invoices: list[str] = []
        self.payments: list[str] = []
        self.day = DAY0

    def attempt(self, call: object) -> bool:
        """Run a command; a refusal must store nothing."""
        head = self.ledger.head()
        try:
            call()  # type: ignore[operator]
        except DomainError:
            assert self.ledger.head() == head, "a refused command stored events"
            return False
        return True

    @rule(quantity=st.integers(1, 20), price=AMOUNTS)
    def ship_an_order(self, quantity: int, price: Decimal) -> None:
        self.orders += 1
        number = f"SO-{self.orders}"
        self.ledger.create_sales_order(
            meta(), number=number, customer="C-1", warehouse="WH1", currency_code="EUR",
            salesperson="ann", lines=[{"sku": "SKU-1", "quantity": str(quantity),
                                       "unit_price": str(price)}],
        )  # fmt: skip
        self.ledger.submit_sales_order(meta(), number=number)
        self.ledger.ship_sales_order(
            meta(), number=number, lines={1: str(quantity)}, carrier="DHL",
            tracking_number="T", shipment_ref=f"SH-{self.orders}",
        )  # fmt: skip
        self.pending.append((number, f"SH-{self.orders}"))

    @rule(take=st.integers(1, 3), days=st.integers(0, 5))
    def invoice_shipments(self, take: int, days: int) -> None:
        if not self.pending:
            return
        billed, self.pending = self.pending[:take], self.pending[take:]
        self.day += timedelta(days=days)
        outcome = self.ledger.issue_invoice(
            meta(), customer="C-1", invoice_date=self.day,
            shipments=[{"order_number": o, "shipment_ref": s} for o, s in billed],
        )  # fmt: skip
        self.invoices.append(outcome.result["number"])

    @rule(amount=AMOUNTS)
    def receive_a_payment(self, amount: Decimal) -> None:
        ref = f"BANK-{len(self.payments) + 1}"
        self.ledger.record_payment(
            meta(), bank_ref=ref, payer="Contoso", amount=str(amount), currency_code="EUR",
            value_date=self.day,
        )  # fmt: skip
        self.payments.append(ref)

    @rule(data=st.data(), amount=AMOUNTS)
    def allocate(self, data: st.DataObject, amount: Decimal) -> None:
        if not self.payments or not self.invoices:
            return
        payment = self.ledger.payment(data.draw(st.sampled_from(self.payments)))
        invoice = self.ledger.invoice(data.draw(st.sampled_from(self.invoices)))
        if data.draw(st.booleans()):  # often exactly what can go: the edge
            amount = min(payment.unapplied, invoice.open_amount) or amount
        fits = amount <= payment.unapplied and amount <= invoice.open_amount
        done = self.attempt(
            lambda: self.ledger.allocate_payment(
                meta(), bank_ref=payment.bank_ref, invoice_number=invoice.number, amount=amount
            )
        )
        assert done == fits, (amount, payment.unapplied, invoice.open_amount)
        event("allocation applied" if done else "allocation refused")

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.payments:
            return
        payment = self.ledger.payment(data.draw(st.sampled_from(self.payments)))
        if not payment.allocations:
            return
        allocation = data.draw(st.sampled_from(sorted(payment.allocations)))
        was_active = payment.allocations[allocation]["active"]
        done = self.attempt(
            lambda: self.ledger.unallocate_payment(
                meta(), bank_ref=payment.bank_ref, allocation_id=allocation, reason="undo"
            )
        )
        assert done == was_active
        event("reversal done" if done else "reversal refused")

    @invariant()
    def nothing_is_over_applied(self) -> None:
        if not hasattr(self, "ledger"):
            return
        applied_to: dict[str, Decimal] = {}
        for ref in self.payments:
            payment = self.ledger.payment(ref)
            active = [a for a in payment.allocations.values() if a["active"]]
            assert payment.unapplied == payment.amount - sum((a["amount"] for a in active), D(0))
            assert payment.unapplied >= 0
            for a in active:
                applied_to[a["invoice_number"]] = (
                    applied_to.get(a["invoice_number"], D(0)) + a["amount"]
                )
        for number in self.invoices:
            invoice = self.ledger.invoice(number)
            assert invoice.applied == applied_to.get(number, D(0))
            assert invoice.open_amount == invoice.total - invoice.applied >= 0

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()


AllocationMachine.TestCase.settings = settings(
    settings.default,
    max_examples=5 * settings.default.max_examples,
    stateful_step_count=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAllocations = AllocationMachine.TestCase

"""Random streams of shipments, invoices, payments, allocations and reversals, credit notes
(returns and price corrections, some cancelled) and write-offs (approved, rejected, refused):
no allocation ever exceeds a payment or an invoice's open amount; open = invoiced − allocated −
credited − written off ≥ 0 at every step; a credit or write-off never takes an invoice below
zero as of its own date or any later one; and a refused command stores nothing.

A small model kept here (the specification, written independently of the domain code) says
what each credit note should come to and whether each command may pass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.exceptions import DomainError, InvalidInput, RuleViolation
from domain.ledger import Ledger
from domain.values import Meta
from tests.conftest import command_meta as meta

D = Decimal
DAY0 = date(2026, 1, 5)
AMOUNTS = st.integers(min_value=1, max_value=4000).map(lambda cents: D(cents) / 100)
RATE = D("0.19")
CENT = D("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def acting(actor: str, role: str | None) -> Meta:
    return replace(meta(actor=actor), role=role)


@dataclass
class Line:
    """One order's single line as an invoice billed it, and what came back."""

    quantity: int
    price: Decimal
    discount: Decimal
    amount: Decimal
    returned: int = 0
    returned_amount: Decimal = Decimal(0)


@dataclass
class Span:
    """A dated reduction of what an invoice owes: in force from `start` until `end`."""

    amount: Decimal
    start: date
    end: date | None = None

    def counts(self, day: date | None) -> bool:
        if day is None:  # after everything recorded
            return self.end is None
        return self.start <= day and (self.end is None or self.end > day)


@dataclass
class Note:
    invoice: str
    net: Decimal
    tax: Decimal
    returned: dict[str, tuple[int, Decimal]]  # order -> quantity, amount


@dataclass
class Books:
    """What the model knows of one invoice."""

    total: Decimal
    net: Decimal
    tax: Decimal
    lines: dict[str, Line]
    spans: dict[str, Span] = field(default_factory=dict)  # allocations, credits, write-offs

    def owed(self, day: date | None = None) -> Decimal:
        """Owed as of `day` (None: after everything recorded)."""
        return self.total - sum((s.amount for s in self.spans.values() if s.counts(day)), D(0))

    def room(self, day: date) -> Decimal:
        """The most a reduction dated `day` may take: the least owed on `day` or after."""
        later = {d for s in self.spans.values() for d in (s.start, s.end) if d and d > day}
        return min(self.owed(t) for t in {day} | later)


class AllocationMachine(RuleBasedStateMachine):
    """One customer, one SKU; shipments become invoices (taxed at 19 %), payments are applied
    and undone, invoices are credited and written off."""

    @initialize()
    def setup(self) -> None:
        self.ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, tax_rate=RATE)
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
        self.shipped: dict[str, Line] = {}
        self.invoices: list[str] = []
        self.payments: list[str] = []
        self.books: dict[str, Books] = {}
        self.notes: dict[str, Note] = {}
        self.cancelled: set[str] = set()
        self.write_offs: dict[str, tuple[str, Decimal]] = {}  # id -> invoice, amount
        self.decided: set[str] = set()
        self.day = DAY0

    def attempt(self, call: object) -> DomainError | None:
        """Run a command; a refusal must store nothing."""
        head = self.ledger.head()
        try:
            call()  # type: ignore[operator]
        except DomainError as error:
            assert self.ledger.head() == head, "a refused command stored events"
            return error
        return None

    # -- shipping, invoicing, paying --------------------------------------------------------

    @rule(quantity=st.integers(1, 20), price=AMOUNTS,
          discount=st.sampled_from(["0", "0.1", "0.125"]))  # fmt: skip
    def ship_an_order(self, quantity: int, price: Decimal, discount: str) -> None:
        self.orders += 1
        number = f"SO-{self.orders}"
        self.ledger.create_sales_order(
            meta(), number=number, customer="C-1", warehouse="WH1", currency_code="EUR",
            salesperson="ann", lines=[{"sku": "SKU-1", "quantity": str(quantity),
                                       "unit_price": str(price), "discount": discount}],
        )  # fmt: skip
        self.ledger.submit_sales_order(meta(), number=number)
        self.ledger.ship_sales_order(
            meta(), number=number, lines={1: str(quantity)}, carrier="DHL",
            tracking_number="T", shipment_ref=f"SH-{self.orders}",
        )  # fmt: skip
        self.pending.append((number, f"SH-{self.orders}"))
        amount = cents(quantity * price * (1 - D(discount)))
        self.shipped[number] = Line(quantity, price, D(discount), amount)

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
        number = outcome.result["number"]
        self.invoices.append(number)
        lines = {order: self.shipped[order] for order, _ in billed}
        net = sum((line.amount for line in lines.values()), D(0))
        tax = sum((cents(line.amount * RATE) for line in lines.values()), D(0))
        self.books[number] = Books(net + tax, net, tax, lines)
        assert D(outcome.result["total"]) == net + tax

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
        refused = self.attempt(
            lambda: self.ledger.allocate_payment(
                meta(), bank_ref=payment.bank_ref, invoice_number=invoice.number, amount=amount
            )
        )
        assert (refused is None) == fits, (amount, payment.unapplied, invoice.open_amount)
        if refused is None:
            allocation = f"{payment.bank_ref}-A{len(payment.allocations) + 1}"
            self.books[invoice.number].spans[allocation] = Span(amount, payment.value_date)
        event("allocation applied" if refused is None else "allocation refused")

    @rule(data=st.data(), later=st.integers(0, 20))
    def reverse(self, data: st.DataObject, later: int) -> None:
        if not self.payments:
            return
        payment = self.ledger.payment(data.draw(st.sampled_from(self.payments)))
        if not payment.allocations:
            return
        allocation = data.draw(st.sampled_from(sorted(payment.allocations)))
        was_active = payment.allocations[allocation]["active"]
        dated = self.day + timedelta(days=later)  # sometimes after later credits' dates
        refused = self.attempt(
            lambda: self.ledger.unallocate_payment(
                meta(),
                bank_ref=payment.bank_ref,
                allocation_id=allocation,
                reason="undo",
                effective_date=dated,
            )
        )
        assert (refused is None) == was_active
        if refused is None:
            books = self.books[payment.allocations[allocation]["invoice_number"]]
            books.spans[allocation].end = dated
        event("reversal done" if refused is None else "reversal refused")

    # -- credit notes ------------------------------------------------------------------------

    @rule(data=st.data(), extra=st.integers(0, 2))
    def return_goods(self, data: st.DataObject, extra: int) -> None:
        if not self.invoices:
            return
        number = data.draw(st.sampled_from(self.invoices))
        books = self.books[number]
        order = data.draw(st.sampled_from(sorted(books.lines)))
        line = books.lines[order]
        left_qty = line.quantity - line.returned
        qty = data.draw(st.integers(1, max(1, left_qty))) + (extra if extra == 2 else 0)
        left = line.amount - line.returned_amount
        net = left if line.returned + qty == line.quantity else min(
            left, cents(qty * line.price * (1 - line.discount))
        )  # fmt: skip
        self._credit(number, net, {order: (qty, net)}, qty_ok=qty <= left_qty, lines=[
            {"order_number": order, "line_no": 1, "quantity": str(qty)},
        ])  # fmt: skip

    @rule(data=st.data(), amount=AMOUNTS)
    def correct_a_price(self, data: st.DataObject, amount: Decimal) -> None:
        if not self.invoices:
            return
        number = data.draw(st.sampled_from(self.invoices))
        self._credit(number, amount, {}, qty_ok=True, amount=amount)

    def _credit(
        self, number: str, net: Decimal, returned: dict[str, tuple[int, Decimal]], *,
        qty_ok: bool, **fields: object,
    ) -> None:  # fmt: skip
        books = self.books[number]
        live = self.live_notes(number)
        credited_net = sum((n.net for n in live), D(0))
        tax_left = books.tax - sum((n.tax for n in live), D(0))
        tax = tax_left if credited_net + net >= books.net else min(tax_left, cents(net * RATE))
        kind = "return" if returned else "price_correction"
        refused = self.attempt(
            lambda: self.ledger.issue_credit_note(
                meta(),
                invoice_number=number,
                kind=kind,
                reason="r",
                credit_note_date=self.day,
                **fields,  # type: ignore[arg-type]
            )
        )
        room = books.room(self.day)
        if not qty_ok:
            assert isinstance(refused, RuleViolation), refused
            assert refused.rule == "return-over-shipped"
        elif net <= 0:
            assert isinstance(refused, InvalidInput), refused
        else:
            assert (refused is None) == (net + tax <= room), (refused, net, tax, room)
        event(f"{kind} {'refused' if refused else 'credited'}")
        if refused is not None:
            return
        note = f"CN-{self.day.year}-{len(self.notes) + 1:06d}"  # one year in these runs
        found = self.ledger.credit_note(note)
        assert (found.net, found.tax, found.total) == (net, tax, net + tax)
        self.notes[note] = Note(number, net, tax, returned)
        books.spans[note] = Span(net + tax, self.day)
        for order, (qty, amount) in returned.items():
            books.lines[order].returned += qty
            books.lines[order].returned_amount += amount

    @rule(data=st.data(), later=st.integers(0, 10))
    def cancel_a_credit_note(self, data: st.DataObject, later: int) -> None:
        if not self.notes:
            return
        note = data.draw(st.sampled_from(sorted(self.notes)))
        number, returned = self.notes[note].invoice, self.notes[note].returned
        dated = self.day + timedelta(days=later)
        refused = self.attempt(
            lambda: self.ledger.cancel_credit_note(
                meta(), number=note, reason="mistake", effective_date=dated
            )
        )
        assert (refused is None) == (note not in self.cancelled), refused
        if refused is None:
            self.cancelled.add(note)
            self.books[number].spans[note].end = dated
            for order, (qty, amount) in returned.items():
                self.books[number].lines[order].returned -= qty
                self.books[number].lines[order].returned_amount -= amount

    def live_notes(self, number: str) -> list[Note]:
        return [n for k, n in self.notes.items() if n.invoice == number and k not in self.cancelled]

    # -- write-offs --------------------------------------------------------------------------

    @rule(data=st.data(), amount=AMOUNTS)
    def request_a_write_off(self, data: st.DataObject, amount: Decimal) -> None:
        if not self.invoices:
            return
        number = data.draw(st.sampled_from(self.invoices))
        books = self.books[number]
        if data.draw(st.booleans()) and books.owed() > 0:
            amount = books.owed()
        refused = self.attempt(
            lambda: self.ledger.request_write_off(
                acting("ann", None), invoice_number=number, amount=amount, reason="small"
            )
        )
        assert (refused is None) == (amount <= books.owed()), refused
        if refused is None:
            count = sum(1 for w in self.write_offs.values() if w[0] == number)
            self.write_offs[f"{number}-W{count + 1}"] = (number, amount)

    @rule(data=st.data(), later=st.integers(0, 10),
          who=st.sampled_from(["approver", "requester", "no role", "rejecter"]))  # fmt: skip
    def decide_a_write_off(self, data: st.DataObject, later: int, who: str) -> None:
        if not self.write_offs:
            return
        key = data.draw(st.sampled_from(sorted(self.write_offs)))
        number, amount = self.write_offs[key]
        dated = self.day + timedelta(days=later)
        deciders = {"approver": acting("boss", "finance_manager"),
                    "requester": acting("ann", "manager"), "no role": acting("boss", "sales"),
                    "rejecter": acting("boss", "manager")}  # fmt: skip
        decider = deciders[who]
        if who == "rejecter":
            call = lambda: self.ledger.reject_write_off(decider, write_off_id=key, reason="no")  # noqa: E731
        else:
            call = lambda: self.ledger.approve_write_off(  # noqa: E731
                decider, write_off_id=key, effective_date=dated
            )
        refused = self.attempt(call)
        books = self.books[number]
        expected = (
            "write-off-role" if who == "no role"
            else "write-off-decided" if key in self.decided
            else "write-off-self-approval" if who == "requester"
            else "over-write-off" if who == "approver" and amount > books.room(dated)
            else None
        )  # fmt: skip
        assert (refused.rule if refused else None) == expected, (who, refused)
        event(f"write-off {expected or who}")
        if refused is None:
            self.decided.add(key)
            if who == "approver":
                books.spans[key] = Span(amount, dated)

    # -- invariants --------------------------------------------------------------------------

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
            assert invoice.open_amount == (
                invoice.total - invoice.applied - invoice.credited - invoice.written_off
            ) >= 0  # fmt: skip
            assert invoice.open_amount == self.books[number].owed()

    @invariant()
    def credits_never_give_back_more_than_was_billed(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for number in self.invoices:
            books, invoice = self.books[number], self.ledger.invoice(number)
            live = self.live_notes(number)
            assert invoice.credited == sum((n.net + n.tax for n in live), D(0))
            assert sum((n.tax for n in live), D(0)) <= books.tax
            for line in books.lines.values():
                assert 0 <= line.returned <= line.quantity
                assert 0 <= line.returned_amount <= line.amount
                if line.returned == line.quantity:  # all back: to the cent, no residue
                    assert line.returned_amount == line.amount

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

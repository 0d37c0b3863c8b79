"""Random receivables histories, replayed day by day: on every date of the span the ageing
total equals the open-items total equals an independent model's open total, per currency;
every bucket is non-negative; every invoice sits in the bucket of its days past due.

Invoices, payments, allocations and reversals go through the ledger's commands with random
business dates (effective and reversal dates need not follow the order they are recorded
in); credits (some reversed) are rows written straight into `invoice_credits`. The
receivables projection folds the log into a real SQLite or PostgreSQL store.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.settings import Settings
from domain.ledger import Ledger
from projections import ar, queries
from projections.receivables import ReceivablesProjection
from projections.runner import ProjectionRunner
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore
from tests.conftest import POSTGRES_URL, command_meta, require_postgres
from tests.integration.ar_data import CREDIT_COLUMNS

D = Decimal
CENT = D("0.01")
DAY0 = date(2025, 12, 10)  # invoices fall on both sides of a year end: two number series
SPAN = 185  # days checked after DAY0: past the over-90 edge of the latest due date
CUSTOMERS = {"C-1": (0, "EUR"), "C-2": (30, "EUR"), "C-3": (45, "USD")}  # terms, currency

invoice_plans = st.lists(
    st.tuples(st.sampled_from(sorted(CUSTOMERS)), st.integers(0, 40), st.integers(1, 500_000)),
    min_size=1,
    max_size=10,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 99), st.integers(1, 100), st.integers(-5, 130)),
        st.tuples(st.just("reverse"), st.integers(0, 99), st.integers(-5, 150)),
        st.tuples(
            st.just("credit"),
            st.integers(0, 99),
            st.integers(1, 100),
            st.integers(-5, 130),
            st.one_of(st.none(), st.integers(0, 150)),
        ),
    ),
    max_size=24,
)


@dataclass
class Model:
    """What the history says, kept independently of the read model."""

    invoices: dict[str, tuple[str, str, Decimal, date, date]] = field(default_factory=dict)
    # allocation or credit id → (invoice, amount, effective, reversed or None)
    applied: dict[str, list[Any]] = field(default_factory=dict)

    def open_on(self, day: date) -> dict[str, tuple[str, str, Decimal, int]]:
        less: dict[str, Decimal] = defaultdict(Decimal)
        for number, amount, effective, reversed_on in self.applied.values():
            if effective <= day and (reversed_on is None or reversed_on > day):
                less[number] += amount
        owed = {}
        for number, (who, currency, total, dated, due) in self.invoices.items():
            if dated <= day and total - less[number] > 0:
                owed[number] = (who, currency, total - less[number], max(0, (day - due).days))
        return owed


def bucket(days_past_due: int) -> str:
    if days_past_due == 0:
        return "not_due"
    for name, last in (("days_1_30", 30), ("days_31_60", 60), ("days_61_90", 90)):
        if days_past_due <= last:
            return name
    return "over_90"


@contextmanager
def view_store(kind: str) -> Iterator[ViewStore]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            store: ViewStore = SQLiteViewStore(str(Path(folder) / "views.db"))
            try:
                yield store
            finally:
                store.close()
        return
    conninfo = Settings(database_url=POSTGRES_URL).postgres_conninfo()
    schema = f"t_{uuid.uuid4().hex[:10]}_ageing"
    store = PostgresViewStore(conninfo, schema, pool_size=1)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def master_data(ledger: Ledger) -> None:
    m = command_meta
    ledger.register_warehouse(m(), code_="WH1", name="Main")
    ledger.register_product(
        m(), sku="SKU-1", name="Widget", unit="pcs", make_or_buy="buy", standard=True,
        list_price="10", standard_cost="4", currency_code="EUR",
    )  # fmt: skip
    for code, (terms, currency) in CUSTOMERS.items():
        ledger.register_customer(
            m(), code_=code, name=code, contacts=[], billing_address="a", shipping_address="b",
            region="north", payment_terms_days=terms, credit_limit="0", currency_code=currency,
        )  # fmt: skip
    ledger.receive_finished_goods(
        m(), sku="SKU-1", warehouse="WH1", production_ref="MO-1", quantity_="1000"
    )


def bill(ledger: Ledger, model: Model, n: int, who: str, offset: int, cents: int) -> None:
    terms, currency = CUSTOMERS[who]
    m, number, dated = command_meta, f"SO-{n}", DAY0 + timedelta(days=offset)
    ledger.create_sales_order(
        m(), number=number, customer=who, warehouse="WH1", currency_code=currency,
        salesperson="ann", lines=[{"sku": "SKU-1", "quantity": "1",
                                   "unit_price": str(D(cents) / 100)}],
    )  # fmt: skip
    ledger.submit_sales_order(m(), number=number)
    ledger.ship_sales_order(
        m(), number=number, lines={1: "1"}, carrier="DHL", tracking_number="T",
        shipment_ref=f"SH-{n}",
    )  # fmt: skip
    result = ledger.issue_invoice(
        m(), customer=who, invoice_date=dated,
        shipments=[{"order_number": number, "shipment_ref": f"SH-{n}"}],
    ).result  # fmt: skip
    model.invoices[result["number"]] = (
        who, currency, D(result["total"]), dated, dated + timedelta(days=terms)
    )  # fmt: skip


def play(ledger: Ledger, store: ViewStore, model: Model, step: tuple[Any, ...]) -> None:
    numbers = sorted(model.invoices)
    if step[0] == "pay":
        _, pick, percent, offset = step
        invoice = ledger.invoice(numbers[pick % len(numbers)])
        amount = max(CENT, (invoice.open_amount * percent / 100).quantize(CENT))
        if amount > invoice.open_amount:
            return  # fully paid already: nothing to allocate
        ref, on = f"BANK-{len(model.applied) + 1}", DAY0 + timedelta(days=offset)
        ledger.record_payment(
            command_meta(), bank_ref=ref, payer="Payer", amount=amount,
            currency_code=invoice.currency, value_date=on,
        )  # fmt: skip
        ledger.allocate_payment(
            command_meta(), bank_ref=ref, invoice_number=invoice.number, amount=amount
        )
        model.applied[f"{ref}-A1"] = [invoice.number, amount, on, None]
    elif step[0] == "reverse":
        _, pick, offset = step
        standing = sorted(k for k, v in model.applied.items() if v[3] is None and "-A" in k)
        if not standing:
            return
        allocation, on = standing[pick % len(standing)], DAY0 + timedelta(days=offset)
        ledger.unallocate_payment(
            command_meta(), bank_ref=allocation.rsplit("-A", 1)[0], allocation_id=allocation,
            reason="undo", effective_date=on,
        )  # fmt: skip
        model.applied[allocation][3] = on
    else:
        _, pick, percent, offset, reversal = step
        number = numbers[pick % len(numbers)]
        amount = max(CENT, (model.invoices[number][2] * percent / 100).quantize(CENT))
        on = DAY0 + timedelta(days=offset)
        undone = None if reversal is None else on + timedelta(days=reversal)
        credit_id = f"CN-{len(model.applied) + 1}"
        with store.transaction() as cur:
            cur.execute(
                f"INSERT INTO invoice_credits ({CREDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (credit_id, number, "credit_note", amount, on.isoformat(),
                 None if undone is None else undone.isoformat(), datetime.now(UTC)),
            )  # fmt: skip
        model.applied[credit_id] = [number, amount, on, undone]


def check_day(store: ViewStore, model: Model, day: date) -> None:
    expected = model.open_on(day)
    with store.read() as cur:
        items = queries.open_items(cur, customer=None, as_of=day)
        report = ar.ageing(cur, as_of=day)
        who = sorted(CUSTOMERS)[day.toordinal() % len(CUSTOMERS)]
        mine = queries.open_items(cur, customer=who, as_of=day)
    found = {i["number"]: (i["customer"], i["currency"], i["open"], i["days_past_due"])
             for i in items}  # fmt: skip
    assert found == expected, day
    assert all(i["bucket"] == bucket(i["days_past_due"]) for i in items), day
    assert mine == [i for i in items if i["customer"] == who]
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    by_bucket: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for customer, currency, amount, late in expected.values():
        by_currency[currency] += amount
        by_bucket[customer, currency, bucket(late)] += amount
    assert report["open_items_total"] == by_currency, day
    assert {c: t["total"] for c, t in report["totals"].items()} == by_currency, day
    for row in report["customers"]:
        for name in report["buckets"]:
            assert row[name] >= 0
            assert row[name] == by_bucket.get((row["customer"], row["currency"], name), 0), day
        assert row["total"] == sum(row[name] for name in report["buckets"])


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_ageing_equals_open_items_and_the_model_on_every_day(kind: str) -> None:
    if kind == "postgres":
        require_postgres()

    @settings(
        max_examples=settings.default.max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(plans=invoice_plans, history=steps)
    def replay(plans: list[tuple[str, int, int]], history: list[tuple[Any, ...]]) -> None:
        ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
        with view_store(kind) as store:
            runner = ProjectionRunner(ledger, store, [ReceivablesProjection()])
            runner.setup()
            model = Model()
            master_data(ledger)
            for n, (who, offset, cents) in enumerate(sorted(plans, key=lambda p: p[1]), 1):
                bill(ledger, model, n, who, offset, cents)
            for step in history:
                play(ledger, store, model, step)
            runner.catch_up("receivables")
            for day in range(-1, SPAN + 1):
                check_day(store, model, DAY0 + timedelta(days=day))
        ledger.close()

    replay()

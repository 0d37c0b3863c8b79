"""What each invoice owes over business time (`invoice_open_spans`), folded by the
receivables projection from the ledger's own commands on SQLite and PostgreSQL: a credit
note, a cancelled one, a payment allocated and later unallocated, a write-off — each with its
own business date, recorded in another order. The ageing of every customer reads these
spans; it must equal the open items added up one by one on every day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from domain.ledger import Ledger
from projections import ar
from projections.ageing import bucket_sums
from projections.receivables import OPEN_END, ReceivablesProjection, owed_spans
from tests.integration.credits import (  # noqa: F401 (fixtures)
    INV1,
    approve,
    ask_write_off,
    correct,
    give_back,
    invoiced,
    meta,
    taxed,
)
from tests.integration.helpers import rows, settle
from tests.integration.test_payments import allocate, pay

D = Decimal


def spans(runtime: Runtime) -> list[tuple[str, str, str, Decimal]]:
    found = rows(
        runtime,
        "SELECT invoice_number, from_date, to_date, owed FROM invoice_open_spans"
        " ORDER BY invoice_number, from_date",
    )
    return [(r["invoice_number"], r["from_date"], r["to_date"], D(str(r["owed"]))) for r in found]


def sums(cur: Any, day: date) -> dict[Any, Any]:
    found = bucket_sums(cur, as_of=day)
    assert found is not None
    return {key: {n: row[n] for n in (*ar.BUCKET_NAMES, "items")} for key, row in found.items()}


def added_up(cur: Any, day: date) -> dict[Any, Any]:
    rows_ = ar._added_rows(cur, day, None, None)
    return {key: {n: row[n] for n in (*ar.BUCKET_NAMES, "items")} for key, row in rows_.items()}


def test_spans_follow_every_change_by_its_business_date(
    runtime: Runtime,
    invoiced: Ledger,  # noqa: F811
) -> None:
    # INV1: 214.26, dated 2026-03-01, due 03-31 (tests/integration/credits.py).
    pay(invoiced, "BANK-1", "100.00", date(2026, 3, 10))
    allocate(invoiced, "BANK-1", INV1, "100.00")  # effective on the value date
    give_back(invoiced, [{"line_no": 1, "quantity": "2"}], date(2026, 3, 5))  # 42.82
    correct(invoiced, "10.05", date(2026, 3, 6))  # 11.96 with tax
    invoiced.cancel_credit_note(
        meta(), number="CN-2026-000002", reason="wrong invoice", effective_date=date(2026, 3, 8)
    )
    approve(invoiced, ask_write_off(invoiced, "71.44"), date(2026, 3, 20))
    invoiced.unallocate_payment(
        meta(), bank_ref="BANK-1", allocation_id="BANK-1-A1", reason="bounced",
        effective_date=date(2026, 3, 25),
    )  # fmt: skip
    settle(runtime)

    expected = [
        (INV1, "2026-03-01", "2026-03-05", D("214.26")),
        (INV1, "2026-03-05", "2026-03-06", D("171.44")),
        (INV1, "2026-03-06", "2026-03-08", D("159.48")),
        (INV1, "2026-03-08", "2026-03-10", D("171.44")),
        (INV1, "2026-03-10", "2026-03-20", D("71.44")),
        # written off to nothing on 03-20; the bounced payment owes again from 03-25
        (INV1, "2026-03-25", OPEN_END, D("100.00")),
    ]
    assert spans(runtime) == expected
    with runtime.store.read() as cur:
        for offset in range(-2, 40):
            day = date(2026, 3, 1) + timedelta(days=offset)
            assert sums(cur, day) == added_up(cur, day), day
    with runtime.store.transaction() as cur:  # derived from the rows alone: the same
        ReceivablesProjection().respan(cur)
    assert spans(runtime) == expected
    runtime.runner.rebuild("receivables")
    assert spans(runtime) == expected


def test_an_invoice_paid_in_full_on_its_date_owes_on_no_day(
    runtime: Runtime,
    invoiced: Ledger,  # noqa: F811
) -> None:
    pay(invoiced, "BANK-1", "214.26", date(2026, 3, 1))
    allocate(invoiced, "BANK-1", INV1, "214.26")
    settle(runtime)

    assert spans(runtime) == []
    with runtime.store.read() as cur:
        assert sums(cur, date(2026, 3, 1)) == {}


def test_owed_spans_is_the_open_items_rule_as_a_step_function() -> None:
    total = D("100")
    # paid before its date (counts from the start), a reversal before the effect (never in
    # force), two changes on one day that cancel out (no new span)
    taken = [
        (D("10"), "2026-02-27", None),
        (D("50"), "2026-03-09", "2026-03-05"),
        (D("30"), "2026-03-04", "2026-03-04"),
        (D("20"), "2026-03-07", None),
        (D("20"), "2026-03-03", "2026-03-07"),
    ]
    assert owed_spans(total, "2026-03-01", taken) == [
        ("2026-03-01", "2026-03-03", D("90")),
        ("2026-03-03", OPEN_END, D("70")),
    ]
    assert owed_spans(D("5"), "2026-03-01", [(D("5"), "2026-03-01", "2026-03-02")]) == [
        ("2026-03-02", OPEN_END, D("5")),
    ]
    assert owed_spans(D("5"), "2026-03-01", [(D("6"), "2026-03-02", None)]) == [
        ("2026-03-01", "2026-03-02", D("5")),
    ]

"""The ageing's sums done by the database (`projections.ageing`) equal the open items added
up one by one as Decimals, on SQLite and PostgreSQL: for amounts with up to four places,
allocations that outrun an invoice on a past day, reversals, credits and every bucket edge;
and on SQLite a total too large for its integer sums falls back to the Decimal path."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from projections import ar
from projections.ageing import bucket_sums
from projections.receivables import ALLOCATION_COLUMNS, INVOICE_COLUMNS, ReceivablesProjection
from tests.integration.ar_data import CREDIT_COLUMNS

DAY0 = date(2026, 1, 1)


def fill(runtime: Runtime, invoices: list[tuple[Any, ...]], allocations: list[tuple[Any, ...]],
         credits: list[tuple[Any, ...]]) -> None:  # fmt: skip
    with runtime.store.transaction() as cur:
        ReceivablesProjection().create_tables(cur)
        cur.insert_rows("invoices", INVOICE_COLUMNS, invoices)
        cur.insert_rows("allocations", ALLOCATION_COLUMNS, allocations)
        cur.insert_rows("invoice_credits", [c.strip() for c in CREDIT_COLUMNS.split(",")],
                        credits)  # fmt: skip
        ReceivablesProjection().respan(cur)


def history(seed: int, huge: bool = False) -> tuple[list[Any], list[Any], list[Any]]:
    rng, now = random.Random(seed), datetime.now(UTC)
    invoices, allocations, credits = [], [], []
    for n in range(120):
        number, who = f"INV-{n:04d}", f"C-{rng.randrange(4)}"
        dated = DAY0 + timedelta(days=rng.randrange(120))
        due = dated + timedelta(days=rng.choice((0, 14, 30, 60)))
        places = rng.choice((0, 2, 2, 3, 4))
        total = Decimal(rng.randrange(1, 10**7)).scaleb(-places)
        if huge and n == 7:
            total = Decimal("250000000000.01")  # 2.5 × 10^11: past SQLite's integer sums
        currency = rng.choice(("EUR", "EUR", "JPY"))
        invoices.append((number, n, who, currency, total, Decimal(0), total, dated.isoformat(),
                         due.isoformat(), 1, now))  # fmt: skip
        for part in range(rng.choice((0, 1, 1, 2, 3))):
            # Some parts together exceed the total on a past day (a backdated allocation
            # before the reversal of another): such a day's invoice is not open.
            amount = min(total, Decimal(rng.randrange(1, 10**7)).scaleb(-4))
            on = dated + timedelta(days=rng.randrange(-3, 90))
            undone = on + timedelta(days=rng.randrange(1, 40)) if rng.random() < 0.3 else None
            allocations.append((f"{number}-A{part}", f"P-{number}-{part}", number, amount,
                                "manual", on.isoformat(), undone and undone.isoformat(), None,
                                now))  # fmt: skip
        if rng.random() < 0.15:
            on = dated + timedelta(days=rng.randrange(60))
            credits.append((f"CN-{number}", number, "credit_note", (total / 3).quantize(
                Decimal("0.01")), on.isoformat(), None, now))  # fmt: skip
    return invoices, allocations, credits


def added_up(runtime: Runtime, day: date, **narrow: str) -> dict[str, Any]:
    """The ageing built the other way: the open items of the day, added up in Python."""
    with runtime.store.read() as cur:
        rows = ar._added_rows(cur, day, narrow.get("customer"), narrow.get("currency"))
    return {key: {name: row[name] for name in (*ar.BUCKET_NAMES, "items")}
            for key, row in sorted(rows.items())}  # fmt: skip


def summed(runtime: Runtime, day: date, **narrow: str) -> dict[str, Any] | None:
    with runtime.store.read() as cur:
        found = bucket_sums(cur, as_of=day, **narrow)
    if found is None:
        return None
    return {key: {name: row[name] for name in (*ar.BUCKET_NAMES, "items")}
            for key, row in sorted(found.items())}  # fmt: skip


def test_the_databases_sums_equal_the_open_items_added_up(runtime: Runtime) -> None:
    fill(runtime, *history(seed=11))

    for offset in range(-5, 260, 7):
        day = DAY0 + timedelta(days=offset)
        assert summed(runtime, day) == added_up(runtime, day), day
    for narrow in ({"customer": "C-1"}, {"currency": "JPY"}, {"customer": "C-2",
                                                               "currency": "EUR"}):  # fmt: skip
        day = DAY0 + timedelta(days=75)
        assert summed(runtime, day, **narrow) == added_up(runtime, day, **narrow)


def test_every_bucket_edge_is_the_days_past_due_rule(runtime: Runtime) -> None:
    now, day = datetime.now(UTC), date(2026, 6, 30)
    invoices = [
        (f"INV-{late}", n, "C-1", "EUR", Decimal(1), Decimal(0), Decimal(1), "2026-01-01",
         (day - timedelta(days=late)).isoformat(), 1, now)
        for n, late in enumerate((-1, 0, 1, 30, 31, 60, 61, 90, 91))
    ]  # fmt: skip
    fill(runtime, invoices, [], [])

    (row,) = summed(runtime, day).values()  # type: ignore[union-attr]

    assert row == {"not_due": 2, "days_1_30": 2, "days_31_60": 2, "days_61_90": 2,
                   "over_90": 1, "items": 9}  # fmt: skip


def test_a_total_too_large_for_sqlites_integer_sums_takes_the_decimal_path(
    runtime: Runtime,
) -> None:
    fill(runtime, *history(seed=5, huge=True))
    day = DAY0 + timedelta(days=150)

    found = summed(runtime, day)

    expected = added_up(runtime, day)
    if runtime.store.dialect == "sqlite":
        assert found is None
    else:
        assert found == expected
    with runtime.store.read() as cur:
        report = ar.ageing(cur, as_of=day)
    assert {(r["customer"], r["currency"]): {n: r[n] for n in (*ar.BUCKET_NAMES, "items")}
            for r in report["customers"]} == expected  # fmt: skip
    assert any(total["total"] > Decimal("2.5E11") for total in report["totals"].values())

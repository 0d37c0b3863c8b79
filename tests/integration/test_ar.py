"""AR read models on real SQLite and PostgreSQL: open items and ageing as of business dates
(before and after allocations, reversals and credits), bucket edges, currencies kept apart,
and the collection metrics against figures worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.exceptions import InvalidInput
from domain.ledger import Ledger
from projections import ar, queries
from projections.open_items import BUCKET_NAMES, bucket_of
from tests.integration.ar_data import (
    INV1,
    INV2,
    INV3,
    INV4,
    credit,
    customer,
    history,
    invoice,
    pay,
)
from tests.integration.helpers import produce

D = Decimal


@pytest.fixture
def booked(runtime: Runtime, ledger: Ledger) -> Runtime:
    history(runtime, ledger)
    return runtime


def owed(runtime: Runtime, day: date, who: str | None = None) -> list[tuple[Any, ...]]:
    with runtime.store.read() as cur:
        items = queries.open_items(cur, customer=who, as_of=day)
    return [(i["number"], i["open"], i["status"], i["days_past_due"], i["bucket"]) for i in items]


def aged(runtime: Runtime, day: date, **narrow: str) -> dict[str, Any]:
    with runtime.store.read() as cur:
        return ar.ageing(cur, as_of=day, **narrow)


def test_open_items_follow_business_dates_of_allocations_reversals_and_credits(
    booked: Runtime,
) -> None:
    assert owed(booked, date(2026, 1, 9)) == []  # nothing dated yet
    assert owed(booked, date(2026, 2, 14)) == [
        (INV1, D("100"), "overdue", 5, "days_1_30"), (INV2, D("200"), "open", 0, "not_due"),
    ]  # fmt: skip
    assert owed(booked, date(2026, 2, 15)) == [(INV2, D("200"), "open", 0, "not_due")]
    # INV-3 (USD) was paid on 03-01; the bounce recorded later counts only from 03-20.
    assert owed(booked, date(2026, 3, 10)) == [
        (INV2, D("50"), "overdue", 3, "days_1_30"), (INV4, D("50"), "open", 0, "not_due"),
    ]  # fmt: skip
    assert owed(booked, date(2026, 3, 20)) == [
        (INV3, D("80"), "overdue", 28, "days_1_30"),
        (INV2, D("30"), "overdue", 13, "days_1_30"),  # the credit note from 03-15
        (INV4, D("50"), "open", 0, "not_due"),
    ]  # fmt: skip
    with booked.store.read() as cur:
        (item,) = queries.open_items(cur, customer="C-1", as_of=date(2026, 3, 15))[:1]
    assert (item["paid"], item["credited"], item["total"]) == (D("150"), D("20"), D("200"))


def test_one_customer_and_every_customer_give_the_same_items(booked: Runtime) -> None:
    day = date(2026, 1, 1)
    while day <= date(2026, 5, 1):
        everyone = owed(booked, day)
        for who in ("C-1", "C-2"):
            with booked.store.read() as cur:
                mine = {i["number"] for i in queries.open_items(cur, customer=who, as_of=day)}
            assert owed(booked, day, who) == [i for i in everyone if i[0] in mine]
        day += timedelta(days=3)


def test_a_reversed_credit_stops_counting_from_its_reversal_date(booked: Runtime) -> None:
    credit(booked, "WO-1", INV4, "50.00", date(2026, 4, 1), date(2026, 4, 10), "write_off")

    assert [i[0] for i in owed(booked, date(2026, 4, 5), "C-1")] == [INV2]
    assert owed(booked, date(2026, 4, 10), "C-1")[-1] == (INV4, D("50"), "overdue", 1, "days_1_30")


def test_ageing_buckets_per_customer_and_currency_total_the_open_items(booked: Runtime) -> None:
    report = aged(booked, date(2026, 3, 20))

    rows = {(r["customer"], r["currency"]): r for r in report["customers"]}
    assert rows.keys() == {("C-1", "EUR"), ("C-2", "USD")}
    assert {b: rows["C-1", "EUR"][b] for b in BUCKET_NAMES} == {
        "not_due": D("50"), "days_1_30": D("30"), "days_31_60": 0, "days_61_90": 0,
        "over_90": 0,
    }  # fmt: skip
    assert (rows["C-1", "EUR"]["total"], rows["C-1", "EUR"]["items"]) == (D("80"), 2)
    assert rows["C-2", "USD"]["days_1_30"] == D("80")
    # Currencies never add up: one total each.
    assert {c: t["total"] for c, t in report["totals"].items()} == {"EUR": D("80"), "USD": D("80")}
    assert report["open_items_total"] == {"EUR": D("80"), "USD": D("80")}
    assert report["buckets"] == list(BUCKET_NAMES)
    assert aged(booked, date(2026, 3, 20), currency="USD")["totals"].keys() == {"USD"}
    assert aged(booked, date(2026, 3, 20), customer="C-1")["totals"].keys() == {"EUR"}
    later = aged(booked, date(2026, 6, 20))  # INV-3 due 02-20: 120 days past due
    assert later["totals"]["USD"]["over_90"] == D("80")
    assert later["totals"]["EUR"]["days_61_90"] == D("50")  # INV-4 due 04-09: 72 days


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, "not_due"), (0, "not_due"), (1, "days_1_30"), (30, "days_1_30"),
     (31, "days_31_60"), (60, "days_31_60"), (61, "days_61_90"), (90, "days_61_90"),
     (91, "over_90"), (400, "over_90")],
)  # fmt: skip
def test_each_bucket_starts_and_ends_on_its_day_past_due(
    runtime: Runtime, ledger: Ledger, days: int, bucket: str
) -> None:
    produce(ledger, "SKU-1", "1")
    customer(ledger, "C-1", 30, "EUR")
    invoice(ledger, 1, "C-1", "12.34", date(2026, 1, 1))  # due 01-31
    runtime.runner.catch_up("receivables")

    report = aged(runtime, date(2026, 1, 31) + timedelta(days=days))

    assert bucket_of(max(days, 0)) == bucket
    totals = report["totals"]["EUR"]
    assert {b: totals[b] for b in BUCKET_NAMES if totals[b]} == {bucket: D("12.34")}


def test_sums_are_exact_where_binary_floating_point_is_not(
    runtime: Runtime, ledger: Ledger
) -> None:
    produce(ledger, "SKU-1", "1")
    customer(ledger, "C-1", 30, "EUR")
    invoice(ledger, 1, "C-1", "0.80", date(2026, 1, 1))
    pay(ledger, "BANK-1", INV1, "0.70", date(2026, 1, 5))
    pay(ledger, "BANK-2", INV1, "0.10", date(2026, 1, 6))  # 0.7 + 0.1 < 0.8 in floats
    runtime.runner.catch_up("receivables")

    assert owed(runtime, date(2026, 1, 5)) == [(INV1, D("0.10"), "partially_paid", 0, "not_due")]
    assert owed(runtime, date(2026, 1, 6)) == []
    assert owed(runtime, date(2026, 1, 6), "C-1") == []
    assert aged(runtime, date(2026, 1, 6))["totals"] == {}


def figures(runtime: Runtime, start: date, end: date, **narrow: str) -> dict[str, Any]:
    with runtime.store.read() as cur:
        return ar.metrics(cur, start=start, end=end, **narrow)


def test_march_metrics_match_the_figures_worked_out_by_hand(booked: Runtime) -> None:
    report = figures(booked, date(2026, 3, 1), date(2026, 3, 31))

    assert report["days"] == 31
    eur, usd = report["currencies"]["EUR"], report["currencies"]["USD"]
    # Open 02-28: INV-2 200. Invoiced: INV-4 50. Collected: BANK-2 150. Credited: CN-1 20.
    assert (eur["open_at_start"], eur["invoiced"], eur["collected"], eur["credited"]) == (
        D("200"), D("50"), D("150"), D("20"),
    )  # fmt: skip
    assert eur["open_at_end"] == D("80") == D("200") + D("50") - D("150") - D("20")
    assert eur["collection_rate"] == D("0.6000")  # 150 / (200 + 50)
    assert eur["dso_days"] == D("49.6")  # 80 / 50 × 31
    # BANK-2 paid INV-2 28 days after its date, 2 days before it fell due.
    assert (eur["average_days_to_pay"], eur["average_days_late"]) == (D("28.0"), D("0.0"))
    assert (eur["overdue_count"], eur["overdue_amount"]) == (1, D("30"))  # INV-2, 24 days
    # USD: paid on 03-01 but reversed on 03-20, so nothing collected in March.
    assert (usd["open_at_start"], usd["collected"], usd["open_at_end"]) == (D("80"), 0, D("80"))
    assert (usd["collection_rate"], usd["dso_days"]) == (D("0.0000"), None)  # no sales
    assert (usd["average_days_to_pay"], usd["overdue_count"]) == (None, 1)
    assert [c["customer"] for c in report["customers"]] == ["C-1", "C-2"]
    assert report["customers"][0]["currencies"] == {"EUR": eur}


def test_metrics_of_shorter_periods_and_of_one_customer(booked: Runtime) -> None:
    usd = figures(booked, date(2026, 3, 1), date(2026, 3, 10))["currencies"]["USD"]
    # BANK-3 stood on 03-10: 80 of 80 collected, 9 days after the invoice (and due) date.
    assert (usd["collected"], usd["collection_rate"]) == (D("80"), D("1.0000"))
    assert (usd["average_days_to_pay"], usd["average_days_late"]) == (D("9.0"), D("9.0"))

    february = figures(booked, date(2026, 2, 1), date(2026, 2, 28), customer="C-1")
    eur = february["currencies"]["EUR"]
    assert [c["customer"] for c in february["customers"]] == ["C-1"]
    assert february["currencies"].keys() == {"EUR"}
    # Open 01-31: INV-1 100; invoiced INV-2 200; BANK-1 collected 100 (36 days, 6 late).
    assert eur["collection_rate"] == D("0.3333")  # 100 / 300
    assert eur["dso_days"] == D("28.0")  # 200 / 200 × 28
    assert (eur["average_days_to_pay"], eur["average_days_late"]) == (D("36.0"), D("6.0"))
    assert (eur["overdue_count"], eur["overdue_amount"]) == (0, 0)
    # The bounce: collected in March 1–10, given back March 11–31.
    usd_late = figures(booked, date(2026, 3, 11), date(2026, 3, 31))["currencies"]["USD"]
    assert usd_late["collected"] == D("-80")


def test_a_period_that_ends_before_it_starts_is_refused(booked: Runtime) -> None:
    with pytest.raises(InvalidInput):
        figures(booked, date(2026, 3, 2), date(2026, 3, 1))
    assert figures(booked, date.min, date(2026, 1, 31))["currencies"]["EUR"]["invoiced"] == 100

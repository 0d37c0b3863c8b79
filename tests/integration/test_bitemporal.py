"""Bitemporal answers for back-dated counts and payments: *effective at E as known at R*,
on SQLite and PostgreSQL (the back-dated receipt is in test_as_of.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from replay import answers
from replay.moments import at_time
from replay.scratch import ScratchFactory, scratch_factory
from tests.conftest import command_meta
from tests.integration.ar_data import INV1, customer, invoice, pay
from tests.integration.helpers import produce, seed_catalog
from tests.replay_clock import Clock

DAY1, DAY2, DAY3, DAY4 = (datetime(2024, 3, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4))
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def scratch(runtime: Runtime) -> ScratchFactory:
    settings = runtime.settings
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


def physical(report: dict[str, Any]) -> Decimal:
    [row] = [r for r in report["items"] if (r["sku"], r["warehouse"]) == ("SKU-1", "WH1")]
    return Decimal(row["physical"]).normalize() + 0


def test_a_back_dated_count_changes_the_past_only_as_known_after_it_was_keyed_in(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 made on the 1st; on the 3rd a count of 7 is keyed in with effect from the 2nd."""
    ledger, clock = runtime.ledger, Clock(monkeypatch, DAY1 - timedelta(hours=2))
    seed_catalog(ledger)
    clock.set(DAY1)
    produce(ledger, "SKU-1", "10", effective_at=DAY1)
    clock.set(DAY3)
    ledger.count_stock(
        command_meta("count_stock"), sku="SKU-1", warehouse="WH1", counted="7",
        reason="shelf count", count_ref="CNT-1", effective_at=DAY2,
    )  # fmt: skip
    store = scratch(runtime)

    def ask(effective: datetime | None, known: datetime) -> Decimal:
        moment = at_time(ledger, known, NOW)
        return physical(answers.inventory_as_of(ledger, store, moment, effective=effective))

    assert ask(effective=DAY2, known=DAY4) == 7  # known by the 4th, in effect on the 2nd
    assert ask(effective=DAY2, known=DAY2) == 10  # on the 2nd nobody had counted yet
    assert ask(effective=DAY1 + timedelta(hours=1), known=DAY4) == 10  # before the count
    assert ask(effective=None, known=DAY4) == 7
    assert ask(effective=None, known=DAY2) == 10


def test_a_back_dated_payment_clears_the_invoice_only_as_known_after_it_was_recorded(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INV-1 (100.00, due 02-09) billed on 01-10; a payment value-dated 02-15 is recorded
    on 03-05. Ageing on business day 02-20 shows it open as known on 03-01, paid as known on
    03-06; on business day 02-12 it is open whenever asked (the money came later)."""
    ledger, clock = runtime.ledger, Clock(monkeypatch, datetime(2026, 1, 10, 9, tzinfo=UTC))
    seed_catalog(ledger)
    produce(ledger, "SKU-1", "10")
    customer(ledger, "C-1", 30, "EUR")
    assert invoice(ledger, 1, "C-1", "100.00", date(2026, 1, 10)) == INV1
    clock.set(datetime(2026, 3, 5, 9, tzinfo=UTC))
    pay(ledger, "BANK-1", INV1, "100.00", date(2026, 2, 15))
    store = scratch(runtime)

    def owed(day: date, known: datetime) -> dict[str, Any]:
        moment = at_time(ledger, known, NOW)
        report = answers.ageing_as_of(ledger, store, moment, as_of=day)
        return dict(report["ageing"]["totals"])

    feb20, feb12 = date(2026, 2, 20), date(2026, 2, 12)
    open_then = owed(feb20, datetime(2026, 3, 1, tzinfo=UTC))
    assert (open_then["EUR"]["days_1_30"], open_then["EUR"]["total"]) == (
        Decimal("100.00"), Decimal("100.00"),
    )  # fmt: skip
    assert owed(feb20, datetime(2026, 3, 6, tzinfo=UTC)) == {}
    assert owed(feb12, datetime(2026, 3, 6, tzinfo=UTC))["EUR"]["total"] == Decimal("100.00")

"""Read models and aggregates as of a position or a recorded time, and bitemporal inventory,
replayed by the live projection code into scratch stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.runtime import Runtime
from domain.exceptions import InvalidInput, NotFound
from domain.ledger import Ledger
from projections import ar
from replay import answers
from replay.moments import at_position, at_time, resolve
from replay.scratch import SCHEMA_PREFIX, ScratchFactory, scratch_factory
from tests.conftest import command_meta
from tests.integration.ar_data import INV1, customer, invoice, pay
from tests.integration.helpers import produce, seed_catalog
from tests.integration.orders import approve, create, register_customer
from tests.replay_clock import Clock

D = Decimal
DAY1, DAY2, DAY3, DAY4 = (datetime(2024, 3, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4))
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def scratch(runtime: Runtime) -> ScratchFactory:
    settings = runtime.settings
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


def meta(at: datetime) -> Any:
    return command_meta("test", at=at)


def figures(report: dict[str, Any], sku: str = "SKU-1") -> tuple[Decimal, ...]:
    [row] = [r for r in report["items"] if r["sku"] == sku and r["warehouse"] == "WH1"]
    return tuple(Decimal(row[k]).normalize() + 0 for k in ("physical", "in_transit", "locked"))


def back_dated_receipt(ledger: Ledger, clock: Clock) -> None:
    """PO-1 for 10 × SKU-1 approved on the 1st; its goods receipt keyed in on the 3rd, with
    effect from the 1st (when the goods arrived)."""
    clock.set(DAY1 - timedelta(hours=2))
    seed_catalog(ledger)
    clock.set(DAY1)
    ledger.create_purchase_order(
        meta(DAY1), supplier="ACME", warehouse="WH1", currency_code="EUR", number="PO-1",
        lines=[{"sku": "SKU-1", "quantity": "10", "unit_cost": "2"}],
    )  # fmt: skip
    ledger.approve_purchase_order(meta(DAY1), number="PO-1")
    clock.set(DAY3)
    ledger.receive_purchase_order(
        meta(DAY3), number="PO-1", lines={1: "10"}, receipt_ref="GRN-1",
        effective_at=DAY1 + timedelta(hours=3),
    )  # fmt: skip


def test_a_back_dated_receipt_counts_effective_2nd_as_known_4th_not_as_known_2nd(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = runtime.ledger
    back_dated_receipt(ledger, Clock(monkeypatch, DAY1))
    store = scratch(runtime)

    def ask(effective: datetime, known: datetime) -> tuple[Decimal, ...]:
        moment = at_time(ledger, known, NOW)
        return figures(answers.inventory_as_of(ledger, store, moment, effective=effective))

    # physical, in transit, locked
    assert ask(effective=DAY2, known=DAY4) == (10, 0, 0)
    assert ask(effective=DAY2, known=DAY2) == (0, 10, 0)
    assert ask(effective=DAY4, known=DAY2) == (0, 10, 0)  # not yet known, whatever its date
    assert ask(effective=DAY1 - timedelta(hours=1), known=DAY4) == (0, 0, 0)
    # Without an effective time: the read model as it stood when known.
    as_known_2nd = answers.inventory_as_of(ledger, store, at_time(ledger, DAY2, NOW))
    assert figures(as_known_2nd) == (0, 10, 0)
    assert as_known_2nd["moment"]["recorded_at"] == DAY1


def test_recorded_times_map_to_the_last_position_recorded_by_then(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, clock = runtime.ledger, Clock(monkeypatch, DAY1)
    seed_catalog(ledger)
    first = ledger.head()
    clock.set(DAY2)
    produce(ledger, "SKU-1", "1", ref="MO-1")
    produce(ledger, "SKU-1", "2", ref="MO-2")  # the same recorded time: a tie
    tied = ledger.head()
    clock.set(DAY3)
    produce(ledger, "SKU-1", "3", ref="MO-3")
    assert at_time(ledger, DAY1, NOW).position == first
    assert at_time(ledger, DAY2 - timedelta(microseconds=1), NOW).position == first
    assert at_time(ledger, DAY2, NOW).position == tied  # both events of the tie
    assert at_time(ledger, DAY3 - timedelta(seconds=1), NOW).position == tied
    assert at_time(ledger, DAY4, NOW).position == ledger.head()


def test_bad_moments_are_refused_with_clear_messages(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = runtime.ledger
    with pytest.raises(InvalidInput, match="the log is empty"):
        at_position(ledger, 1)
    Clock(monkeypatch, DAY1)
    seed_catalog(ledger)
    head = ledger.head()
    with pytest.raises(InvalidInput, match=f"position 0 is not in the log: .* 1 to {head}"):
        at_position(ledger, 0)
    with pytest.raises(InvalidInput, match=f"position {head + 1} is not in the log"):
        at_position(ledger, head + 1)
    with pytest.raises(InvalidInput, match="before the first event"):
        at_time(ledger, DAY1 - timedelta(seconds=1), NOW)
    with pytest.raises(InvalidInput, match="is in the future"):
        at_time(ledger, NOW + timedelta(seconds=1), NOW)
    with pytest.raises(InvalidInput, match="time zone"):
        at_time(ledger, datetime(2024, 3, 1), NOW)
    with pytest.raises(InvalidInput, match="not both"):
        resolve(ledger, position=1, at=DAY1, now=NOW)
    assert resolve(ledger, position=None, at=None, now=NOW).position == head


def scratch_schemas(runtime: Runtime) -> set[str]:
    with psycopg.connect(runtime.settings.postgres_conninfo()) as connection:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCHEMA_PREFIX + "%",)
        ).fetchall()
    return {row[0] for row in rows}


def test_the_scratch_store_is_removed_after_the_replay(runtime: Runtime) -> None:
    """The schema (PostgreSQL) or file (SQLite) the replay wrote to is gone afterwards —
    checked by name, so other replays running elsewhere on the server do not matter."""
    seed_catalog(runtime.ledger)
    produce(runtime.ledger, "SKU-1", "4")
    moment = at_position(runtime.ledger, runtime.ledger.head())
    used: list[Any] = []

    class Watched:
        def __enter__(self) -> Any:
            self.inner = scratch(runtime)()
            store = self.inner.__enter__()
            used.append(getattr(store, "schema", None) or getattr(store, "path", None))
            return store

        def __exit__(self, *exc: Any) -> Any:
            return self.inner.__exit__(*exc)

    report = answers.inventory_as_of(runtime.ledger, Watched, moment)

    assert figures(report) == (4, 0, 0)
    [where] = used
    if runtime.settings.is_postgres:
        assert where.startswith(SCHEMA_PREFIX)
        assert where not in scratch_schemas(runtime)
    else:
        assert not Path(where).exists()


def test_a_sales_order_as_of_a_position_is_the_aggregate_at_its_version_then(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    seed_catalog(ledger)
    register_customer(ledger)
    before = ledger.head()
    produce(ledger, "SKU-1", "50")
    created = create(ledger, "SO-1", [("SKU-1", "5")]).position
    approve(ledger, "SO-1")
    then = answers.sales_order_as_of(ledger, at_position(ledger, created), "SO-1")
    now = answers.sales_order_as_of(ledger, at_position(ledger, ledger.head()), "SO-1")
    assert then.status == "created"
    assert then.version < now.version
    assert now.status == ledger.sales_order("SO-1").status != "created"
    with pytest.raises(NotFound, match="did not exist as of position"):
        answers.sales_order_as_of(ledger, at_position(ledger, before), "SO-1")


def test_ageing_as_of_a_position_sees_the_invoice_before_its_payment_was_recorded(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    seed_catalog(ledger)
    produce(ledger, "SKU-1", "10")
    customer(ledger, "C-1", 30, "EUR")
    assert invoice(ledger, 1, "C-1", "100.00", date(2026, 1, 10)) == INV1
    billed = ledger.head()
    pay(ledger, "BANK-1", INV1, "100.00", date(2026, 2, 15))
    day = date(2026, 3, 1)

    def ageing_at(position: int) -> dict[str, Any]:
        moment = at_position(ledger, position)
        report = answers.ageing_as_of(ledger, scratch(runtime), moment, as_of=day)
        return dict(report["ageing"])

    before_payment = ageing_at(billed)
    assert before_payment["totals"]["EUR"]["days_1_30"] == D("100.00")
    assert before_payment["totals"]["EUR"]["total"] == D("100.00")
    assert ageing_at(ledger.head())["totals"] == {}
    runtime.runner.catch_up("receivables")
    with runtime.store.read() as cur:
        assert ar.ageing(cur, as_of=day) == ageing_at(ledger.head())

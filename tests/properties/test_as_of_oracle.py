"""As-of inventory equals the live read model as it was: for random streams of stock
commands, the live inventory (caught up) is captured at several positions; afterwards the
inventory replayed as of each of those positions must match it row for row, on SQLite and
PostgreSQL. And bitemporally, "effective at the end of time" is the same figures."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime, open_runtime
from domain.exceptions import DomainError
from domain.ledger import Ledger
from replay.asof import replay_as_of
from replay.inventory import inventory_effective
from replay.moments import at_position
from replay.scratch import scratch_factory
from tests.conftest import command_meta, drop_schemas, make_settings, require_postgres
from tests.integration.helpers import seed_catalog

SKUS = ("SKU-1", "SKU-2")
WAREHOUSES = ("WH1", "WH2")
T0 = datetime(2024, 6, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)

skus = st.sampled_from(SKUS)
warehouses = st.sampled_from(WAREHOUSES)
orders = st.sampled_from(("SO-1", "SO-2"))
quantities = st.sampled_from(["1", "2", "3", "5", "0.5"])
back_dated = st.none() | st.integers(-5, 5)  # days from T0 the movement takes effect
steps = st.one_of(
    st.tuples(st.just("produce"), skus, warehouses, quantities, back_dated),
    st.tuples(st.just("reserve"), skus, warehouses, orders, quantities, back_dated),
    st.tuples(st.just("release"), skus, warehouses, orders, st.none() | quantities),
    st.tuples(st.just("ship"), skus, warehouses, orders, quantities, back_dated),
    st.tuples(st.just("count"), skus, warehouses, st.sampled_from(["0", "2", "7"]), back_dated),
    st.tuples(st.just("transfer"), skus, warehouses, quantities),
    st.tuples(st.just("arrive"), st.integers(0, 5)),
    st.tuples(st.just("purchase"), skus, warehouses, quantities),
    st.tuples(st.just("receive"), st.integers(0, 5), quantities, back_dated),
    st.tuples(st.just("capture")),
)


class Stream:
    """Plays steps on a ledger; refused commands are part of the stream (they store nothing)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.serial = 0
        self.transfers: list[tuple[str, str, str]] = []
        self.purchases: list[str] = []

    def ref(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def play(self, step: tuple[Any, ...]) -> None:
        with contextlib.suppress(DomainError):
            getattr(self, step[0])(*step[1:])

    def produce(self, sku: str, wh: str, qty: str, days: int | None) -> None:
        self.ledger.receive_finished_goods(
            command_meta(), sku=sku, warehouse=wh, production_ref=self.ref("MO"), quantity_=qty,
            effective_at=_when(days),
        )  # fmt: skip

    def reserve(self, sku: str, wh: str, order: str, qty: str, days: int | None) -> None:
        self.ledger.reserve(
            command_meta(), sku=sku, warehouse=wh, order_ref=order, quantity_=qty,
            effective_at=_when(days),
        )  # fmt: skip

    def release(self, sku: str, wh: str, order: str, qty: str | None) -> None:
        self.ledger.release(command_meta(), sku=sku, warehouse=wh, order_ref=order, quantity_=qty)

    def ship(self, sku: str, wh: str, order: str, qty: str, days: int | None) -> None:
        self.ledger.issue_for_shipment(
            command_meta(), sku=sku, warehouse=wh, order_ref=order, quantity_=qty,
            shipment_ref=self.ref("SH"), effective_at=_when(days),
        )  # fmt: skip

    def count(self, sku: str, wh: str, counted: str, days: int | None) -> None:
        self.ledger.count_stock(
            command_meta(), sku=sku, warehouse=wh, counted=counted, reason="cycle count",
            effective_at=_when(days),
        )  # fmt: skip

    def transfer(self, sku: str, wh: str, qty: str) -> None:
        target, ref = next(w for w in WAREHOUSES if w != wh), self.ref("TRF")
        self.ledger.transfer(
            command_meta(), sku=sku, from_warehouse=wh, to_warehouse=target, quantity_=qty,
            transfer_ref=ref,
        )  # fmt: skip
        self.transfers.append((sku, target, ref))

    def arrive(self, pick: int) -> None:
        if self.transfers:
            sku, wh, ref = self.transfers[pick % len(self.transfers)]
            self.ledger.receive_transfer(command_meta(), sku=sku, warehouse=wh, transfer_ref=ref)

    def purchase(self, sku: str, wh: str, qty: str) -> None:
        number = self.ref("PO")
        self.ledger.create_purchase_order(
            command_meta(), supplier="ACME", warehouse=wh, currency_code="EUR", number=number,
            lines=[{"sku": sku, "quantity": qty, "unit_cost": "1"}],
        )  # fmt: skip
        self.ledger.approve_purchase_order(command_meta(), number=number)
        self.purchases.append(number)

    def receive(self, pick: int, qty: str, days: int | None) -> None:
        if self.purchases:
            number = self.purchases[pick % len(self.purchases)]
            self.ledger.receive_purchase_order(
                command_meta(), number=number, lines={1: qty}, effective_at=_when(days)
            )


def _when(days: int | None) -> datetime | None:
    return None if days is None else T0 + timedelta(days=days)


def tables(cur: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "inventory_items": cur.execute(
            "SELECT * FROM inventory_items ORDER BY stock_item_id"
        ).fetchall(),
        "stock_movements": cur.execute(
            "SELECT * FROM stock_movements ORDER BY position"
        ).fetchall(),
    }


def capture(runtime: Runtime, captured: dict[int, dict[str, list[tuple[Any, ...]]]]) -> None:
    runtime.runner.catch_up("inventory")
    with runtime.store.read() as cur:
        captured[runtime.runner.position("inventory", cur)] = tables(cur)


def check(runtime: Runtime, captured: dict[int, dict[str, list[tuple[Any, ...]]]]) -> None:
    ledger, settings_ = runtime.ledger, runtime.settings
    scratch = scratch_factory(settings_.postgres_conninfo() if settings_.is_postgres else None)
    for position, live in captured.items():
        moment = at_position(ledger, position)
        replaying = replay_as_of(ledger, scratch, "inventory", moment, page_size=7)
        with replaying as replayed, replayed.read() as cur:
            assert tables(cur) == live, f"as of position {position}"
            effective = inventory_effective(cur, END_OF_TIME)
        items = {(r[1], r[2]): r for r in live["inventory_items"]}
        for row in effective:
            physical, in_transit, locked = (
                Decimal(v) for v in items[row["sku"], row["warehouse"]][3:6]
            )
            assert (row["physical"], row["in_transit"], row["locked"]) == (
                physical, in_transit, locked
            ), f"effective at the end of time, as of position {position}"  # fmt: skip


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_inventory_as_of_each_captured_position_equals_the_live_model_then(kind: str) -> None:
    if kind == "postgres":
        require_postgres()

    @settings(
        max_examples=settings.default.max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(stream=st.lists(steps, min_size=1, max_size=16))
    def replay(stream: list[tuple[Any, ...]]) -> None:
        made = make_settings(kind, Path(tempfile.mkdtemp(prefix="asof-oracle-")))
        runtime = open_runtime(made, start_projections=False)
        try:
            seed_catalog(runtime.ledger)
            player, captured = Stream(runtime.ledger), {}
            for sku in SKUS:  # stock on hand, so that outbound commands have work to do
                player.produce(sku, "WH1", "10", None)
            for number, step in enumerate(stream, 1):
                if step[0] == "capture" or number % 5 == 0:
                    capture(runtime, captured)
                else:
                    player.play(step)
            capture(runtime, captured)
            check(runtime, captured)
        finally:
            runtime.close()
            if made.is_postgres:
                drop_schemas(made)

    replay()

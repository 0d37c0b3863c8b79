"""As-of answers from read-model checkpoints equal the brute-force oracle: for random streams
of stock commands (receipts back-dated or not, reservations, shipments, counts, transfers,
purchase orders), with checkpoints taken at random positions, inventory as of every random
position — its tables row for row, and bitemporally — equals a replay from position 0 with
no checkpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime, open_runtime, scratch_stores
from replay.asof import replay_as_of
from replay.checkpoint_store import CheckpointStore
from replay.inventory import inventory_effective
from replay.model_checkpoints import build
from replay.moments import at_position
from tests.conftest import drop_schemas, make_settings, require_postgres
from tests.integration.helpers import seed_catalog
from tests.properties.test_as_of_oracle import SKUS, T0, Stream, steps, tables

EXAMPLES = min(settings.default.max_examples, 12)  # each example replays a dozen times


def answer(runtime: Runtime, position: int, store: CheckpointStore | None) -> tuple[Any, ...]:
    moment = at_position(runtime.ledger, position)
    replaying = replay_as_of(
        runtime.ledger, scratch_stores(runtime.settings), "inventory", moment, page_size=3,
        checkpoints=store,
    )  # fmt: skip
    with replaying as replayed, replayed.read() as cur:
        seen = (tables(cur), inventory_effective(cur, T0), replayed.checkpoints.as_json())
    return seen


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_as_of_from_checkpoints_equals_a_replay_from_position_0(kind: str) -> None:
    if kind == "postgres":
        require_postgres()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stream=st.lists(steps, min_size=1, max_size=14), data=st.data())
    def replay(stream: list[tuple[Any, ...]], data: st.DataObject) -> None:
        made = make_settings(kind, Path(tempfile.mkdtemp(prefix="ckpt-oracle-")))
        runtime = open_runtime(made, start_projections=False)
        try:
            seed_catalog(runtime.ledger)
            player = Stream(runtime.ledger)
            for sku in SKUS:
                player.produce(sku, "WH1", "10", None)
            for step in stream:
                if step[0] != "capture":  # the other oracle's marker: nothing to play here
                    player.play(step)
            head = runtime.ledger.head()
            every = data.draw(st.integers(1, max(1, head // 2)), label="every")
            until = data.draw(st.integers(1, head), label="checkpoints up to")
            build(runtime.ledger, runtime.checkpoints, scratch_stores(made), "inventory", every,
                  until=until, page_size=4)  # fmt: skip
            asked = data.draw(st.lists(st.integers(1, head), min_size=1, max_size=4), label="P")
            for position in asked:
                *seen, use = answer(runtime, position, runtime.checkpoints)
                *oracle, _ = answer(runtime, position, None)
                assert seen == oracle, f"as of position {position}"
                expected = min(position, until) // every * every or None
                assert use == {"checkpoint": expected, "ignored_checkpoints": []}
        finally:
            runtime.close()
            if made.is_postgres:
                drop_schemas(made)
                runtime.checkpoints.delete()

    replay()

"""A read model as of a moment, computed by the live system's own projection code.

`replay_as_of` builds a `ProjectionRunner` over a scratch store holding only the projections
the asked model needs, catches each up to the moment's position (`catch_up(until=P)`: the
same pages, decoding and `apply` as the live runner), and yields the filled store; the
query functions of `projections/` then run against it as they run against the live store.
The scratch store is removed when the block ends.

Read-model checkpoints (`replay/model_checkpoints.py`) seed at `_start`: instead of empty
tables and a tracking row at 0, the nearest usable checkpoint's tables and its position
C ≤ P are loaded, and the same `catch_up(until=P)` folds only the events after C. Deleting
checkpoints changes the cost, never the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from eventsourcing.application import Application

from domain.exceptions import InvalidInput
from projections.base import Projection
from projections.inventory import InventoryProjection
from projections.orders import OrdersProjection
from projections.receivables import ReceivablesProjection
from projections.runner import ProjectionRunner
from projections.store import Cursor, ViewStore
from replay.checkpoint_store import CheckpointStore
from replay.model_checkpoints import CheckpointUse, seed_nearest
from replay.moments import Moment
from replay.scratch import ScratchFactory

# Which projections each model needs: only those are replayed.
MODELS: dict[str, tuple[type[Projection], ...]] = {
    "inventory": (InventoryProjection,),
    "orders": (OrdersProjection,),
    "receivables": (ReceivablesProjection,),
}


@dataclass(frozen=True)
class ReplayedModel:
    """A model's tables as of `moment`, in a scratch store that lives while the block runs."""

    model: str
    moment: Moment
    store: ViewStore
    events_read: int  # the model's own events folded (after the checkpoint, if one was used)
    seconds: float
    checkpoints: CheckpointUse = field(default_factory=CheckpointUse)

    def read(self) -> AbstractContextManager[Cursor]:
        return self.store.read()


def projections_for(model: str) -> list[Projection]:
    if model not in MODELS:
        raise InvalidInput(
            f"unknown model {model!r}; models are {', '.join(sorted(MODELS))}", rule="unknown-model"
        )
    return [make() for make in MODELS[model]]


@contextmanager
def replay_as_of(
    app: Application,  # type: ignore[type-arg]
    scratch: ScratchFactory,
    model: str,
    moment: Moment,
    *,
    page_size: int = 1000,
    on_page: Callable[[int], None] | None = None,
    checkpoints: CheckpointStore | None = None,
) -> Iterator[ReplayedModel]:
    """Replay positions 1…moment.position (or C+1…moment.position, from the nearest
    read-model checkpoint C) into a scratch store and yield it."""
    projections = projections_for(model)
    with scratch() as store:
        started = time.perf_counter()
        runner = ProjectionRunner(app, store, projections, page_size=page_size)
        try:
            use = _start(runner, model, moment.position, checkpoints)
            read = sum(
                runner.catch_up(p.name, until=moment.position, on_page=on_page) for p in projections
            )
        finally:
            runner.stop()
        reader = store
        if checkpoints is not None and use.checkpoint is not None:
            reader = checkpoints.reader(store, use.checkpoint, projections)
        try:
            seconds = time.perf_counter() - started
            yield ReplayedModel(model, moment, reader, read, seconds, use)
        finally:
            if reader is not store:
                reader.close()


def _start(
    runner: ProjectionRunner, model: str, position: int, checkpoints: CheckpointStore | None
) -> CheckpointUse:
    """Empty tables and tracking rows at 0, then the nearest checkpoint's rows if any."""
    runner.setup()
    if checkpoints is None:
        return CheckpointUse()
    projections = list(runner.projections.values())
    return seed_nearest(checkpoints, runner.store, model, projections, position)

"""Read-model checkpoints: a model's tables saved at a position C, so that an as-of answer
at P ≥ C folds only the events after C instead of the whole history.

They are a cache. An as-of answer seeds its scratch store from the nearest usable
checkpoint at or before P and runs the same `catch_up(until=P)`; deleting checkpoints
changes the cost, never the answer. A checkpoint is trusted only when it reads back whole
and its fingerprint — the model's projection DDL — is the running code's: one saved by
another version of a projection, or damaged, is skipped and named in the answer.

(Not to be confused with `replay/checkpoints.py`: signed checkpoints of the hash chain.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application

from domain.exceptions import InvalidInput
from projections.base import Projection
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from replay.checkpoint_store import CheckpointInfo, CheckpointStore, CheckpointUnusable
from replay.moments import at_position, head
from replay.scratch import ScratchFactory

FORMAT = "orderledger-read-model-checkpoint/1"
TRIED = 3  # damaged checkpoints tried before replaying from 0


def fingerprint(projections: Sequence[Projection]) -> str:
    """What a checkpoint must have been saved by: the projections' tables, indexes and
    ledgers (with the format), hashed. Changing a projection's DDL retires its checkpoints."""
    described = [
        {
            "name": p.name,
            "tables": dict(sorted(p.tables.items())),
            "indexes": [repr(i) for i in p.indexes],
            "ledgers": list(p.ledgers),
        }
        for p in projections
    ]
    body = json.dumps([FORMAT, described], sort_keys=True).encode()
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class CheckpointUse:
    """Which checkpoint an answer started from, and which it passed over and why."""

    checkpoint: CheckpointInfo | None = None
    ignored: list[dict[str, Any]] = field(default_factory=list)

    @property
    def position(self) -> int:
        return self.checkpoint.position if self.checkpoint else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.position if self.checkpoint else None,
            "ignored_checkpoints": self.ignored,
        }


def usable(
    store: CheckpointStore, model: str, projections: Sequence[Projection], use: CheckpointUse
) -> list[CheckpointInfo]:
    """The model's checkpoints saved by this code, oldest first; others go to `use.ignored`."""
    try:
        infos = [i for i in store.list() if i.model == model]
    except CheckpointUnusable as error:
        use.ignored.append({"position": None, "reason": str(error)})
        return []
    wanted = fingerprint(projections)
    for info in infos:
        if info.fingerprint != wanted:
            reason = "saved by another version of the projection (its fingerprint differs)"
            use.ignored.append({"position": info.position, "reason": reason})
    return [i for i in infos if i.fingerprint == wanted]


def seed_nearest(
    store: CheckpointStore,
    target: ViewStore,
    model: str,
    projections: Sequence[Projection],
    position: int,
) -> CheckpointUse:
    """Seed a set-up scratch store from the nearest usable checkpoint at or before
    `position`; with none, it stays empty at position 0."""
    use = CheckpointUse()
    candidates = [i for i in usable(store, model, projections, use) if i.position <= position]
    for info in reversed(candidates[-TRIED:]):
        try:
            store.seed(target, info, projections)
        except CheckpointUnusable as error:
            use.ignored.append({"position": info.position, "reason": f"unreadable: {error}"})
            continue
        use.checkpoint = info
        break
    return use


@dataclass(frozen=True)
class Built:
    model: str
    positions: list[int]  # checkpoints made, in order
    events_read: int
    retired: int  # checkpoints of another projection version removed first


def targets(last: int, top: int, every: int) -> list[int]:
    """Positions on the grid of `every` after `last`, up to `top`."""
    return list(range((last // every + 1) * every, top + 1, every))


def build(
    app: Application,  # type: ignore[type-arg]
    store: CheckpointStore,
    scratch: ScratchFactory,
    model: str,
    every: int,
    *,
    until: int | None = None,
    page_size: int = 1000,
    on_page: Callable[[int], None] | None = None,
) -> Built:
    """Make the missing checkpoints of `model` every `every` positions up to `until` (the
    head), each from the one before: one scratch store seeded from the newest checkpoint
    and folded forward, saved at each grid position."""
    from replay.asof import projections_for

    if every < 1:
        raise InvalidInput(f"--every must be a positive number of events, not {every}")
    projections = projections_for(model)
    use = CheckpointUse()
    kept = usable(store, model, projections, use)
    retired = 0
    if use.ignored:  # stale or damaged: never trusted, so not kept either
        retired = len(use.ignored)
        store.delete(model)
        kept = []
    top = head(app) if until is None else until
    goals = targets(kept[-1].position if kept else 0, top, every)
    made: list[int] = []
    read = 0
    if not goals:
        return Built(model, made, read, retired)
    with scratch() as target:
        runner = ProjectionRunner(app, target, projections, page_size=page_size)
        try:
            runner.setup()
            since = seed_nearest(store, target, model, projections, goals[0]).position
            for goal in goals:
                read += sum(
                    runner.catch_up(p.name, until=goal, on_page=on_page) for p in projections
                )
                info = _info(app, model, projections, goal)
                if store.save(info, target, projections, since):
                    made.append(goal)
                since = goal
        finally:
            runner.stop()
    return Built(model, made, read, retired)


def _info(
    app: Application,  # type: ignore[type-arg]
    model: str,
    projections: Sequence[Projection],
    position: int,
) -> CheckpointInfo:
    recorded = at_position(app, position).recorded_at
    return CheckpointInfo(
        model, position, recorded.isoformat() if recorded else None,
        datetime.now(UTC).isoformat(), fingerprint(projections), 0, 0,
    )  # fmt: skip

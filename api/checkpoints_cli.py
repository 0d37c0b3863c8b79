"""`orderledger replay checkpoint` and `replay checkpoints`: build, list and delete the
read-model checkpoints that as-of answers start from (a cache: see docs/replay.md)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from api.cli import console, fail, load_settings, runtime
from api.replay_cli import _bar
from api.settings import Settings
from replay.asof import MODELS, projections_for
from replay.checkpoint_store import CheckpointUnusable
from replay.model_checkpoints import build, fingerprint
from replay.scratch import scratch_factory


def _models(model: str | None) -> list[str]:
    if model is not None and model not in MODELS:
        fail(f"unknown model {model!r}; models are {', '.join(MODELS)}")
    return [model] if model else list(MODELS)


def _interval(every: int | None, settings: Settings) -> int:
    if every is None:
        every = settings.read_model_checkpoint_interval
        if every == 0:
            fail("read-model checkpoints are off (interval 0); give --every N")
    if every < 1:
        fail(f"--every must be a positive number of events, not {every}")
    return every


def make(model: str | None, every: int | None) -> None:
    """Build each model's missing checkpoints every `every` events up to the head."""
    models = _models(model)
    settings = load_settings()
    interval = _interval(every, settings)
    scratch = scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)
    with runtime() as opened:
        head = opened.ledger.head()
        if head == 0:
            fail("the log is empty: there is nothing to checkpoint")
        for name in models:
            with _bar(f"checkpointing {name}", head) as step:
                built = build(
                    opened.ledger, opened.checkpoints, scratch, name, interval,
                    page_size=settings.projection_page_size, on_page=step,
                )  # fmt: skip
            console.print(_summary(built.model, built.positions, built.events_read, built.retired))


def _summary(model: str, positions: list[int], read: int, retired: int) -> str:
    if not positions:
        return f"{model}: up to date (no checkpoint due)"
    span = f"{positions[0]}" if len(positions) == 1 else f"{positions[0]} … {positions[-1]}"
    retiring = f"; {retired} stale checkpoints retired first" if retired else ""
    noun = "checkpoint" if len(positions) == 1 else "checkpoints"
    return f"{model}: {len(positions)} {noun} at {span}, {read} events folded{retiring}"


def listing(model: str | None, delete: bool) -> None:
    """List the checkpoints (whether this code can use each), or delete them."""
    models = _models(model)
    with runtime() as opened:
        store = opened.checkpoints
        if delete:
            removed = store.delete(model)
            console.print(f"deleted {removed} read-model checkpoints from {store.where}")
            return
        try:
            infos = [i for i in store.list() if i.model in models]
        except CheckpointUnusable as error:
            fail(f"the checkpoints cannot be read: {error} (`--delete` clears them)")
    console.print(_table(infos, store.where))


def usable_fingerprints() -> dict[str, str]:
    return {name: fingerprint(projections_for(name)) for name in MODELS}


def _table(infos: list[Any], where: str) -> Table:
    wanted = usable_fingerprints()
    table = Table("model", "position", "recorded_at", "created_at", "usable", title=where)
    for info in infos:
        usable = "yes" if wanted.get(info.model) == info.fingerprint else "no (other version)"
        table.add_row(
            info.model, str(info.position), info.recorded_at or "", info.created_at, usable
        )
    return table

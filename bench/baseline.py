"""The bare `eventsourcing` library on the same store: the yardstick for the command path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from api.settings import Settings
from bench.timing import Workload
from projections.store import PostgresViewStore

ONE = Decimal(1)
CREATE, UPDATE, PAIR = "baseline-create", "baseline-update", "baseline-update-pair"
SEED_BATCH = 200


class Counter(Aggregate):
    """The smallest comparable aggregate: one decimal figure moved by one kind of event."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    @event("Incremented")
    def increment(self, amount: Decimal) -> None:
        self.total += amount


class BareApplication(Application[UUID]):
    """A plain library application: no metadata, no idempotency, no retries."""

    name = "bare"


@contextmanager
def baseline_workloads(
    settings: Settings, *, creates: int, updates: int, spread: int
) -> Iterator[list[Workload]]:
    """(i) create, 1 event per save; (ii) get + command + save over `spread` aggregates."""
    if settings.is_postgres:
        PostgresViewStore.ensure_schema(settings.postgres_conninfo(), settings.events_schema)
    # The very same store configuration the Ledger gets from these Settings.
    app = BareApplication(env=settings.eventsourcing_env())
    try:
        ids = _seed(app, spread)

        def create(_: int) -> None:
            app.save(Counter())

        def update(i: int) -> None:
            counter: Counter = app.repository.get(ids[i % spread])
            counter.increment(ONE)
            app.save(counter)

        def update_pair(i: int) -> None:
            # What a transfer does, bare: two aggregates read, changed and saved together.
            first: Counter = app.repository.get(ids[(2 * i) % spread])
            second: Counter = app.repository.get(ids[(2 * i + 1) % spread])
            first.increment(ONE)
            second.increment(ONE)
            app.save(first, second)

        # The update warm-up is one pass over the ids: every aggregate is then in the
        # cache, as every stock item is for the Ledger.
        yield [
            Workload(CREATE, create, creates, warmup=50),
            Workload(UPDATE, update, updates, warmup=spread),
            Workload(PAIR, update_pair, updates // 2, warmup=spread // 2),
        ]
    finally:
        app.close()


def _seed(app: BareApplication, count: int) -> list[UUID]:
    """Set-up, untimed: `count` counters saved many per transaction."""
    ids: list[UUID] = []
    for start in range(0, count, SEED_BATCH):
        counters = [Counter() for _ in range(min(SEED_BATCH, count - start))]
        app.save(*counters)
        ids += [counter.id for counter in counters]
    return ids

"""Builds the running system from Settings: ledger, read-model store, projections."""

from __future__ import annotations

from dataclasses import dataclass

from api.settings import Settings
from domain.ledger import Ledger
from projections.base import Projection
from projections.catalog import CatalogProjection
from projections.inventory import InventoryProjection
from projections.purchasing import PurchasingProjection
from projections.runner import ProjectionRunner
from projections.safety_stock import SafetyStockFollower
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore


@dataclass
class Runtime:
    settings: Settings
    ledger: Ledger
    store: ViewStore
    runner: ProjectionRunner

    def close(self) -> None:
        self.runner.stop()
        self.store.close()
        self.ledger.close()


def read_models(ledger: Ledger | None) -> list[Projection]:
    """Every projection, in the order the runner serves them."""
    return [
        CatalogProjection(),
        InventoryProjection(),
        PurchasingProjection(),
        SafetyStockFollower(ledger),
    ]


def build_store(settings: Settings) -> ViewStore:
    if settings.is_postgres:
        return PostgresViewStore(
            settings.postgres_conninfo(), settings.views_schema, settings.postgres_pool_size
        )
    return SQLiteViewStore(str(settings.views_path()))


def open_runtime(settings: Settings, *, start_projections: bool | None = None) -> Runtime:
    if settings.is_postgres:
        PostgresViewStore.ensure_schema(settings.postgres_conninfo(), settings.events_schema)
    ledger = Ledger(settings.eventsourcing_env(), receipt_tolerance=settings.receipt_tolerance)
    store = build_store(settings)
    runner = ProjectionRunner(
        ledger,
        store,
        read_models(ledger),
        page_size=settings.projection_page_size,
        poll_interval=settings.projection_poll_seconds,
    )
    runner.setup()
    ledger.save_listeners.append(runner.wake)
    if settings.run_projections if start_projections is None else start_projections:
        runner.start()
    return Runtime(settings, ledger, store, runner)

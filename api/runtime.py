"""Builds the running system from Settings: ledger, read-model store, projections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from api.access import Access
from api.credentials import CredentialStore
from api.notifier import Dispatcher
from api.settings import Settings
from domain.cipher import check_readable
from domain.ledger import Ledger
from projections.access import AccessProjection
from projections.bank_statements import StatementsProjection
from projections.base import Projection
from projections.catalog import CatalogProjection
from projections.credit import ProjectionCreditCheck
from projections.credit_exposure import CreditExposureProjection
from projections.deliveries import create_delivery_tables
from projections.inventory import InventoryProjection
from projections.kpis import KpisProjection
from projections.log_wakeup import LogWakeup
from projections.orders import OrdersProjection
from projections.outbox import OutboxProjection, Routing, Webhook
from projections.production import ProductionProjection
from projections.purchasing import PurchasingProjection
from projections.receivables import ReceivablesProjection
from projections.runner import ProjectionRunner
from projections.safety_stock import SafetyStockFollower
from projections.sla import SlaMonitor
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore
from replay.asof import MODELS
from replay.chain_follower import ChainProjection
from replay.checkpoint_files import SQLiteCheckpointStore
from replay.checkpoint_schemas import PostgresCheckpointStore
from replay.checkpoint_store import CheckpointStore
from replay.model_checkpoint_follower import CheckpointFollower
from replay.scratch import ScratchFactory, scratch_factory

SCHEMA_LOCK = 0x0D1E_D6E2  # advisory lock key taken while creating tables


@dataclass
class Runtime:
    settings: Settings
    ledger: Ledger
    store: ViewStore
    runner: ProjectionRunner
    sla: SlaMonitor
    dispatcher: Dispatcher
    checkpoints: CheckpointStore
    access: Access
    checkpoint_follower: CheckpointFollower | None = None
    log_wakeup: LogWakeup | None = None  # started with the runner (PostgreSQL only)
    # Set when the system starts shutting down: live streams never finish on their own,
    # and servers wait for open responses before they stop.
    closing: threading.Event = field(default_factory=threading.Event)

    def start_projections(self) -> None:
        """Follow the log in this process: the runner, woken at each commit where it can be."""
        self.runner.start()
        if self.log_wakeup is not None:
            self.log_wakeup.start()

    def close(self) -> None:
        self.closing.set()
        if self.checkpoint_follower is not None:
            self.checkpoint_follower.stop()
        self.sla.stop()
        self.dispatcher.close()
        if self.log_wakeup is not None:
            self.log_wakeup.stop()
        self.runner.stop()
        self.store.close()
        if self.access.credentials.store is not self.store:
            self.access.credentials.store.close()
        self.ledger.close()


def read_models(ledger: Ledger | None, routing: Routing | None = None) -> list[Projection]:
    """Every projection, in the order the runner serves them."""
    return [
        CatalogProjection(),
        InventoryProjection(),
        PurchasingProjection(),
        OrdersProjection(),
        ProductionProjection(),
        ReceivablesProjection(),
        StatementsProjection(),
        SafetyStockFollower(ledger),
        OutboxProjection(routing),
        CreditExposureProjection(),
        KpisProjection(),
        AccessProjection(),
        ChainProjection(),
    ]


def notification_routing(settings: Settings) -> Routing:
    """Role mailboxes and webhook subscriptions, as the outbox addresses them."""
    return Routing(
        roles={role: tuple(emails) for role, emails in settings.role_emails.items()},
        webhooks=tuple(Webhook(h.url, frozenset(h.events)) for h in settings.webhooks),
    )


def build_store(settings: Settings) -> ViewStore:
    if settings.is_postgres:
        return PostgresViewStore(
            settings.postgres_conninfo(), settings.views_schema, settings.postgres_pool_size
        )
    return SQLiteViewStore(str(settings.views_path()))


def scratch_stores(settings: Settings) -> ScratchFactory:
    """Scratch read-model stores for replays: temp SQLite files, or temp PostgreSQL schemas."""
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


def credential_store(settings: Settings, store: ViewStore) -> CredentialStore:
    """Key and password hashes: a file of their own, or tables in the events schema."""
    if settings.is_postgres:
        return CredentialStore(store, prefix=f'"{settings.events_schema}".')
    path = settings.credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)  # hashes only, yet nobody else's business
    path.chmod(0o600)
    return CredentialStore(SQLiteViewStore(str(path)))


def checkpoint_store(settings: Settings) -> CheckpointStore:
    """Read-model checkpoints beside the read models (a file, or `<views schema>_checkpoints`)."""
    if settings.is_postgres:
        schema = f"{settings.views_schema}_checkpoints"
        return PostgresCheckpointStore(settings.postgres_conninfo(), schema)
    return SQLiteCheckpointStore(settings.checkpoints_path())


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """One process at a time creates tables: PostgreSQL refuses concurrent catalog updates
    ("tuple concurrently updated") when several API or projection workers start together."""
    if not settings.is_postgres:
        yield
        return
    import psycopg

    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def open_runtime(
    settings: Settings,
    *,
    start_projections: bool | None = None,
    start_notifications: bool | None = None,
) -> Runtime:
    """The running system; background workers start as the settings say, unless told.

    Notifications go out only where workers run: by default not from a process that was
    asked not to run projections (the CLI's one-off commands, tests that drive the runner).
    """
    with schema_lock(settings):
        if settings.is_postgres:
            PostgresViewStore.ensure_schema(settings.postgres_conninfo(), settings.events_schema)
        ledger = Ledger(
            settings.eventsourcing_env(),
            receipt_tolerance=settings.receipt_tolerance,
            tax_rate=settings.tax_rate,
            write_off_approver_roles=settings.write_off_approver_roles,
        )
        try:
            check_readable(ledger)
        except Exception:
            ledger.close()
            raise
        store = build_store(settings)
        runner = ProjectionRunner(
            ledger,
            store,
            read_models(ledger, notification_routing(settings)),
            page_size=settings.projection_page_size,
            poll_interval=settings.projection_poll_seconds,
        )
        with store.transaction() as cur:
            create_delivery_tables(cur, ledger.head())
        runner.setup()
        credentials = credential_store(settings, store)
        credentials.create_tables()
    ledger.save_listeners.append(runner.wake)
    ledger.credit = ProjectionCreditCheck(
        runner, store, include_open_orders=settings.credit_include_open_orders,
        hold_score=settings.credit_hold_score, timeout=settings.read_your_writes_timeout,
    )  # fmt: skip
    sla = SlaMonitor(ledger, store, interval=settings.sla_scan_seconds)
    checkpoints = checkpoint_store(settings)
    follower = None
    wakeup = log_wakeup(settings, ledger, runner)
    if settings.run_projections if start_projections is None else start_projections:
        runner.start()
        if wakeup is not None:
            wakeup.start()
        sla.start()
        if settings.read_model_checkpoint_interval > 0:
            follower = CheckpointFollower(
                ledger, checkpoints, scratch_stores(settings), tuple(MODELS),
                settings.read_model_checkpoint_interval,
            )  # fmt: skip
            follower.start()
    dispatcher = Dispatcher.from_settings(store, settings)
    if start_notifications is None:
        start_notifications = settings.run_notifications and start_projections is not False
    if start_notifications:
        dispatcher.start()
    access = Access(ledger, credentials, settings)
    return Runtime(
        settings, ledger, store, runner, sla, dispatcher, checkpoints, access, follower, wakeup
    )


def log_wakeup(settings: Settings, ledger: Ledger, runner: ProjectionRunner) -> LogWakeup | None:
    """A LISTEN on the event store's channel for the runner (not started), where there is one."""
    channel = getattr(ledger.recorder, "channel_name", None)
    if not settings.is_postgres or not settings.projection_listen or channel is None:
        return None
    return LogWakeup(settings.postgres_conninfo(), channel, runner.wake)

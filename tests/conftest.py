"""Shared fixtures: every behavioural test runs on real SQLite and real PostgreSQL.

PostgreSQL tests skip with a message when no server is reachable, unless
ORDERLEDGER_REQUIRE_POSTGRES=1 (as in CI), which turns that into a failure.
Each PostgreSQL test gets its own pair of schemas, dropped afterwards.
With ORDERLEDGER_TEST_CIPHER=1 every store made here encrypts its events (one key per run).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.cipher import new_key
from domain.values import Meta

POSTGRES_URL = os.environ.get(
    "ORDERLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("ORDERLEDGER_REQUIRE_POSTGRES") == "1"
TEST_CIPHER = os.environ.get("ORDERLEDGER_TEST_CIPHER") == "1"

hypothesis_settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile(
    "dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@cache
def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        conninfo = Settings(database_url=POSTGRES_URL).postgres_conninfo()
        with psycopg.connect(conninfo, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}".splitlines()[0]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"{problem} (ORDERLEDGER_REQUIRE_POSTGRES=1)")
    pytest.skip(problem)


def drop_schemas(settings: Settings) -> None:
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
        checkpoints = f"{settings.views_schema}_checkpoints"  # read-model checkpoints
        for schema in (settings.events_schema, settings.views_schema, checkpoints):
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@cache
def run_cipher_key() -> str:
    """This run's key for ORDERLEDGER_TEST_CIPHER=1."""
    return new_key()


def make_settings(kind: str, tmp_path: Path, **overrides: object) -> Settings:
    if TEST_CIPHER:
        overrides.setdefault("cipher_key", run_cipher_key())
    if kind == "postgres":
        require_postgres()
        tag = uuid.uuid4().hex[:10]
        return Settings(
            database_url=POSTGRES_URL,
            events_schema=f"t_{tag}_events",
            views_schema=f"t_{tag}_views",
            postgres_pool_size=8,
            **overrides,  # type: ignore[arg-type]
        )
    return Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(store_kind: str, tmp_path: Path) -> Iterator[Settings]:
    made = make_settings(store_kind, tmp_path)
    yield made
    if made.is_postgres:
        drop_schemas(made)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """The ledger, its read-model store and a runner that is driven by the test (not started)."""
    opened = open_runtime(settings, start_projections=False)
    yield opened
    opened.close()


def command_meta(command: str = "test", actor: str = "tester", at: datetime | None = None) -> Meta:
    return Meta(
        actor=actor,
        correlation_id=f"corr-{uuid.uuid4().hex[:8]}",
        command=command,
        at=at or datetime.now(UTC),
    )


@pytest.fixture
def meta() -> Callable[..., Meta]:
    return command_meta


def settings_env(settings: Settings) -> dict[str, str]:
    """The ORDERLEDGER_* variables that give a CLI these settings' stores (and key)."""
    env = {
        "ORDERLEDGER_DATABASE_URL": settings.database_url,
        "ORDERLEDGER_EVENTS_SCHEMA": settings.events_schema,
        "ORDERLEDGER_VIEWS_SCHEMA": settings.views_schema,
    }
    if settings.cipher_key is not None:
        env["ORDERLEDGER_CIPHER_KEY"] = settings.cipher_key.get_secret_value()
    return env


def settings_json(settings: Settings) -> str:
    """The settings for a child process, keys included (`model_dump_json` masks secrets)."""
    data = settings.model_dump(mode="json")
    for name, value in settings:
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return json.dumps(data)

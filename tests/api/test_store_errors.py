"""A store that is full, read-only or unreachable answers as such: 507 or 503 problems with
Retry-After, never a 500 — and the CLI says so in one line. The errors are real SQLite and
PostgreSQL errors, raised where the ledger saves (the fault suite, `make faults`, causes the
conditions themselves)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import InternalError, OperationalError, ProgrammingError

from api.access import Access
from api.settings import Settings
from tests.api.conftest import Api, assert_problem
from tests.cli.test_cli import invoke
from tests.conftest import POSTGRES_URL, require_postgres
from tests.integration.test_store_errors import sqlite_error, wrapped


def store_error(tmp_path: Path, condition: str) -> Exception:
    """A real SQLite error of the condition, as the event store library raises it."""
    if condition == "full":
        driver = sqlite_error(tmp_path, "PRAGMA max_page_count = 3",
                              write="INSERT INTO t VALUES (zeroblob(8000))")  # fmt: skip
    else:
        driver = sqlite_error(tmp_path, "ro", write="INSERT INTO t VALUES (1)")
    return wrapped(driver, OperationalError)


def postgres_read_only_error() -> Exception:
    """PostgreSQL refusing a write in a read-only transaction, as the event store library
    raises it: its InternalError (once answered 500)."""
    require_postgres()
    with psycopg.connect(Settings(database_url=POSTGRES_URL).postgres_conninfo()) as connection:
        connection.execute("SET TRANSACTION READ ONLY")
        try:
            connection.execute("CREATE TEMP TABLE refused (x int)")
        except psycopg.errors.ReadOnlySqlTransaction as error:
            return wrapped(error, InternalError)
    raise AssertionError("PostgreSQL wrote in a read-only transaction")


@pytest.mark.parametrize(
    ("condition", "status", "rule"),
    [
        ("full", 507, "store-full"),
        ("read-only", 503, "store-read-only"),
        pytest.param("postgres read-only", 503, "store-read-only", marks=pytest.mark.postgres),
    ],
)
def test_a_command_on_an_unwritable_store_is_a_problem_to_retry(
    stocked: Api,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    condition: str,
    status: int,
    rule: str,
) -> None:
    if condition == "postgres read-only":
        error = postgres_read_only_error()
    else:
        error = store_error(tmp_path, condition)

    def refused(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(stocked.runtime.ledger, "save_with_meta", refused)
    response = stocked.reserve("SO-1", "1", idempotency_key="k-1")

    body = assert_problem(response, status, rule)
    assert response.headers["Retry-After"] == "1"
    assert "nothing was stored" in body["detail"]


def test_a_store_error_that_is_a_defect_stays_a_500(
    stocked: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = wrapped(ValueError("syntax error at or near"), ProgrammingError)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(stocked.runtime.ledger, "save_with_meta", broken)
    assert_problem(stocked.reserve("SO-1", "1"), 500, "internal")


def test_a_cli_command_on_a_full_store_fails_in_one_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = store_error(tmp_path, "full")

    def refused(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(Access, "create_user", refused)
    code, output = invoke(settings, "users", "create", "ann", "--role", "sales", "--no-key")

    assert code == 1
    assert output.strip().splitlines() == [
        "error: the ledger's database is out of space; nothing was stored, retry once space is"
        " freed (database or disk is full)"
    ]

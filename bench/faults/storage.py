"""Fault 4: a database that cannot be written — read-only, or out of space — under the real
server. Commands must fail with a clear problem (503 read-only, 507 full) or a one-line CLI
error, leave the log and read models as they were, and succeed again once the store can be
written, without a restart.

- SQLite, read-only: the store's files made immutable (`chattr +i`: for root, permission
  bits do not stop a write), while the server has them open.
- SQLite, full: the store in a small tmpfs, filled to the last byte by a ballast file.
- PostgreSQL, read-only: `default_transaction_read_only` switched on for the whole
  (private) cluster and the configuration reloaded, so open sessions obey it too.
- PostgreSQL, full: the database's tables in a tablespace on a small tmpfs, filled by a
  ballast file (the write-ahead log stays on the main disk, as it should).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from api.runtime import open_runtime
from api.settings import Settings
from bench.faults.checks import replay_differences, settle
from bench.faults.clients import Attempt, judge_answers, judge_log, send
from bench.faults.cluster import PrivateCluster
from bench.faults.postgres_restart import stock
from bench.faults.report import FaultResult
from bench.faults.served import Served, cli, issue_caller_key, settings_env

RECOVERY_TIMEOUT = 60.0
TMPFS_SIZE = "24m"


@dataclass
class Condition:
    """A way to make the store unwritable and writable again."""

    name: str
    rules: set[str]  # the problems a command may answer with meanwhile
    spoil: Callable[[], None]
    mend: Callable[[], None]
    may_succeed: bool = False  # a full disk still takes writes that fit in allocated pages


def unwritable_store(kind: str, condition: str, commands: int) -> FaultResult:
    """`commands` reservations (and one CLI command) against a store made read-only or full,
    then the same keys again once it is mended."""
    fault = "read-only database" if condition == "read-only" else "full disk"
    label = "SQLite" if kind == "sqlite" else "PostgreSQL (private)"
    result = FaultResult(fault, label)
    began = time.monotonic()
    opened = _sqlite(condition) if kind == "sqlite" else _postgres(condition)
    with opened as (settings, spoiling):
        _exercise(settings, spoiling, commands, result)
    result.seconds = time.monotonic() - began
    return result


def _exercise(settings: Settings, condition: Condition, commands: int, result: FaultResult) -> None:
    stock(settings)
    attempts: list[Attempt] = []
    with Served(settings, issue_caller_key(settings)) as served, served.client() as client:
        attempts += [send(client, f"before-{n}") for n in range(3)]
        _settled(client)
        before = snapshot(settings)
        condition.spoil()
        try:
            during = [send(client, f"during-{n}") for n in range(commands)]
            result.trials = 1
            _cli_refuses(settings, result)
            stored = any(a.succeeded for a in during)
            if not stored and snapshot(settings) != before:
                result.problems.append("the store changed while it could not be written")
            if not condition.may_succeed and any(a.succeeded for a in during):
                result.problems.append("a command succeeded on a read-only store")
            if all(a.succeeded for a in during):
                result.problems.append(f"no command failed while the store was {condition.name}")
        finally:
            condition.mend()
        mended = time.monotonic()
        after = [_until_stored(client, a.key) for a in during]
        result.recovered_in(min((a.done for a in after if a.succeeded), default=mended) - mended)
        attempts += during + after
        judge_answers(attempts, result, condition.rules)
    judge_store(settings, attempts, result)


def _settled(client: httpx.Client, timeout: float = 60.0) -> None:
    """Wait for the server's projections to reach the log head: the snapshot must not race
    them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = client.get("/healthz").json()
        if all(p["lag"] == 0 for p in health["projections"]):
            return
        time.sleep(0.05)
    raise TimeoutError("the server's projections did not catch up")


def _until_stored(client: httpx.Client, key: str) -> Attempt:
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    attempt = send(client, key)
    while not attempt.succeeded and time.monotonic() < deadline:
        time.sleep(0.2)
        attempt = send(client, key)
    return attempt


def _cli_refuses(settings: Settings, result: FaultResult) -> None:
    """A command-line write says why it failed in one line, not a traceback."""
    done = subprocess.run(
        cli("users", "create", "faults.cli", "--role", "warehouse", "--no-key"),
        env=settings_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    message = done.stderr.strip()
    if done.returncode == 0:
        result.problems.append("`orderledger users create` succeeded on an unwritable store")
    elif "Traceback" in message or len(message.splitlines()) != 1:
        result.problems.append(f"the CLI failed without a one-line message: {message[-300:]!r}")
    else:
        result.notes.append(f"CLI: {message}")


def judge_store(settings: Settings, attempts: list[Attempt], result: FaultResult) -> None:
    runtime = open_runtime(settings, start_projections=False)
    try:
        judge_log(runtime.ledger, attempts, result)
        settle(runtime)
        lost, duplicated, problems = replay_differences(runtime)
        result.lost += lost
        result.duplicated += duplicated
        result.problems += problems
    finally:
        runtime.close()


def snapshot(settings: Settings) -> str:
    """A digest of every row of the event store and the read models, read without writing."""
    digest = hashlib.sha256()
    for table, rows in _all_rows(settings):
        digest.update(table.encode())
        for row in sorted(repr(r) for r in rows):
            digest.update(row.encode())
    return digest.hexdigest()


def _all_rows(settings: Settings) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo()) as connection:
            tables = connection.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN (%s, %s)"
                " ORDER BY 1, 2", (settings.events_schema, settings.views_schema),
            ).fetchall()  # fmt: skip
            for schema, table in tables:
                yield table, connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
        return
    for path in (settings.sqlite_path(), settings.views_path()):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            names = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
            for (table,) in names:
                yield table, connection.execute(f'SELECT * FROM "{table}"').fetchall()


# -- the conditions ------------------------------------------------------------------------------


@contextmanager
def _sqlite(condition: str) -> Iterator[tuple[Settings, Condition]]:
    root = Path(tempfile.mkdtemp(prefix="orderledger-faults-sqlite-"))
    folder = root / "store"
    folder.mkdir()
    settings = Settings(database_url=f"sqlite:///{folder / 'ledger.db'}")
    try:
        if condition == "read-only":
            # A connection opened before reports the refused write as SQLITE_IOERR_WRITE (a
            # write error, 503 store-unavailable); one opened after, as SQLITE_READONLY.
            yield settings, Condition(
                "read-only", {"store-read-only", "store-unavailable"},
                lambda: _chattr("+i", _store_files(folder)),
                lambda: _chattr("-i", _store_files(folder)),
            )  # fmt: skip
        else:
            _mount_tmpfs(folder, TMPFS_SIZE)
            yield settings, _full(folder, "store-full")
    finally:
        if condition == "read-only":  # an immutable file cannot even be deleted
            _chattr("-i", _store_files(folder))
        else:
            subprocess.run(["umount", "-l", folder], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _store_files(folder: Path) -> list[Path]:
    """The databases and their write-ahead logs (not the -shm files SQLite maps in memory:
    writing to an immutable mapping kills the process with SIGBUS)."""
    return [p for p in folder.iterdir() if p.suffix in (".db", ".db-wal")]


@contextmanager
def _postgres(condition: str) -> Iterator[tuple[Settings, Condition]]:
    with PrivateCluster() as cluster:
        settings = Settings(database_url=cluster.url(), events_schema="ledger",
                            views_schema="ledger_views", postgres_pool_size=8)  # fmt: skip
        if condition == "read-only":

            def read_only(on: bool) -> Callable[[], None]:
                value = "on" if on else "off"
                return lambda: _reload(cluster, f"default_transaction_read_only = {value}")

            yield settings, Condition("read-only", {"store-read-only"},
                                      read_only(True), read_only(False))  # fmt: skip
        else:
            space = cluster.tmpfs("tablespace", TMPFS_SIZE)
            cluster.execute(f"CREATE TABLESPACE small LOCATION '{space}'", "postgres")
            cluster.execute("ALTER DATABASE faults SET default_tablespace = small", "postgres")
            yield settings, _full(space, "store-full")


def _reload(cluster: PrivateCluster, setting: str) -> None:
    cluster.execute(f"ALTER SYSTEM SET {setting}", "postgres")
    cluster.execute("SELECT pg_reload_conf()", "postgres")
    time.sleep(0.5)  # every backend takes the new configuration at its next command


def _full(folder: Path, rule: str) -> Condition:
    ballast = folder / "ballast"
    return Condition("full", {rule}, lambda: _fill(ballast), lambda: ballast.unlink(),
                     may_succeed=True)  # fmt: skip


def _fill(path: Path) -> None:
    """Write until the file system has not one byte left."""
    with path.open("wb", buffering=0) as ballast:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    ballast.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    os.sync()


def _mount_tmpfs(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder],
                   check=True, capture_output=True)  # fmt: skip


def _chattr(flag: str, paths: list[Path]) -> None:
    if paths:
        subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)

"""`orderledger cipher`: make a key for the event store's cipher, re-encrypt under a new one."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.cli import console, fail, load_settings
from api.cli_support import count_bar
from api.settings import Settings
from domain.cipher import BadKey
from domain.cipher import new_key as make_key
from domain.key_rotation import Rotation, count_rows
from domain.key_rotation import rotate as reencrypt
from domain.ledger import Ledger

ROTATION_LOCK = 0x0D1E_C1F3  # advisory lock class; the second key is the events schema's hash


def new_key(out: Path | None, size: int) -> None:
    try:
        key = make_key(size)
    except BadKey as error:
        fail(str(error))
    if out is None:
        print(key)
        return
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    console.print(
        f"wrote {out} (mode 0600): ORDERLEDGER_CIPHER_KEY_FILE={out}",
        highlight=False,
        soft_wrap=True,
    )


def rotate(*, encrypt_plain: bool, dry_run: bool) -> None:
    settings = load_settings()
    if settings.cipher_keys() is None:
        fail(
            "the cipher is off: set ORDERLEDGER_CIPHER_KEY (the key to encrypt under) and"
            " ORDERLEDGER_CIPHER_OLD_KEYS (the keys it replaces)"
        )
    with rotation_lock(settings):
        try:
            ledger = Ledger(settings.eventsourcing_env())
        except Exception as error:
            fail(f"cannot open the ledger: {str(error).strip().splitlines()[0]}")
        try:
            with count_bar("re-encrypting", count_rows(ledger)) as advance:
                done = reencrypt(
                    ledger, encrypt_plain=encrypt_plain, dry_run=dry_run, on_page=advance
                )
        finally:
            ledger.close()
    _report(done, dry_run)


def _report(done: Rotation, dry_run: bool) -> None:
    verb = "would be" if dry_run else "were"
    console.print(
        f"{done.scanned} stored states: {done.current} already under the current key;"
        f" {done.reencrypted} under an old key and {done.encrypted} in plain {verb}"
        " encrypted under the current key",
        highlight=False,
        soft_wrap=True,
    )
    if done.raced:
        fail(f"{done.raced} states changed while they were re-encrypted: run it again")
    if done.unreadable:
        fail(
            f"{done.unreadable} states open under no configured key and were left as they are"
            f" (first: {', '.join(done.unreadable_rows)}); `orderledger audit verify` tells"
            " whether they were changed"
        )
    if not dry_run:
        console.print(
            "every stored state is under the current key: remove ORDERLEDGER_CIPHER_OLD_KEYS"
            " and restart the servers",
            highlight=False,
            soft_wrap=True,
        )


@contextmanager
def rotation_lock(settings: Settings) -> Iterator[None]:
    """One rotation at a time per event store: a second one is refused, not queued."""
    if settings.is_postgres:
        import psycopg

        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
            key = (ROTATION_LOCK, settings.events_schema)
            row = connection.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key)
            if not (found := row.fetchone()) or not found[0]:
                fail("another key rotation is running on this event store")
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
        return
    path = settings.sqlite_path()
    with open(path.with_name(path.name + ".rotation-lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail("another key rotation is running on this event store")
        yield

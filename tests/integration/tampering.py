"""Raw SQL against the event table, as someone with database access could tamper with it.

Statements use `{events}` for the table, `{id}` for the position column and `?` for
parameters, on both stores."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from eventsourcing.utils import Environment

from api.settings import Settings
from domain.cipher import LedgerCipher

POSTGRES_EVENTS_TABLE = "ledger_events"  # the recorder's table name (checked in the tests)


def tamper(settings: Settings, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on the event store; returns the rows it selected, if any."""
    if settings.is_postgres:
        table = f'"{settings.events_schema}".{POSTGRES_EVENTS_TABLE}'
        sql = statement.format(events=table, id="notification_id").replace("?", "%s")
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    sql = statement.format(events="stored_events", id="rowid")
    connection = sqlite3.connect(settings.sqlite_path(), isolation_level=None)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def change_state(settings: Settings, position: int) -> None:
    """Flip one byte of the stored state at `position`."""
    [(state,)] = tamper(settings, "SELECT state FROM {events} WHERE {id} = ?", (position,))
    changed = bytes(state[:-2]) + bytes([state[-2] ^ 1]) + bytes(state[-1:])
    tamper(settings, "UPDATE {events} SET state = ? WHERE {id} = ?", (changed, position))


def change_content(settings: Settings, position: int) -> None:
    """Flip one byte of what the event at `position` says, as someone who also holds the
    event store's key would: re-encrypted when the cipher is on, so the state still opens."""
    keys = settings.cipher_keys()
    if not keys:
        change_state(settings, position)
        return
    cipher = LedgerCipher(Environment("", {"CIPHER_KEY": keys[0]}))
    [(state,)] = tamper(settings, "SELECT state FROM {events} WHERE {id} = ?", (position,))
    plain = cipher.decrypt(bytes(state))
    changed = cipher.encrypt(plain[:-2] + bytes([plain[-2] ^ 1]) + plain[-1:])
    tamper(settings, "UPDATE {events} SET state = ? WHERE {id} = ?", (changed, position))


def delete(settings: Settings, position: int) -> None:
    tamper(settings, "DELETE FROM {events} WHERE {id} = ?", (position,))


def swap_contents(settings: Settings, first: int, second: int) -> None:
    """Swap the topics and states of two events (their aggregates and versions stay)."""
    rows = tamper(
        settings, "SELECT {id}, topic, state FROM {events} WHERE {id} IN (?, ?)", (first, second)
    )
    found = {row[0]: (row[1], bytes(row[2])) for row in rows}
    for here, there in ((first, second), (second, first)):
        topic, state = found[there]
        sql = "UPDATE {events} SET topic = ?, state = ? WHERE {id} = ?"
        tamper(settings, sql, (topic, state, here))


def move(settings: Settings, position: int, to: int) -> None:
    tamper(settings, "UPDATE {events} SET {id} = ? WHERE {id} = ?", (to, position))


def swap_positions(settings: Settings, first: int, second: int) -> None:
    """Swap two whole events in the log order."""
    move(settings, first, -1)
    move(settings, second, first)
    move(settings, -1, second)


def copy_event(settings: Settings, position: int, to: int, version: int) -> None:
    """Insert a copy of the event at `position` as a new version of its aggregate at `to`."""
    tamper(
        settings,
        "INSERT INTO {events} (originator_id, originator_version, topic, state, {id})"
        " SELECT originator_id, ?, topic, state, ? FROM {events} WHERE {id} = ?",
        (version, to, position),
    )

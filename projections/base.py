"""What every projection is: named tables, the event topics it reads, and a page handler."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from projections.store import Cursor

PositionedEvent = tuple[int, Any]


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: str
    unique: bool = False
    # The projection's own `apply` looks rows up by these columns: a rebuild's shadow table
    # needs it while it fills. Every other index is built once, after the fill (a sort of
    # the finished table instead of one insert into the index per row).
    lookup: bool = False

    def create(self, suffix: str) -> str:
        unique = "UNIQUE " if self.unique else ""
        return (
            f"CREATE {unique}INDEX IF NOT EXISTS {self.name}{suffix}"
            f" ON {self.table}{suffix} ({self.columns})"
        )


class Projection:
    """A read model answering one question; the same code serves live, rebuild and replay.

    `tables` maps a base table name to its DDL (with `{t}` for the real, suffixed name);
    `indexes` are named with the same suffix. A projection instance writes only to its own
    suffixed tables, so a rebuild can fill shadow tables while the live ones keep serving.
    """

    name: ClassVar[str]
    tables: ClassVar[dict[str, str]] = {}
    indexes: ClassVar[tuple[Index, ...]] = ()
    event_classes: ClassVar[tuple[type, ...]] = ()
    # A raw projection is handed every stored notification undecoded (the hash chain),
    # instead of the decoded events of its topics; only the event store's cipher, if on,
    # is taken off the states.
    raw: ClassVar[bool] = False
    # Ledger tables: rows are only appended, each keyed by the `position` of the event that
    # wrote it, and `apply` never reads them back. Read-model checkpoints keep one shared
    # copy of these (cut at each checkpoint's position) instead of one copy per checkpoint.
    ledgers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix
        self.topics = frozenset(get_topic(cls) for cls in self.event_classes)

    def with_suffix(self, suffix: str) -> Projection:
        """The same projection writing to differently named tables."""
        return type(self)(suffix)

    def t(self, base: str) -> str:
        return base + self.suffix

    def shape(self) -> str:
        """A fingerprint of the tables' definitions: a changed one means the stored tables
        were made by another release and must be filled again."""
        text = "\n".join(f"{base}: {ddl}" for base, ddl in sorted(self.tables.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def create_tables(self, cur: Cursor, *, lookups_only: bool = False) -> None:
        """The tables and their indexes (`lookups_only`: those `apply` reads by, for a
        rebuild's shadow tables, whose other indexes are made when they are switched)."""
        for base, ddl in self.tables.items():
            cur.ddl(ddl.replace("{t}", self.t(base)))
        self.create_indexes(cur, self.suffix, lookups_only=lookups_only)

    def create_indexes(self, cur: Cursor, suffix: str, *, lookups_only: bool = False) -> None:
        for index in self.indexes:
            if index.lookup or not lookups_only:
                cur.execute(index.create(suffix))

    def drop_tables(self, cur: Cursor) -> None:
        for base in self.tables:
            cur.execute(f"DROP TABLE IF EXISTS {self.t(base)}")

    def rename_tables(self, cur: Cursor, to_suffix: str) -> None:
        """Give this instance's tables another suffix; indexes are re-created under it."""
        for index in self.indexes:
            cur.execute(f"DROP INDEX IF EXISTS {index.name}{self.suffix}")
        for base in self.tables:
            cur.execute(f"ALTER TABLE {self.t(base)} RENAME TO {base}{to_suffix}")
        self.create_indexes(cur, to_suffix)

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        """Fold one page of events into the tables, inside the caller's transaction."""
        raise NotImplementedError


def events_of(aggregate: type, *names: str) -> tuple[type, ...]:
    """The event classes an aggregate's `@event` methods defined (made at class creation)."""
    return tuple(getattr(aggregate, name) for name in names)


def meta_of(domain_event: Any) -> dict[str, Any]:
    return getattr(domain_event, "meta", None) or {}

"""`orderledger replay as-of inventory|ageing|orders`: a read model as of a past moment,
replayed by the live projection code into a scratch store, shown as a table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from api.cli import console, fail, load_settings, runtime
from api.responses import iso, plain_decimal
from api.settings import Settings
from projections.open_items import BUCKET_NAMES
from replay import answers
from replay.moments import resolve
from replay.scratch import ScratchFactory, scratch_factory

MODELS = ("inventory", "ageing", "orders")


def scratch_for(settings: Settings) -> ScratchFactory:
    """Scratch stores beside the live ones: a temp SQLite file, or a temp PostgreSQL schema."""
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


def parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO time such as 2024-05-03T12:00:00+00:00")
    if parsed.tzinfo is None:
        fail(f"{option} {text!r} must carry a time zone offset (e.g. +00:00 or Z)")
    return parsed


def as_of(
    model: str,
    position: int | None,
    at: str | None,
    effective: str | None,
    sku: str | None,
    customer: str | None,
    as_of_date: date | None,
) -> None:
    if model not in MODELS:
        fail(f"unknown model {model!r}; models are {', '.join(MODELS)}")
    when, effective_at = parse_time(at, "--at"), parse_time(effective, "--effective")
    settings = load_settings()
    with runtime() as opened:
        moment = resolve(opened.ledger, position=position, at=when, now=datetime.now(UTC))
        scratch = scratch_for(settings)
        with _bar(f"replaying {model} to position {moment.position}", moment.position) as step:
            if model == "inventory":
                report = answers.inventory_as_of(
                    opened.ledger, scratch, moment, effective=effective_at, sku=sku, on_page=step,
                    checkpoints=opened.checkpoints,
                )  # fmt: skip
            elif model == "ageing":
                report = answers.ageing_as_of(
                    opened.ledger, scratch, moment, as_of=as_of_date, customer=customer,
                    on_page=step, checkpoints=opened.checkpoints,
                )  # fmt: skip
            else:
                report = answers.orders_as_of(
                    opened.ledger, scratch, moment, customer=customer, on_page=step,
                    checkpoints=opened.checkpoints,
                )  # fmt: skip
    console.print(_headline(model, report))
    console.print(TABLES[model](report))


@contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console,
        disable=not console.is_terminal,
        transient=not sys.stdout.isatty(),
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=total)
        yield lambda reached: bar.update(task, completed=reached)


def _headline(model: str, report: dict[str, Any]) -> str:
    moment, replay = report["moment"], report["replay"]
    known = f"as known at position {moment['position']} of {moment['head']}"
    if moment["recorded_at"] is not None:
        known += f" (last event recorded {iso(moment['recorded_at'])})"
    if report.get("effective") is not None:
        known = f"effective {iso(report['effective'])}, " + known
    start = replay.get("checkpoint")
    since = f" after the read-model checkpoint at {start}" if start else ""
    skipped = len(replay.get("ignored_checkpoints") or ())
    ignored = f" ({skipped} checkpoints ignored)" if skipped else ""
    return (
        f"{model} {known}; asked: {moment['asked']}; replayed {replay['events_read']} events"
        f"{since}{ignored} in {replay['seconds']:.3f} s"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return plain_decimal(value) if hasattr(value, "normalize") else str(iso(value))


def _inventory_table(report: dict[str, Any]) -> Table:
    dated = report["effective"] is not None
    columns = ["sku", "warehouse", "physical", "in_transit", "locked", "available"]
    columns += ["movements"] if dated else ["projected", "last_position"]
    table = Table(*columns)
    for row in report["items"]:
        table.add_row(*(_text(row[c]) for c in columns))
    return table


def _ageing_table(report: dict[str, Any]) -> Table:
    columns = ["customer", "currency", *BUCKET_NAMES, "total", "items"]
    table = Table(*columns)
    for row in report["ageing"]["customers"]:
        table.add_row(*(_text(row[c]) for c in columns))
    for code, total in report["ageing"]["totals"].items():
        table.add_row("total", code, *(_text(total[c]) for c in columns[2:]))
    return table


def _orders_table(report: dict[str, Any]) -> Table:
    columns = ["number", "customer", "status", "stage", "currency", "total", "shipped_pct"]
    table = Table(*columns)
    for row in report["orders"]:
        table.add_row(*(_text(row[c]) for c in columns))
    return table


TABLES: dict[str, Callable[[dict[str, Any]], Table]] = {
    "inventory": _inventory_table,
    "ageing": _ageing_table,
    "orders": _orders_table,
}

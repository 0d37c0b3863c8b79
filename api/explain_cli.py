"""`orderledger replay explain|diff|stock-item` and `orderledger audit trail`: why a figure
is what it is, what changed between two moments, and who did what, when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from api.cli import console, fail, load_settings, runtime
from api.replay_cli import _bar, parse_time, scratch_for
from api.responses import iso, plain_decimal
from replay import diff as diffs
from replay import explain as explanations
from replay import trail as trails
from replay.effective import stock_item_effective
from replay.moments import Moment, at_position, at_time, resolve

explain_app = typer.Typer(help="The events behind a figure, as of a moment.", no_args_is_help=True)
Position = Annotated[int | None, typer.Option(help="Log position (1 … head)")]
At = Annotated[str | None, typer.Option(help="Recorded time, ISO with offset")]


def register(replay_cli: typer.Typer, audit_cli: typer.Typer) -> None:
    replay_cli.add_typer(explain_app, name="explain")
    replay_cli.command("diff")(diff)
    replay_cli.command("stock-item")(stock_item)
    audit_cli.command("trail")(trail)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "normalize"):
        return str(plain_decimal(value))
    return str(iso(value)) if hasattr(value, "isoformat") else str(value)


def _moment(ledger: Any, position: int | None, at: str | None) -> Moment:
    return resolve(ledger, position=position, at=parse_time(at, "--at"), now=datetime.now(UTC))


def _explain(run: Callable[[Any, Any, Moment, Any], dict[str, Any]], position: int | None,
             at: str | None) -> dict[str, Any]:  # fmt: skip
    with runtime() as opened:
        moment = _moment(opened.ledger, position, at)
        with _bar(f"replaying to position {moment.position}", moment.position) as step:
            return run(opened.ledger, scratch_for(load_settings()), moment, step)


def _show(report: dict[str, Any], extra: tuple[str, ...]) -> None:
    moment = report["moment"]
    console.print(
        f"{report['figure']} = {_text(report['value'])} as known at position"
        f" {moment['position']} of {moment['head']} (asked: {moment['asked']})"
    )
    columns = ("position", "recorded_at", "event_type", "actor", "role", "command",
               "correlation_id", "effective", *extra, "detail")  # fmt: skip
    table = Table(*columns)
    for line in report["lines"]:
        table.add_row(*(_text(line[c]) for c in columns))
    console.print(table)


@explain_app.command("inventory")
def explain_inventory(
    sku: str, warehouse: str, position: Position = None, at: At = None,
    figure: Annotated[str, typer.Option(help="available, physical, locked or in_transit")] = (
        "available"),
    effective: Annotated[str | None, typer.Option(help="Only movements effective by then")] = None,
) -> None:  # fmt: skip
    """One figure of one SKU in one warehouse, movement by movement, with running totals."""
    when = parse_time(effective, "--effective")
    report = _explain(
        lambda ledger, scratch, moment, step: explanations.explain_inventory(
            ledger, scratch, moment, sku, warehouse, figure=figure, effective=when, on_page=step
        ), position, at,
    )  # fmt: skip
    _show(report, ("contribution", "running"))
    console.print(f"{report['unchanged']} other movements did not change {figure}")


@explain_app.command("invoice")
def explain_invoice(
    number: str, position: Position = None, at: At = None,
    as_of_date: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                          help="Business day (default: the moment's)")] = None,
) -> None:  # fmt: skip
    """What an invoice still owed: its total less the payments, credits and write-offs."""
    day = as_of_date.date() if as_of_date else None
    report = _explain(
        lambda ledger, scratch, moment, step: explanations.explain_invoice(
            ledger, scratch, moment, number, as_of=day, on_page=step
        ), position, at,
    )  # fmt: skip
    _show(report, ("contribution", "running"))
    console.print(f"status on {report['as_of']}: {report['status']}")


@explain_app.command("order")
def explain_order(number: str, position: Position = None, at: At = None) -> None:
    """A sales order's status and stage: its events and what each changed."""
    report = _explain(
        lambda ledger, scratch, moment, step: explanations.explain_order(
            ledger, scratch, moment, number, on_page=step
        ), position, at,
    )  # fmt: skip
    report["value"] = f"{report['value']['status']} / {report['value']['stage']}"
    _show(report, ("status", "stage"))


def _point(ledger: Any, text: str, option: str) -> Moment:
    """A position (digits) or a recorded time."""
    if text.isdigit():
        return at_position(ledger, int(text))
    when = parse_time(text, option)
    assert when is not None
    return at_time(ledger, when, datetime.now(UTC))


def diff(
    from_: Annotated[str, typer.Option("--from", help="Position or recorded time (ISO)")],
    to: Annotated[str, typer.Option("--to", help="Position or recorded time, after --from")],
    model: Annotated[list[str] | None, typer.Option(
        help="inventory, orders or receivables (repeatable; default: all)")] = None,
) -> None:  # fmt: skip
    """What changed between two moments per SKU × warehouse, sales order and invoice."""
    unknown = [m for m in model or () if m not in diffs.MODELS]
    if unknown:
        fail(f"unknown model {unknown[0]!r}; models are {', '.join(diffs.MODELS)}")
    with runtime() as opened:
        a, b = _point(opened.ledger, from_, "--from"), _point(opened.ledger, to, "--to")
        models = tuple(model) if model else diffs.MODELS
        report = diffs.diff(opened.ledger, scratch_for(load_settings()), a, b, models=models)
    console.print(f"from position {a.position} ({a.asked}) to position {b.position} ({b.asked})")
    for name in models:
        console.print(DIFF_TABLES[name](report[name]))


def _inventory_diff(rows: list[dict[str, Any]]) -> Table:
    table = Table("sku", "warehouse", *(f"{d} before → after (Δ)" for d in diffs.DIMENSIONS))
    for row in rows:
        before = row["before"] or {}
        cells = [f"{_text(before.get(d, 0))} → {_text(row['after'][d])} ({_text(row['delta'][d])})"
                 for d in diffs.DIMENSIONS]  # fmt: skip
        table.add_row(row["sku"], row["warehouse"], *cells)
    return table


def _orders_diff(rows: list[dict[str, Any]]) -> Table:
    table = Table("order", "status before → after", "stage before → after")
    for row in rows:
        old = row["before"] or {"status": "(new)", "stage": "(new)"}
        table.add_row(row["number"], f"{old['status']} → {row['after']['status']}",
                      f"{old['stage']} → {row['after']['stage']}")  # fmt: skip
    return table


def _receivables_diff(rows: list[dict[str, Any]]) -> Table:
    table = Table("invoice", "customer", "currency", "open before", "open after", "Δ")
    for row in rows:
        before = "(new)" if row["new"] else _text(row["open_before"])
        table.add_row(row["number"], row["customer"], row["currency"], before,
                      _text(row["open_after"]), _text(row["delta"]))  # fmt: skip
    return table


DIFF_TABLES = {"inventory": _inventory_diff, "orders": _orders_diff,
               "receivables": _receivables_diff}  # fmt: skip


def stock_item(
    sku: str, warehouse: str,
    effective: Annotated[str, typer.Option(help="Business time (ISO with offset)")],
    position: Position = None, at: At = None,
) -> None:  # fmt: skip
    """A stock item effective at a business time as known at a moment (default: now)."""
    when = parse_time(effective, "--effective")
    assert when is not None
    with runtime() as opened:
        report = stock_item_effective(
            opened.ledger, _moment(opened.ledger, position, at), sku, warehouse, when
        )
    table = Table("field", "value")
    for name in ("sku", "warehouse", "effective", "physical", "in_transit", "locked",
                 "available", "events_folded", "events_known"):  # fmt: skip
        table.add_row(name, _text(report[name]))
    console.print(f"as known at position {report['moment']['position']}")
    console.print(table)


def trail(
    actor: Annotated[str | None, typer.Option(help="Who issued the commands")] = None,
    role: Annotated[str | None, typer.Option(help="The role they acted in")] = None,
    aggregate: Annotated[str | None, typer.Option(
        help="A type (SalesOrder), a key (SO-1, SKU-1@WH1, INV-…), or TYPE:KEY")] = None,
    type_: Annotated[list[str] | None, typer.Option(
        "--type", help="Event type such as SalesOrder.Shipped (repeatable)")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Recorded at or after (ISO)")] = None,
    to: Annotated[str | None, typer.Option(help="Recorded at or before (ISO)")] = None,
    from_position: Annotated[int | None, typer.Option(help="First position")] = None,
    to_position: Annotated[int | None, typer.Option(help="Last position")] = None,
    after: Annotated[int, typer.Option(help="Continue after this position (cursor)")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries")] = 100,
    json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:  # fmt: skip
    """Who did what, when: the log filtered by actor, role, aggregate, type and range."""
    start, stop = parse_time(from_, "--from"), parse_time(to, "--to")
    with runtime() as opened:
        found = trails.resolve_filter(
            opened.ledger, now=datetime.now(UTC), actor=actor, role=role, aggregate=aggregate,
            types=type_, from_position=from_position, to_position=to_position,
            from_time=start, to_time=stop,
        )  # fmt: skip
        streamed = islice(trails.entries(opened.ledger, found, after=after), limit)
        if json:  # JSON lines, printed as they are found
            for each in streamed:
                typer.echo(orjson.dumps(each.as_dict(), default=str).decode())
            return
        rows = [each.as_dict() for each in streamed]
    columns = ("position", "recorded_at", "event_type", "business_key", "version", "actor",
               "role", "command", "correlation_id", "effective")  # fmt: skip
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_text(row[c]) for c in columns))
    console.print(table)
    console.print(f"{len(rows)} entries in positions {found.start} … {found.stop}")

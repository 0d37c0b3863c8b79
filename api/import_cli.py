"""`orderledger import KIND FILE`: customers, products, opening stock or open orders from a
CSV or XLSX file. Every row is validated first; a file with bad rows is refused as a whole
(one line, exit 1, nothing stored) unless `--skip-bad-rows`; the summary counts what was
created, what was there already (unchanged) and the bad rows, each listed with why."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli import cli_actor, console, fail, load_settings, runtime
from api.imports import ImportRefused, ImportRequest, run_import
from domain.exceptions import DomainError
from domain.import_files import FORMATS
from domain.import_layouts import KINDS
from domain.values import Meta


def import_file(
    kind: Annotated[str, typer.Argument(help=f"What the file holds: {', '.join(KINDS)}")],
    file: Annotated[Path, typer.Argument(help="The CSV or XLSX file")],
    format: Annotated[str, typer.Option(help="csv, xlsx or auto (by content)")] = "auto",
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Import the good rows, report the bad ones")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Validate and report; store nothing")] = False,
) -> None:
    """Import customers, products, opening stock or open orders from CSV or XLSX (see
    docs/imports.md for each kind's columns). Importing the same file again changes nothing."""
    if kind not in KINDS:
        fail(f"unknown import kind {kind!r}; kinds: {', '.join(KINDS)}")
    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    settings = load_settings()
    data = _read(file, settings.import_max_bytes)
    request = ImportRequest(kind, data, file.name, format, skip_bad_rows, dry_run)
    with runtime() as opened, _bar() as advance:
        try:
            report = run_import(opened.ledger, _meta(kind), request, advance)
        except ImportRefused as refused:
            _print_bad(refused.report["bad"])
            fail(refused.message)
        except DomainError as error:
            fail(f"{file.name}: {error.message}; nothing imported")
    _print_summary(report)


def _read(file: Path, max_bytes: int) -> bytes:
    try:
        size = file.stat().st_size
        if size > max_bytes:
            fail(f"{file} is {size} bytes; imports are limited to {max_bytes} bytes")
        return file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}")


def _meta(kind: str) -> Meta:
    return Meta(
        actor=cli_actor(), correlation_id=f"cli-{uuid.uuid4().hex}",
        command=f"import_{kind}", at=datetime.now(UTC), role="admin",
    )  # fmt: skip


@contextmanager
def _bar() -> Iterator[Callable[[str, int, int | None], None]]:
    """One bar per stage (validating, importing), shown on a terminal only."""
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield advance


def _print_summary(report: dict[str, Any]) -> None:
    title = f"{report['file_name']} ({report['kind']}, {report['format']})"
    if report["dry_run"]:
        title += " — dry run, nothing stored"
    table = Table("", "count", title=title)
    created = "to create" if report["dry_run"] else "created"
    for label, value in (
        ("rows read", report["rows"]),
        (created, report["created"]),
        ("unchanged", report["unchanged"]),
        ("bad rows", report["bad_rows"]),
    ):
        table.add_row(label, str(value))
    console.print(table)
    _print_bad(report["bad"], out=console)


def _print_bad(bad: list[dict[str, Any]], out: Console | None = None) -> None:
    out = out or Console(stderr=True)
    for row in bad:
        out.print(f"row {row['row']}: {'; '.join(row['errors'])}", highlight=False, soft_wrap=True)

"""`orderledger finance import-statement FILE`: parse with a progress bar, record in one
save, print the summary. A bad file is one line on stderr, exit 1, and nothing stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from api.cli import cli_actor, console, fail, load_settings, runtime
from api.matching import match_statement
from api.settings import Settings
from domain.exceptions import DomainError
from domain.statements import (
    CREDIT,
    CsvMap,
    InvalidStatement,
    file_sha256,
    load_csv_map,
    parse_statement,
)
from domain.values import Meta

FORMATS = ("auto", "csv", "camt053")


def import_statement_file(
    file: Path, format: str, map_file: Path | None, skip_bad_lines: bool, auto_match: bool = True
) -> None:
    settings = load_settings()
    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    data = _read(file, settings.statement_max_bytes)
    column_map = _column_map(map_file, settings)
    with runtime() as opened, _bar() as bar:
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        parsing = bar.add_task("parsing", total=lines)
        parsed = parse_statement(
            data, file_name=file.name, format=format, column_map=column_map,
            max_bytes=settings.statement_max_bytes, max_lines=settings.statement_max_lines,
            progress=lambda line: bar.update(parsing, completed=line),
        )  # fmt: skip
        bar.update(parsing, completed=bar.tasks[parsing].total)
        credits = sum(1 for line in parsed.lines if line.direction == CREDIT)
        recording = bar.add_task("recording", total=credits)
        try:
            outcome = opened.ledger.import_statement(
                _meta(), lines=parsed.lines, file_name=file.name, file_sha256=file_sha256(data),
                format=parsed.format, skip_bad_lines=skip_bad_lines, bad_lines=parsed.bad_lines,
                pending_skipped=parsed.pending_skipped, account=parsed.account,
            )  # fmt: skip
        except InvalidStatement as error:
            bar.stop()
            fail(f"{error.message}; nothing stored (--skip-bad-lines imports the other lines)")
        bar.update(recording, completed=credits)
        summary = dict(outcome.result)
        if auto_match and summary["bank_refs_imported"]:
            matching = bar.add_task("matching", total=len(summary["bank_refs_imported"]))
            summary = match_statement(opened, _meta("finance match"), summary)
            bar.update(matching, completed=len(summary["bank_refs_imported"]))
    _print_summary(summary)


def _read(file: Path, max_bytes: int) -> bytes:
    try:
        size = file.stat().st_size
        if size > max_bytes:
            fail(f"{file} is {size} bytes; statements are limited to {max_bytes} bytes")
        return file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}")


def _column_map(map_file: Path | None, settings: Settings) -> CsvMap:
    if map_file is None:
        return settings.statement_csv_map
    try:
        return load_csv_map(map_file.read_text(encoding="utf-8"), f"column map {map_file.name}")
    except OSError as error:
        fail(f"cannot read {map_file}: {error.strerror or error}")
    except (DomainError, UnicodeDecodeError) as error:
        fail(getattr(error, "message", str(error)))


def _meta(command: str = "import_statement") -> Meta:
    return Meta(
        actor=cli_actor(), role="finance", correlation_id=f"cli-{uuid.uuid4().hex}",
        command=command, at=datetime.now(UTC),
    )  # fmt: skip


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,  # the finished bars stay: how much was read and recorded
    )


def _print_summary(summary: dict[str, Any]) -> None:
    if summary["already_imported"]:
        console.print(
            f"{summary['file_name']} was imported before (statement {summary['statement_id']}):"
            " nothing stored"
        )
    table = Table("", "count", title=f"{summary['file_name']} ({summary['format']})")
    matched = summary["matched_by_rule"]
    rows = [
        ("statement lines", summary["lines"]),
        ("imported", summary["imported"]),
        ("duplicates skipped", summary["duplicates_skipped"]),
        ("debits skipped", summary["debits_skipped"]),
        ("pending skipped", summary["pending_skipped"]),
        ("bad lines skipped", len(summary["bad_lines"])),
        ("matched by rule", ", ".join(f"{r}: {n}" for r, n in matched.items()) or "0"),
        ("unmatched", summary["unmatched"]),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    for code, total in sorted(summary["totals"].items()):
        table.add_row(f"total {code}", total)
    console.print(table)
    for bad in summary["bad_lines"]:
        console.print(f"skipped line {bad['line']}: {bad['error']}", highlight=False)

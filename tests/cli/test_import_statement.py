"""`orderledger finance import-statement` on real SQLite and PostgreSQL: progress, a
summary table, and a one-line error (exit 1, nothing stored) for a bad file."""

from __future__ import annotations

import getpass
from pathlib import Path

from api.runtime import open_runtime
from api.settings import Settings
from tests.cli.test_cli import invoke
from tests.statement_files import (
    BAD_LINES_CSV,
    BROKEN_XML,
    CAMT02,
    GERMAN_CSV,
    GERMAN_MAP,
    MISSING_COLUMN_CSV,
    line_of,
)


def head(settings: Settings) -> int:
    opened = open_runtime(settings, start_projections=False)
    try:
        return opened.ledger.head()
    finally:
        opened.close()


def actors(settings: Settings) -> set[tuple[str, str]]:
    """Every (actor, role) the log's events name."""
    opened = open_runtime(settings, start_projections=False)
    try:
        stored = opened.ledger.recorder.select_notifications(start=1, limit=10_000)
        metas = [opened.ledger.mapper.to_domain_event(n).meta for n in stored]
        return {(m["actor"], m.get("role", "")) for m in metas}
    finally:
        opened.close()


def summary_rows(output: str) -> dict[str, str]:
    """The summary table's rows: label → value."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│") if cell.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def import_statement(settings: Settings, *args: str | Path) -> tuple[int, str]:
    return invoke(settings, "finance", "import-statement", *(str(a) for a in args))


def test_a_statement_is_imported_with_progress_and_a_summary(settings: Settings) -> None:
    code, output = import_statement(settings, CAMT02)
    assert code == 0, output
    bars = [line.split() for line in output.splitlines() if line.startswith(("parsing", "rec"))]
    assert [(bar[0], bar[-1]) for bar in bars] == [("parsing", "300/300"), ("recording", "5/5")]
    assert summary_rows(output) == {
        "statement lines": "7", "imported": "5", "duplicates skipped": "0",
        "debits skipped": "1", "pending skipped": "1", "bad lines skipped": "0",
        "matched by rule": "0", "unmatched": "5", "total EUR": "7641.00",
    }  # fmt: skip
    stored = head(settings)

    code, output = import_statement(settings, CAMT02)
    assert code == 0, output
    assert "was imported before" in output
    rows = summary_rows(output)
    assert (rows["imported"], rows["duplicates skipped"]) == ("0", "5")
    assert head(settings) == stored
    assert actors(settings) == {(f"cli:{getpass.getuser()}", "finance")}  # who ran it, as what


def test_a_csv_is_read_through_a_map_file(settings: Settings) -> None:
    code, output = import_statement(settings, GERMAN_CSV, "--map", GERMAN_MAP, "--format", "csv")
    assert code == 0, output
    rows = summary_rows(output)
    assert (rows["imported"], rows["debits skipped"], rows["total EUR"]) == ("3", "2", "13734.56")


def test_a_bad_file_is_one_line_exit_1_and_nothing_stored(settings: Settings) -> None:
    for path, message in [
        (BAD_LINES_CSV, "error: line 4: amount '12,3x' is not a number (and 2 more bad lines);"
                        " nothing stored (--skip-bad-lines imports the other lines)"),
        (BROKEN_XML, f"error: line {line_of(BROKEN_XML, '</Ref>', whole=True)}: the XML is not"
                     " well-formed: mismatched tag"),
        (MISSING_COLUMN_CSV, "error: line 1: column 'currency' (currency) is missing; the header"
                             " has bank_ref, payer, amount, value_date, remittance"),
    ]:  # fmt: skip
        code, output = import_statement(settings, path)
        assert code == 1, output
        assert output.strip().splitlines()[-1] == message
        assert [line for line in output.splitlines() if "error" in line] == [message]
    assert head(settings) == 0


def test_skip_bad_lines_imports_the_rest_and_lists_the_bad_ones(settings: Settings) -> None:
    code, output = import_statement(settings, BAD_LINES_CSV, "--skip-bad-lines")
    assert code == 0, output
    rows = summary_rows(output)
    assert (rows["imported"], rows["bad lines skipped"], rows["unmatched"]) == ("3", "3", "3")
    assert "skipped line 4: amount '12,3x' is not a number" in output
    assert "skipped line 7: value date '2026-13-01' does not match %Y-%m-%d" in output


def test_bad_options_and_missing_files_are_one_line_errors(
    settings: Settings, tmp_path: Path
) -> None:
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text("delimiter: ';;'\n")
    for args, message in [
        ((tmp_path / "nope.csv",), f"error: cannot read {tmp_path / 'nope.csv'}: No such file"),
        ((CAMT02, "--format", "mt940"), "error: --format must be one of auto, csv, camt053"),
        ((GERMAN_CSV, "--map", bad_map),
         "error: column map map.yaml: delimiter: String should have at most 1 character"),
    ]:  # fmt: skip
        code, output = import_statement(settings, *args)
        assert code == 1, output
        assert output.strip().startswith(message), output
        assert len(output.strip().splitlines()) == 1, output
    assert head(settings) == 0

"""Statement import on real SQLite and PostgreSQL: new credits become payments with the
statement record in one save; nothing is ever stored twice; a bad file stores nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.bank_statements import statement_id
from domain.exceptions import InvalidInput
from domain.ledger import Ledger
from domain.statements import InvalidStatement, file_sha256, load_csv_map, parse_statement
from projections.bank_statements import list_statements, matched_by_rule
from tests.conftest import command_meta as meta
from tests.integration.helpers import catch_up_all, names, stored_events
from tests.integration.orders import fresh, race, saved_by
from tests.integration.test_receivables import bill, two_shipments
from tests.statement_files import (
    BAD_LINES_CSV,
    CAMT02,
    CAMT02_CREDITS,
    CAMT08,
    GERMAN_CSV,
    GERMAN_MAP,
)

HEADER = "bank_ref,payer,amount,currency,value_date,remittance\n"


def import_file(
    ledger: Ledger, data: bytes, name: str = "statement", skip: bool = False, **parse: Any
) -> Outcome:
    parsed = parse_statement(data, file_name=name, **parse)
    return ledger.import_statement(
        meta("import_statement"), lines=parsed.lines, file_name=name,
        file_sha256=file_sha256(data), format=parsed.format, skip_bad_lines=skip,
        bad_lines=parsed.bad_lines, pending_skipped=parsed.pending_skipped,
        account=parsed.account,
    )  # fmt: skip


def csv_file(*rows: str) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


def row(ref: str, amount: str = "10.00", payer: str = "Contoso Ltd") -> str:
    return f"{ref},{payer},{amount},EUR,2026-03-18,INV-2026-000001"


def test_a_camt_statement_becomes_payments_and_a_statement_record_in_one_save(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    outcome = import_file(ledger, CAMT02.read_bytes(), "camt053-001-02.xml")

    found = saved_by(ledger, outcome, 0)
    assert names(found) == ["Payment.Received"] * 5 + ["BankStatement.Imported"]
    for ref, (payer, amount, value_date, remittance) in CAMT02_CREDITS.items():
        payment = ledger.payment(ref)
        assert (payment.payer, payment.amount, payment.currency, payment.value_date,
                payment.remittance, payment.source) == (
            payer, Decimal(amount), "EUR", date.fromisoformat(value_date), remittance, "camt053",
        )  # fmt: skip
    summary = outcome.result
    assert summary == {
        "statement_id": str(statement_id(file_sha256(CAMT02.read_bytes()))),
        "file_name": "camt053-001-02.xml", "file_sha256": file_sha256(CAMT02.read_bytes()),
        "format": "camt053", "account": "DE44500105175407324931", "already_imported": False,
        "lines": 7, "imported": 5, "duplicates_skipped": 0, "debits_skipped": 1,
        "pending_skipped": 1, "bad_lines": [], "totals": {"EUR": "7641.00"},
        "bank_refs_imported": list(CAMT02_CREDITS), "bank_refs_duplicate": [],
        "matched_by_rule": {}, "unmatched": 5, "version": 1,
    }  # fmt: skip
    imported = found[-1][1]
    assert (imported.file_name, imported.format, imported.imported, imported.totals) == (
        "camt053-001-02.xml", "camt053", 5, {"EUR": Decimal("7641.00")},
    )  # fmt: skip


def test_reimporting_the_same_file_stores_nothing_and_counts_every_credit_a_duplicate(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    first = import_file(ledger, CAMT02.read_bytes(), "camt053-001-02.xml")
    head = ledger.head()

    again = import_file(ledger, CAMT02.read_bytes(), "renamed.xml")

    assert ledger.head() == head
    assert again.position == head
    result = again.result
    assert (result["already_imported"], result["imported"], result["duplicates_skipped"]) == (
        True, 0, 5,
    )  # fmt: skip
    assert result["statement_id"] == first.result["statement_id"]
    assert result["file_name"] == "camt053-001-02.xml"  # the statement as first imported
    assert result["bank_refs_duplicate"] == list(CAMT02_CREDITS)
    assert (result["bank_refs_imported"], result["totals"], result["unmatched"]) == ([], {}, 0)


def test_an_overlapping_file_imports_only_its_new_lines(runtime: Runtime) -> None:
    ledger = runtime.ledger
    import_file(ledger, csv_file(row("BNK-1"), row("BNK-2")))

    outcome = import_file(ledger, csv_file(row("BNK-2"), row("BNK-3", "7.50"), row("BNK-1")))

    result = outcome.result
    assert (result["imported"], result["duplicates_skipped"], result["already_imported"]) == (
        1, 2, False,
    )  # fmt: skip
    assert result["bank_refs_imported"] == ["BNK-3"]
    assert result["bank_refs_duplicate"] == ["BNK-2", "BNK-1"]
    assert result["totals"] == {"EUR": "7.50"}
    payments = [e for _, e in stored_events(ledger) if type(e).__qualname__ == "Payment.Received"]
    assert sorted(e.bank_ref for e in payments) == ["BNK-1", "BNK-2", "BNK-3"]


def test_another_process_finds_what_this_one_stored_and_skips_it(runtime: Runtime) -> None:
    import_file(runtime.ledger, csv_file(row("BNK-1"), row("BNK-2")))
    other = fresh(runtime.ledger)  # nothing of the first import in its caches
    try:
        outcome = import_file(other, csv_file(row("BNK-2"), row("BNK-3"), row("BNK-1")))
    finally:
        other.close()
    assert (outcome.result["imported"], outcome.result["bank_refs_duplicate"]) == (
        1, ["BNK-2", "BNK-1"],
    )  # fmt: skip
    received = [e.bank_ref for _, e in stored_events(runtime.ledger)
                if type(e).__qualname__ == "Payment.Received"]  # fmt: skip
    assert received == ["BNK-1", "BNK-2", "BNK-3"]


def test_a_reference_repeated_in_the_file_or_entered_by_hand_is_a_duplicate(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    ledger.record_payment(
        meta("record_payment"), bank_ref="BNK-9", payer="Contoso Ltd", amount="99.00",
        currency_code="EUR", value_date=date(2026, 3, 1),
    )  # fmt: skip

    outcome = import_file(ledger, csv_file(row("BNK-1"), row("BNK-1", "20.00"), row("BNK-9")))

    assert (outcome.result["imported"], outcome.result["duplicates_skipped"]) == (1, 2)
    assert ledger.payment("BNK-1").amount == Decimal("10.00")  # the first line counts
    assert ledger.payment("BNK-9").amount == Decimal("99.00")  # never changed by an import


def test_a_german_csv_imports_its_credits_through_its_map(runtime: Runtime) -> None:
    column_map = load_csv_map(GERMAN_MAP.read_text("utf-8"))
    outcome = import_file(runtime.ledger, GERMAN_CSV.read_bytes(), "umsaetze.csv",
                          column_map=column_map)  # fmt: skip
    result = outcome.result
    assert (result["format"], result["imported"], result["debits_skipped"]) == ("csv", 3, 2)
    assert result["totals"] == {"EUR": "13734.56"}
    payment = runtime.ledger.payment("SPK-2026031900108")
    assert (payment.payer, payment.amount, payment.source) == (
        "Gärtnerei Weiß KG", Decimal("12000.00"), "csv",
    )  # fmt: skip


def test_a_file_with_bad_lines_stores_nothing_and_names_every_bad_line(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    import_file(ledger, CAMT08.read_bytes())
    head = ledger.head()

    with pytest.raises(InvalidStatement) as caught:
        import_file(ledger, BAD_LINES_CSV.read_bytes())

    assert ledger.head() == head
    assert caught.value.message == ("line 4: amount '12,3x' is not a number (and 2 more bad lines)")
    assert [bad["line"] for bad in caught.value.errors()] == [4, 6, 7]
    assert not ledger.exists(statement_id(file_sha256(BAD_LINES_CSV.read_bytes())))


def test_skipping_bad_lines_imports_the_rest_and_reports_them(runtime: Runtime) -> None:
    ledger = runtime.ledger
    outcome = import_file(ledger, BAD_LINES_CSV.read_bytes(), "bad-lines.csv", skip=True)

    result = outcome.result
    assert (result["lines"], result["imported"]) == (6, 3)
    assert result["bank_refs_imported"] == ["BNK-2026-0101", "BNK-2026-0102", "BNK-2026-0104"]
    assert result["bad_lines"] == [
        {"line": 4, "error": "amount '12,3x' is not a number"},
        {"line": 6, "error": "currency 'EUX' is not an ISO 4217 code"},
        {"line": 7, "error": "value date '2026-13-01' does not match %Y-%m-%d"},
    ]
    statement = ledger.bank_statement(statement_id(result["file_sha256"]))
    assert statement.bad_lines == result["bad_lines"]


def test_a_file_once_imported_with_skipped_lines_answers_as_imported(runtime: Runtime) -> None:
    ledger = runtime.ledger
    import_file(ledger, BAD_LINES_CSV.read_bytes(), skip=True)
    head = ledger.head()

    again = import_file(ledger, BAD_LINES_CSV.read_bytes())  # without skipping, this time

    assert (again.result["already_imported"], ledger.head()) == (True, head)
    assert len(again.result["bad_lines"]) == 3


def test_arguments_that_did_not_come_from_the_parser_are_refused(runtime: Runtime) -> None:
    ledger = runtime.ledger
    good = {"lines": [], "file_name": "x.csv", "file_sha256": "a" * 64, "format": "csv"}
    for bad, message in [
        ({"file_sha256": "not-a-hash"}, "file_sha256 must be 64 lower-case hexadecimal digits"),
        ({"format": "mt940"}, "format must be one of csv, camt053, not 'mt940'"),
        ({"lines": [{"bank_ref": "X"}]}, "lines must be parsed statement lines"),
        ({"pending_skipped": -1}, "pending_skipped must be a whole number ≥ 0"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            ledger.import_statement(meta(), **{**good, **bad})  # type: ignore[arg-type]
        assert caught.value.message == message
    assert ledger.head() == 0


def test_an_empty_statement_is_recorded_once(runtime: Runtime) -> None:
    outcome = import_file(runtime.ledger, csv_file(), r"C:\exports\empty.csv")
    assert (outcome.result["lines"], outcome.result["file_name"]) == (0, "empty.csv")
    assert names(stored_events(runtime.ledger)) == ["BankStatement.Imported"]


def test_concurrent_overlapping_imports_store_each_reference_once(runtime: Runtime) -> None:
    ledger = runtime.ledger
    files = [
        csv_file(*(row(f"BNK-{n}") for n in range(0, 30))),
        csv_file(*(row(f"BNK-{n}") for n in range(20, 50))),
        csv_file(*(row(f"BNK-{n}") for n in range(10, 40)), row("BNK-extra")),
    ]

    outcomes = race(3, lambda n: import_file(ledger, files[n], f"part-{n}.csv"))

    assert all(isinstance(o, Outcome) for o in outcomes), outcomes
    imported = [ref for o in outcomes for ref in o.result["bank_refs_imported"]]
    assert sorted(imported) == sorted([f"BNK-{n}" for n in range(50)] + ["BNK-extra"])
    assert sum(o.result["duplicates_skipped"] for o in outcomes) == 91 - 51
    received = [e.bank_ref for _, e in stored_events(ledger)
                if type(e).__qualname__ == "Payment.Received"]  # fmt: skip
    assert len(received) == len(set(received)) == 51


def test_the_statements_read_model_lists_newest_first_and_counts_matches(
    runtime: Runtime, sales: Ledger
) -> None:
    two_shipments(sales)
    bill(sales, "SH-1", invoice_date=date(2026, 3, 1))
    first = import_file(sales, csv_file(row("BNK-1", "6.00"), row("BNK-2", "3.00")), "a.csv")
    second = import_file(sales, CAMT08.read_bytes(), "b.xml")
    sales.allocate_payment(
        meta("allocate_payment"), bank_ref="BNK-1", invoice_number="INV-2026-000001",
        amount="6.00",
    )  # fmt: skip
    catch_up_all(runtime)

    with runtime.store.read() as cur:
        listed = list_statements(cur, before=None, limit=10)
        older = list_statements(cur, before=listed[0]["position"], limit=10)
        matched = matched_by_rule(cur, first.result["statement_id"])
    assert [r["statement_id"] for r in listed] == [
        second.result["statement_id"], first.result["statement_id"],
    ]  # fmt: skip
    assert [r["statement_id"] for r in older] == [first.result["statement_id"]]
    assert {k: listed[1][k] for k in ("file_name", "format", "lines", "imported", "totals")} == {
        "file_name": "a.csv", "format": "csv", "lines": 2, "imported": 2,
        "totals": {"EUR": "9.00"},
    }  # fmt: skip
    assert matched == {"manual": 1}
    runtime.runner.rebuild("bank_statements")
    with runtime.store.read() as cur:
        assert list_statements(cur, before=None, limit=10) == listed
        assert matched_by_rule(cur, first.result["statement_id"]) == matched


def test_a_ten_thousand_line_statement_imports_in_one_save(runtime: Runtime) -> None:
    rows = [row(f"BNK-{n:05d}", f"{n % 900 + 1}.25") for n in range(10_000)]
    outcome = import_file(runtime.ledger, csv_file(*rows), "big.csv")
    assert outcome.result["imported"] == 10_000
    assert outcome.position == runtime.ledger.head() == 10_001

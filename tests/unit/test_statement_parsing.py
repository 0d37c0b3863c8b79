"""Reading bank statements (no database): every field of both formats, and every error
names the line it was found on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import InvalidInput
from domain.statements import (
    CREDIT,
    DEBIT,
    CsvMap,
    InvalidStatement,
    ParsedStatement,
    StatementTooLarge,
    detect_format,
    load_csv_map,
    parse_camt053,
    parse_csv,
    parse_statement,
)
from tests.statement_files import (
    BAD_LINES_CSV,
    BROKEN_XML,
    CAMT02,
    CAMT02_CREDITS,
    CAMT08,
    GERMAN_CSV,
    GERMAN_MAP,
    MISSING_COLUMN_CSV,
    PLAIN_CSV,
    UNKNOWN_CURRENCY_XML,
    camt,
    entry,
    line_of,
)

D = Decimal
HEADER = "bank_ref,payer,amount,currency,value_date,remittance\n"


def fields(parsed: ParsedStatement) -> list[tuple[Any, ...]]:
    return [
        (s.line, s.bank_ref, s.payer, s.amount, s.currency, s.value_date, s.remittance,
         s.direction)
        for s in parsed.lines
    ]  # fmt: skip


def bad(parsed: ParsedStatement) -> list[tuple[int, str]]:
    return [(b.line, b.error) for b in parsed.bad_lines]


def refused(data: bytes, **options: Any) -> InvalidStatement:
    with pytest.raises(InvalidStatement) as caught:
        parse_statement(data, **options)
    return caught.value


def csv_lines(body: str, column_map: CsvMap | None = None) -> ParsedStatement:
    return parse_csv((HEADER + body).encode(), column_map or CsvMap())


# -- CSV -------------------------------------------------------------------------------------


def test_a_plain_csv_gives_every_field_of_every_line() -> None:
    parsed = parse_statement(PLAIN_CSV.read_bytes(), file_name="plain.csv")
    assert parsed.format == "csv"
    assert (parsed.bad_lines, parsed.pending_skipped) == ((), 0)
    assert fields(parsed) == [
        (2, "BNK-2026-0001", "Contoso Ltd", D("1190.00"), "EUR", date(2026, 3, 18),
         "INV-2026-000001", CREDIT),
        (3, "BNK-2026-0002", "Fabrikam, Inc.", D("2380.00"), "USD", date(2026, 3, 18),
         "Invoice INV-2026-000002, order SO-1002", CREDIT),
        (4, "BNK-2026-0003", "Acme Components GmbH", D("750.00"), "EUR", date(2026, 3, 18),
         "Supplier invoice 88-2213", DEBIT),
        (5, "BNK-2026-0004", "Wide World Importers", D("2500"), "EUR", date(2026, 3, 19),
         "Payment INV-2026-000003", CREDIT),
        (6, "BNK-2026-0005", "Tailspin Toys", D("15000"), "JPY", date(2026, 3, 19), "",
         CREDIT),
    ]  # fmt: skip


def test_a_german_bank_export_is_read_through_its_column_map() -> None:
    column_map = load_csv_map(GERMAN_MAP.read_text("utf-8"))
    parsed = parse_statement(GERMAN_CSV.read_bytes(), column_map=column_map)
    assert bad(parsed) == []
    assert fields(parsed) == [
        (4, "SPK-2026031800411", "Müller & Söhne GmbH", D("1234.56"), "EUR",
         date(2026, 3, 18), "Rechnung INV-2026-000003 Kd 10077 KREF-10077", CREDIT),
        (5, "SPK-2026031800412", "Stadtwerke Köln", D("312.40"), "EUR", date(2026, 3, 18),
         "Strom Februar SW-4411-02", DEBIT),
        (6, "SPK-2026031900107", "Bäckerei Öztürk", D("500.00"), "EUR", date(2026, 3, 18),
         "INV-2026-000009; Teilzahlung", CREDIT),
        (7, "SPK-2026031900108", "Gärtnerei Weiß KG", D("12000.00"), "EUR",
         date(2026, 3, 19), "Sammelzahlung INV-2026-000010 INV-2026-000011 ZV-88", CREDIT),
        (8, "SPK-2026032000021", "Finanzamt München", D("4871.13"), "EUR", date(2026, 3, 20),
         "USt Februar 2026", DEBIT),
    ]  # fmt: skip


def test_a_column_map_may_be_written_in_yaml_with_a_fixed_currency() -> None:
    column_map = load_csv_map(
        "delimiter: ';'\ncolumns: {currency: null, remittance: Text}\nfixed_currency: CHF\n"
    )
    data = "bank_ref;payer;amount;value_date;Text\nR-1;Litware;12.5;2026-03-01;INV-1\n"
    parsed = parse_csv(data.encode(), column_map)
    assert fields(parsed) == [
        (2, "R-1", "Litware", D("12.5"), "CHF", date(2026, 3, 1), "INV-1", CREDIT)
    ]


def test_signs_bom_quoted_line_breaks_and_blank_rows() -> None:
    data = (
        "\ufeff" + HEADER + "R-1,A,12.50-,EUR,2026-03-01,x\n\n"
        'R-2,B,+3,EUR,2026-03-02,"two\nlines"\nR-3,C,-0.5,EUR,2026-03-03,\n'
    ).encode()
    parsed = parse_csv(data, CsvMap(encoding="utf-8-sig"))
    assert [(s.line, s.bank_ref, s.amount, s.direction, s.remittance) for s in parsed.lines] == [
        (2, "R-1", D("12.50"), DEBIT, "x"),
        (4, "R-2", D("3"), CREDIT, "two lines"),
        (6, "R-3", D("0.5"), DEBIT, ""),
    ]


def test_a_credit_debit_column_tells_the_direction() -> None:
    column_map = CsvMap.model_validate(
        {"columns": {"remittance": []}, "credit_debit": {"column": "CD", "credit": "C"}}
    )
    data = "bank_ref,payer,amount,currency,value_date,CD\nR-1,A,5,EUR,2026-03-01,c\n"
    data += "R-2,B,6,EUR,2026-03-01,D\nR-3,C,7,EUR,2026-03-01,anything\n"
    parsed = parse_csv(data.encode(), column_map)
    assert [(s.bank_ref, s.direction) for s in parsed.lines] == [
        ("R-1", CREDIT), ("R-2", DEBIT), ("R-3", DEBIT),
    ]  # fmt: skip


def test_every_bad_line_is_collected_with_its_line_number() -> None:
    parsed = parse_statement(BAD_LINES_CSV.read_bytes())
    assert [s.bank_ref for s in parsed.lines] == ["BNK-2026-0101", "BNK-2026-0102",
                                                  "BNK-2026-0104"]  # fmt: skip
    assert bad(parsed) == [
        (4, "amount '12,3x' is not a number"),
        (6, "currency 'EUX' is not an ISO 4217 code"),
        (7, "value date '2026-13-01' does not match %Y-%m-%d"),
    ]
    error = InvalidStatement(parsed.bad_lines)
    assert error.message == "line 4: amount '12,3x' is not a number (and 2 more bad lines)"
    assert isinstance(error, InvalidInput)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("R-1,A,1.2.3,EUR,2026-03-01,x", "amount '1.2.3' is not a number"),
        ("R-1,A,--5,EUR,2026-03-01,x", "amount '--5' is not a number"),
        ("R-1,A,,EUR,2026-03-01,x", "amount '' is not a number"),
        ("R-1,A,0.00,EUR,2026-03-01,x", "amount is zero"),
        ("R-1,A,1.234,EUR,2026-03-01,x", "amount 1.234 has more than 2 decimals for EUR"),
        ("R-1,A,10.5,JPY,2026-03-01,x", "amount 10.5 has more than 0 decimals for JPY"),
        ("R-1,A,10,eur,2026-03-01,x", "currency 'eur' is not an ISO 4217 code"),
        ("R-1,A,10,,2026-03-01,x", "no currency"),
        ("R-1,A,10,EUR,01.03.2026,x", "value date '01.03.2026' does not match %Y-%m-%d"),
        (",A,10,EUR,2026-03-01,x", "no bank reference"),
        ("R 1,A,10,EUR,2026-03-01,x",
         "bank reference 'R 1' must be 1-64 letters, digits or . _ - (starting with a letter"
         " or digit)"),
        ("R-1,A,10,EUR", "4 fields, but the header has 6"),
        ("R-1,A,10,EUR,2026-03-01,x,extra", "7 fields, but the header has 6"),
        ("R-1," + "P" * 201 + ",10,EUR,2026-03-01,x", "payer is longer than 200 characters"),
        ("R-1,A,10,EUR,2026-03-01,a\x01b", "remittance contains control characters"),
    ],
)  # fmt: skip
def test_a_bad_csv_row_is_named_by_its_line(row: str, error: str) -> None:
    parsed = csv_lines("R-0,Z,1,EUR,2026-03-01,ok\n" + row + "\n")
    assert [s.bank_ref for s in parsed.lines] == ["R-0"]
    assert bad(parsed) == [(3, error)]


def test_a_debit_needs_no_bank_reference_of_any_form() -> None:
    parsed = csv_lines(",Bank,-3.50,EUR,2026-03-01,fees\nSO 1/2,Acme,-9,EUR,2026-03-01,x\n")
    assert [(s.bank_ref, s.direction) for s in parsed.lines] == [("", DEBIT), ("SO 1/2", DEBIT)]


def test_a_credit_debit_value_that_is_neither_is_a_bad_line() -> None:
    column_map = CsvMap.model_validate(
        {"columns": {"remittance": []}, "credit_debit": {"column": "SH", "credit": "H",
                                                         "debit": "S"}}
    )  # fmt: skip
    data = "bank_ref,payer,amount,currency,value_date,SH\nR-1,A,5,EUR,2026-03-01,X\n"
    data += "R-2,A,-5,EUR,2026-03-01,H\n"
    parsed = parse_csv(data.encode(), column_map)
    assert bad(parsed) == [
        (2, "SH 'X' is neither credit ('H') nor debit ('S')"),
        (3, "amount -5 is negative, but column 'SH' gives the direction"),
    ]


def test_a_missing_column_refuses_the_file_naming_the_header_line() -> None:
    error = refused(MISSING_COLUMN_CSV.read_bytes())
    assert error.message == (
        "line 1: column 'currency' (currency) is missing; the header has bank_ref, payer,"
        " amount, value_date, remittance"
    )
    assert error.errors() == [{"line": 1, "error": error.message.removeprefix("line 1: ")}]


def test_bytes_that_are_not_the_maps_encoding_name_their_line() -> None:
    data = (HEADER + "R-1,A,1,EUR,2026-03-01,x\nR-2,M\xfcller,1,EUR,2026-03-01,x\n").encode(
        "latin-1"
    )
    assert refused(data).message == ("line 3: byte 0xfc is not utf-8 (set the map's encoding)")
    parsed = parse_csv(data, CsvMap(encoding="latin-1"))
    assert parsed.lines[1].payer == "Müller"


def test_an_unterminated_quote_refuses_the_file() -> None:
    error = refused((HEADER + 'R-1,A,1,EUR,2026-03-01,"open\n').encode())
    assert error.message.startswith("line 2: the CSV cannot be read")


def test_a_file_with_only_blank_lines_or_no_header_is_refused() -> None:
    assert refused(b" \n\n").message == "line 1: the file is empty"
    with pytest.raises(InvalidStatement, match="line 1: the file has no header row"):
        parse_csv(b"preamble\n", CsvMap(skip_rows=1))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"delimiter": ";;"}', "column map: delimiter: String should have at most 1 character"),
        ('{"separator": ";"}', "column map: separator: Extra inputs are not permitted"),
        ('{"decimal_separator": ",", "thousands_separator": ","}',
         "column map: map: the thousands separator must differ from the decimal separator"),
        ('{"fixed_currency": "EUR", "columns": {"currency": "Ccy"}}',
         "column map: map: give either columns.currency or fixed_currency, not both"),
        ('{"columns": {"currency": null}}',
         "column map: map: give columns.currency or fixed_currency"),
        ('{"fixed_currency": "EUX"}', "column map: fixed_currency: currency 'EUX' is not an"
         " ISO 4217 code"),
        ('{"date_format": "YYYY-MM-DD"}',
         "column map: date_format: date_format is a strptime format such as %d.%m.%Y"),
        ('{"encoding": "utf-16"}',
         "column map: encoding: Input should be 'utf-8', 'utf-8-sig' or 'latin-1'"),
        ("[1, 2]", "column map must be an object of settings (delimiter, columns, …)"),
        ("{: nope", "column map is neither JSON nor YAML"),
    ],
)  # fmt: skip
def test_a_bad_column_map_is_refused_naming_the_setting(text: str, error: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_csv_map(text)
    assert caught.value.message == error


# -- camt.053 -------------------------------------------------------------------------------


def test_a_camt053_001_02_statement_gives_every_booked_line() -> None:
    parsed = parse_statement(CAMT02.read_bytes(), file_name="statement.xml")
    assert parsed.format == "camt053"
    assert (parsed.account, parsed.pending_skipped, parsed.bad_lines) == (
        "DE44500105175407324931", 1, (),
    )  # fmt: skip
    credits = {s.bank_ref: s for s in parsed.lines if s.direction == CREDIT}
    assert {
        ref: (s.payer, str(s.amount), s.value_date.isoformat(), s.remittance)
        for ref, s in credits.items()
    } == CAMT02_CREDITS
    assert {s.currency for s in parsed.lines} == {"EUR"}
    debits = [(s.bank_ref, s.amount) for s in parsed.lines if s.direction == DEBIT]
    assert debits == [("STMT-20260318-0004", D("750.00"))]
    # Each line is where its transaction (TxDtls) starts in the file.
    assert [s.line for s in parsed.lines] == [line_of(CAMT02, "<TxDtls>", n)
                                              for n in (1, 2, 3, 4, 5, 7)]  # fmt: skip


def test_a_camt053_001_08_statement_reads_its_own_element_shapes() -> None:
    parsed = parse_camt053(CAMT08.read_bytes())
    assert (parsed.account, parsed.pending_skipped) == ("CH9300762011623852957", 1)
    assert fields(parsed) == [
        (line_of(CAMT08, "<TxDtls>"), "ZKB-20260319-77120-1", "Litware Schweiz AG",
         D("5400.50"), "CHF", date(2026, 3, 19), "INV-2026-000007", CREDIT),
        (line_of(CAMT08, "<Ntry>", 2), "ZKB-20260319-FEES", "", D("12.00"), "CHF",
         date(2026, 3, 19), "", DEBIT),
        (line_of(CAMT08, "<TxDtls>", 2), "ZKB-20260319-77188", "Northwind Traders",
         D("1299.95"), "CHF", date(2026, 3, 19), "Invoice INV-2026-000008, thank you", CREDIT),
    ]  # fmt: skip


@pytest.mark.parametrize("version", ["02", "04", "05", "06", "08", "10"])
def test_the_version_is_read_from_the_namespace(version: str) -> None:
    parsed = parse_camt053(camt(entry(), version))
    assert [(s.bank_ref, s.amount) for s in parsed.lines] == [("REF-1", D("100.00"))]


ISO = "urn:iso:std:iso:20022:tech:xsd:"


@pytest.mark.parametrize(
    "namespace", [f"{ISO}camt.052.001.02", f"{ISO}camt.053.001.01", "urn:example:statement"]
)
def test_a_document_that_is_not_camt053_is_refused(namespace: str) -> None:
    data = camt(entry()).replace(f"{ISO}camt.053.001.02".encode(), namespace.encode())
    with pytest.raises(InvalidStatement, match=r"line 2: not a camt\.053 statement"):
        parse_camt053(data)


def test_reference_precedence_transaction_then_entry_then_end_to_end() -> None:
    tx = "<NtryDtls><TxDtls><Refs>{}</Refs></TxDtls></NtryDtls>"
    entries = "\n".join([
        entry(details=tx.format("<AcctSvcrRef>TX-REF</AcctSvcrRef><EndToEndId>E</EndToEndId>")),
        entry(ref="<AcctSvcrRef>ENTRY-REF</AcctSvcrRef>",
              details=tx.format("<EndToEndId>E2E-2</EndToEndId>")),
        entry(ref="", details=tx.format("<EndToEndId>E2E-3</EndToEndId>")),
        entry(ref="", details=tx.format("<EndToEndId>NOTPROVIDED</EndToEndId>")),
        entry(ref="", indicator="DBIT"),
    ])  # fmt: skip
    parsed = parse_camt053(camt(entries))
    assert [(s.line, s.bank_ref) for s in parsed.lines] == [
        (6, "TX-REF"), (7, "ENTRY-REF"), (8, "E2E-3"), (10, ""),
    ]  # fmt: skip
    assert bad(parsed) == [(9, "the entry has no usable reference (AcctSvcrRef or EndToEndId)")]


def test_a_batch_entry_gives_one_line_per_transaction() -> None:
    txs = "".join(
        f'\n<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
        f"<RltdPties><Dbtr><Nm>Payer {n}</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>INV-{n}</Ustrd><Ustrd>part {n}</Ustrd></RmtInf></TxDtls>"
        for n, amount in ((1, "60.00"), (2, "40.00"))
    )
    parsed = parse_camt053(camt(entry(ref="<AcctSvcrRef>B</AcctSvcrRef>",
                                      details=f"<NtryDtls>{txs}</NtryDtls>")))  # fmt: skip
    assert [(s.line, s.bank_ref, s.amount, s.payer, s.remittance) for s in parsed.lines] == [
        (7, "B-1", D("60.00"), "Payer 1", "INV-1 part 1"),
        (8, "B-2", D("40.00"), "Payer 2", "INV-2 part 2"),
    ]


def test_pending_and_information_entries_are_counted_not_read() -> None:
    entries = "\n".join([
        entry(status="<Sts>PDNG</Sts>", amount="not a number"),
        entry(status="<Sts><Cd>INFO</Cd></Sts>"),
        entry(status="<Sts><Cd>BOOK</Cd></Sts>"),
    ])  # fmt: skip
    parsed = parse_camt053(camt(entries))
    assert (len(parsed.lines), parsed.pending_skipped, parsed.bad_lines) == (1, 2, ())


def test_value_date_falls_back_to_the_booking_date_and_takes_date_times() -> None:
    entries = "\n".join([
        entry(dates="<BookgDt><Dt>2026-03-05</Dt></BookgDt>"),
        entry(dates="<BookgDt><DtTm>2026-03-06T23:30:00-05:00</DtTm></BookgDt>"),
        entry(dates="<ValDt><DtTm>2026-03-07T00:00:00</DtTm></ValDt>"),
    ])  # fmt: skip
    parsed = parse_camt053(camt(entries))
    assert [s.value_date for s in parsed.lines] == [
        date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 7),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("bad_entry", "error"),
    [
        (entry(amount="12,3x"), "amount '12,3x' is not a number"),
        (entry(amount="-5"), "amount '-5' is not a number"),
        (entry(amount="0.00"), "amount 0.00 must be greater than zero"),
        (entry(ccy="EUX"), "currency 'EUX' is not an ISO 4217 code"),
        (entry(ccy=""), "amount has no currency (Ccy)"),
        (entry(indicator="CRED"), "credit/debit indicator 'CRED' is neither CRDT nor DBIT"),
        (entry(dates=""), "the entry has no value date or booking date"),
        (entry(dates="<ValDt><Dt>18.03.2026</Dt></ValDt>"), "date '18.03.2026' is not an ISO date"),
        (entry(ref="<AcctSvcrRef>REF/1</AcctSvcrRef>"),
         "bank reference 'REF/1' must be 1-64 letters, digits or . _ - (starting with a letter"
         " or digit)"),
        (entry(details="<NtryDtls><TxDtls/><TxDtls/></NtryDtls>"),
         "transaction 1 of a batch entry has no amount"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_named_by_its_line_and_the_rest_is_read(bad_entry: str, error: str) -> None:
    parsed = parse_camt053(camt(entry(ref="<AcctSvcrRef>OK-1</AcctSvcrRef>") + "\n" + bad_entry))
    assert [s.bank_ref for s in parsed.lines] == ["OK-1"]
    assert bad(parsed)[0] == (7, error)


def test_an_unknown_currency_names_the_line_of_its_amount() -> None:
    parsed = parse_statement(UNKNOWN_CURRENCY_XML.read_bytes())
    assert bad(parsed) == [
        (line_of(UNKNOWN_CURRENCY_XML, 'Ccy="EUX"'), "currency 'EUX' is not an ISO 4217 code")
    ]
    assert len(parsed.lines) == 5


def test_broken_xml_is_refused_naming_the_line() -> None:
    error = refused(BROKEN_XML.read_bytes())
    line = line_of(BROKEN_XML, "</Ref>", whole=True)
    assert error.message == f"line {line}: the XML is not well-formed: mismatched tag"


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE Document [<!ENTITY ext SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">',
    ],
)
def test_dtds_and_entities_are_refused(prolog: str) -> None:
    data = camt(entry()).replace(b"?>\n", f"?>\n{prolog}\n".encode(), 1)
    error = refused(data)
    assert "the XML is refused" in error.message
    assert error.message.startswith("line 2: ")


# -- format, size, limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b'<?xml version="1.0"?><Document/>', "upload.bin", "camt053"),
        (b"\xef\xbb\xbf  <Document/>", "", "camt053"),
        (b"bank_ref,payer\n", "statement.xml", "camt053"),
        (b"bank_ref,payer\n", "statement.csv", "csv"),
        (b"bank_ref;payer\n", "", "csv"),
    ],
)
def test_the_format_is_detected_from_content_and_name(
    data: bytes, name: str, expected: str
) -> None:
    assert detect_format(data, name) == expected


def test_an_explicit_format_wins_over_detection() -> None:
    with pytest.raises(InvalidStatement, match="line 1: the XML is not well-formed"):
        parse_statement(PLAIN_CSV.read_bytes(), format="camt053")
    with pytest.raises(InvalidInput, match="format must be auto, csv or camt053"):
        parse_statement(PLAIN_CSV.read_bytes(), format="mt940")


def test_size_and_line_limits_are_clear_errors() -> None:
    data = PLAIN_CSV.read_bytes()
    with pytest.raises(StatementTooLarge) as caught:
        parse_statement(data, max_bytes=100)
    assert caught.value.message == (
        f"the file is {len(data)} bytes; statements are limited to 100 bytes"
    )
    assert refused(PLAIN_CSV.read_bytes(), max_lines=4).message == (
        "line 6: the statement has more than 4 lines"
    )
    many = camt("\n".join(entry(ref=f"<AcctSvcrRef>R-{n}</AcctSvcrRef>") for n in range(3)))
    assert refused(many, max_lines=2).message == "line 8: the statement has more than 2 lines"


def test_progress_reports_the_line_reached() -> None:
    seen: list[int] = []
    rows = "".join(f"R-{n},A,1,EUR,2026-03-01,x\n" for n in range(1200))
    parse_statement((HEADER + rows).encode(), progress=seen.append)
    assert seen == [501, 1001]

"""The statement files under tests/data/statements and small builders for variants."""

from __future__ import annotations

from pathlib import Path

STATEMENTS = Path(__file__).resolve().parent / "data" / "statements"
CAMT02 = STATEMENTS / "camt053-001-02.xml"
CAMT08 = STATEMENTS / "camt053-001-08.xml"
GERMAN_CSV = STATEMENTS / "german-bank.csv"
GERMAN_MAP = STATEMENTS / "german-bank.map.json"
PLAIN_CSV = STATEMENTS / "plain.csv"
BAD_LINES_CSV = STATEMENTS / "bad-lines.csv"
MISSING_COLUMN_CSV = STATEMENTS / "missing-column.csv"
BROKEN_XML = STATEMENTS / "broken.xml"
UNKNOWN_CURRENCY_XML = STATEMENTS / "camt053-unknown-currency.xml"

# The credits of CAMT02 by bank reference: (payer, amount, value date, remittance).
CAMT02_CREDITS = {
    "STMT-20260318-0001": ("Contoso Ltd", "1190.00", "2026-03-18",
                           "INV-2026-000001 Contoso order SO-1001"),
    "STMT-20260318-0002": ("Fabrikam Handels AG", "2380.00", "2026-03-17",
                           "RF18INV2026000002 INV-2026-000002"),
    "STMT-20260318-0003-A": ("Wide World Importers", "2500.00", "2026-03-18",
                             "Payment INV-2026-000003"),
    "STMT-20260318-0003-2": ("Wide World Importers", "1121.00", "2026-03-18",
                             "Payment INV-2026-000004 partial, balance follows"),
    "E2E-ALPINE-0318": ("Alpine Ski House", "450.00", "2026-03-18",
                        "Rechnung INV-2026-000006 Kd-Nr. 4711"),
}  # fmt: skip


def line_of(path: Path, needle: str, nth: int = 1, *, whole: bool = False) -> int:
    """The 1-based line of the `nth` line of a file containing `needle` (or, `whole`, being
    it but for indentation)."""
    found = [
        n
        for n, text in enumerate(path.read_text("latin-1").splitlines(), 1)
        if (text.strip() == needle if whole else needle in text)
    ]
    return found[nth - 1]


def camt(entries: str, version: str = "02", account: str = "DE44500105175407324931") -> bytes:
    """A minimal camt.053 document around the given `<Ntry>` elements (from line 6 on)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">\n'
        "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>\n"
        f"<Stmt><Id>S1</Id><Acct><Id><IBAN>{account}</IBAN></Id></Acct>\n"
        '<Bal><Amt Ccy="EUR">0</Amt></Bal>\n'
        f"{entries}\n"
        "</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


def entry(
    *,
    amount: str = "100.00",
    ccy: str = "EUR",
    indicator: str = "CRDT",
    status: str = "<Sts>BOOK</Sts>",
    ref: str = "<AcctSvcrRef>REF-1</AcctSvcrRef>",
    dates: str = "<BookgDt><Dt>2026-03-18</Dt></BookgDt><ValDt><Dt>2026-03-18</Dt></ValDt>",
    details: str = "",
) -> str:
    """One `<Ntry>` on a single line (so its line is easy to tell)."""
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{status}'
        f"{dates}{ref}{details}</Ntry>"
    )

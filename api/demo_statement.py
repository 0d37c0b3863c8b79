"""A bank statement (ISO 20022 camt.053.001.02) paying some of the ledger's open invoices, the
way customers really pay: some quote the invoice number, some pay the exact amount under a
differently spelt name, one pays its two oldest invoices in one transfer, one payer nobody
knows, and a bank fee (a debit, which is not a receipt).

Built from the receivables read model, so it fits whatever the ledger holds:
`orderledger demo-statement FILE` writes one, and `orderledger finance import-statement FILE`
imports and matches it (each allocation naming its rule).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from projections.queries import open_items
from projections.store import Cursor

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
ACCOUNT = "DE44500105175407324931"
LEGAL_FORMS = re.compile(r"\b(GmbH|AS|ASA|BV|Kft|KG|S\.r\.l\.|AG|Ltd)\s*$")


@dataclass(frozen=True)
class Entry:
    bank_ref: str
    payer: str
    amount: Decimal
    currency: str
    remittance: str
    credit: bool = True


def demo_entries(cur: Cursor, today: date) -> list[Entry]:
    """Which payments the statement holds: by invoice reference (three), exact amount under
    the payer's bank spelling (two), one customer's two oldest invoices in one sum, an
    unknown payer, and a bank fee."""
    names = dict(cur.execute("SELECT code, name FROM receivable_customers").fetchall())
    items = [i for i in open_items(cur, customer=None, as_of=today) if i["open"] > 0]
    items.sort(key=lambda i: (i["due_date"], i["number"]))
    used: set[str] = set()
    entries: list[Entry] = []

    def ref() -> str:
        return f"DEMO-{today:%Y%m%d}-{len(entries) + 1:03d}"

    def take(item: dict[str, Any]) -> dict[str, Any]:
        used.add(item["number"])
        return item

    by_customer: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_customer.setdefault(item["customer"], []).append(item)
    # One customer clears its two oldest invoices with one transfer and no reference.
    for customer, owed in sorted(by_customer.items()):
        if len(owed) >= 2:
            pair = [take(owed[0]), take(owed[1])]
            total = sum((i["open"] for i in pair), Decimal(0))
            entries.append(Entry(ref(), names.get(customer, customer), total,
                                 pair[0]["currency"], "Sammelzahlung offene Posten"))  # fmt: skip
            break
    free = [i for i in items if i["number"] not in used]
    for item in free[:3]:  # the invoice number in the remittance text
        entries.append(Entry(ref(), names.get(take(item)["customer"], item["customer"]),
                             item["open"], item["currency"],
                             f"Rechnung {item['number']} vielen Dank"))  # fmt: skip
    amounts = [i["open"] for i in items]
    for item in [i for i in items if i["number"] not in used]:
        if amounts.count(item["open"]) > 1:
            continue  # an amount two invoices share would not tell which one is paid
        payer = LEGAL_FORMS.sub("", names.get(item["customer"], item["customer"])).upper()
        entries.append(Entry(ref(), payer.strip(), take(item)["open"], item["currency"],
                             "ZAHLUNG LT. AUFSTELLUNG"))  # fmt: skip
        if sum(1 for e in entries if e.remittance.startswith("ZAHLUNG")) == 2:
            break
    entries.append(Entry(ref(), "Nordlicht Handels KG", Decimal("480.00"), "EUR",
                         "Anzahlung Projekt Kiel"))  # fmt: skip
    entries.append(Entry(ref(), "Kontofuehrung", Decimal("12.50"), "EUR",
                         "Entgelt Kontofuehrung", credit=False))  # fmt: skip
    return entries


def camt053(entries: list[Entry], today: date) -> bytes:
    """The entries as one booked-day camt.053.001.02 statement."""
    ET.register_namespace("", NAMESPACE)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    day = today.isoformat()
    document = ET.Element(f"{{{NAMESPACE}}}Document")
    root = sub(document, "BkToCstmrStmt")
    header = sub(root, "GrpHdr")
    sub(header, "MsgId", f"DEMO-{today:%Y%m%d}")
    sub(header, "CreDtTm", f"{day}T06:00:00")
    statement = sub(root, "Stmt")
    sub(statement, "Id", f"{ACCOUNT}-{day}")
    sub(statement, "CreDtTm", f"{day}T06:00:00")
    account = sub(statement, "Acct")
    sub(sub(account, "Id"), "IBAN", ACCOUNT)
    sub(account, "Ccy", "EUR")
    for number, entry in enumerate(entries, start=1):
        ntry = sub(statement, "Ntry")
        sub(ntry, "NtryRef", str(number))
        sub(ntry, "Amt", f"{entry.amount:.2f}", Ccy=entry.currency)
        sub(ntry, "CdtDbtInd", "CRDT" if entry.credit else "DBIT")
        sub(ntry, "Sts", "BOOK")
        sub(sub(ntry, "BookgDt"), "Dt", day)
        sub(sub(ntry, "ValDt"), "Dt", day)
        details = sub(sub(ntry, "NtryDtls"), "TxDtls")
        sub(sub(details, "Refs"), "AcctSvcrRef", entry.bank_ref)
        sub(sub(sub(details, "AmtDtls"), "TxAmt"), "Amt", f"{entry.amount:.2f}",
            Ccy=entry.currency)  # fmt: skip
        parties = sub(details, "RltdPties")
        sub(sub(parties, "Dbtr" if entry.credit else "Cdtr"), "Nm", entry.payer)
        sub(sub(details, "RmtInf"), "Ustrd", entry.remittance)
    ET.indent(document)
    body: bytes = ET.tostring(document, encoding="UTF-8", xml_declaration=True)
    return body + b"\n"

"""ISO 20022 camt.053 (BankToCustomerStatement), any version from .001.02 on.

Read with defusedxml's SAX parser (no DTDs, no entity expansion, no external references),
one entry (`Ntry`) at a time, with the line each element starts on, so every error names
a real line of the file. See `docs/finance-statements.md` for which element fills which
field and in which order references are taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces
from xml.sax.xmlreader import InputSource, Locator

from defusedxml import DefusedXmlException
from defusedxml.sax import make_parser

from domain.statement_lines import (
    CREDIT,
    DEBIT,
    BadLine,
    InvalidStatement,
    LineError,
    ParsedStatement,
    Progress,
    StatementLine,
    checked_amount,
    checked_currency,
    statement_line,
)

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")
_AMOUNT = re.compile(r"\d{1,18}(\.\d{1,5})?")
NO_REFERENCE = "NOTPROVIDED"  # what banks write for a missing end-to-end id
PROGRESS_EVERY = 200


@dataclass
class Node:
    """An element of the camt namespace: local name, the line it starts on, attributes,
    text and children (elements of other namespaces are kept under their full name)."""

    name: str
    line: int
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def find(self, *path: str) -> Node | None:
        node: Node | None = self
        for name in path:
            node = next((c for c in node.children if c.name == name), None) if node else None
        return node

    def find_all(self, *path: str) -> list[Node]:
        found = [self]
        for name in path:
            found = [c for node in found for c in node.children if c.name == name]
        return found

    def text_at(self, *path: str) -> str:
        node = self.find(*path)
        return "" if node is None else node.text


def parse_camt053(
    data: bytes, *, max_lines: int = 100_000, progress: Progress | None = None
) -> ParsedStatement:
    """Booked entries as statement lines (one per transaction of a batch); entries not
    booked are counted, not read. Bad entries are collected; broken XML is refused."""
    handler = _Handler(max_lines, progress)
    parser = make_parser()
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    parser.forbid_dtd = True
    source = InputSource()
    source.setByteStream(BytesIO(data))
    try:
        parser.parse(source)
    except SAXParseException as error:
        raise InvalidStatement.at(
            error.getLineNumber() or 1, f"the XML is not well-formed: {error.getMessage()}"
        ) from None
    except DefusedXmlException as error:
        raise InvalidStatement.at(
            handler.line(), f"the XML is refused: {type(error).__name__} (DTDs and entities"
            " are not accepted)",
        ) from None  # fmt: skip
    if handler.version is None:
        raise InvalidStatement.at(1, "the file has no XML document element")
    return ParsedStatement(
        "camt053", tuple(handler.lines), tuple(handler.bad), handler.pending, handler.account
    )


class _Handler(ContentHandler):
    """Builds one `Ntry` subtree at a time and turns it into lines when it closes."""

    def __init__(self, max_lines: int, progress: Progress | None) -> None:
        super().__init__()
        self.max_lines, self.progress = max_lines, progress
        self.namespace = ""
        self.version: str | None = None
        self.stack: list[Node] = []
        self.lines: list[StatementLine] = []
        self.bad: list[BadLine] = []
        self.pending = 0
        self.account = ""
        self.entries = 0
        self._locator: Locator | None = None

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (SAX API)
        self._locator = locator

    def line(self) -> int:
        return int(self._locator.getLineNumber() or 1) if self._locator else 1

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:  # noqa: N802
        uri, local = name
        if self.version is None:
            self._root(uri or "", local)
        own = uri == self.namespace
        values = {key[1]: value for key, value in attrs.items() if key[0] in (None, "")}
        node = Node(local if own else f"{{{uri}}}{local}", self.line(), values)
        if self.stack:
            self.stack[-1].children.append(node)
        self.stack.append(node)

    def characters(self, content: str) -> None:
        if self.stack:
            self.stack[-1].parts.append(content)

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:  # noqa: N802
        node = self.stack.pop()
        if node.name == "Ntry":
            self.stack[-1].children.pop()  # done with it: memory stays one entry deep
            self._entry(node)
        elif node.name == "Acct" and self.stack and self.stack[-1].name == "Stmt":
            self.account = (
                self.account or node.text_at("Id", "IBAN") or node.text_at("Id", "Othr", "Id")
            )

    def _root(self, uri: str, local: str) -> None:
        found = NAMESPACE.match(uri)
        if local != "Document" or not found or int(found.group(1)) < 2:
            raise InvalidStatement.at(
                self.line(),
                f"not a camt.053 statement: the document element is {{{uri}}}{local}",
            )
        self.namespace, self.version = uri, found.group(1)

    def _entry(self, entry: Node) -> None:
        details = entry.find_all("NtryDtls", "TxDtls")
        count = max(1, len(details))
        self.entries += count
        if self.entries > self.max_lines:
            raise InvalidStatement.at(
                entry.line, f"the statement has more than {self.max_lines} lines"
            )
        if self.progress is not None and self.entries % PROGRESS_EVERY < count:
            self.progress(entry.line)
        if _status(entry) != "BOOK":
            self.pending += count
            return
        for index, tx in enumerate(details or [None], 1):
            try:
                self.lines.append(_line(entry, tx, index, len(details)))
            except LineError as error:
                self.bad.append(error.bad)


def _status(entry: Node) -> str:
    """`<Sts>BOOK</Sts>` up to .07, `<Sts><Cd>BOOK</Cd></Sts>` from .08."""
    status = entry.find("Sts")
    if status is None:
        return ""
    return status.text_at("Cd") if status.children else status.text


def _line(entry: Node, tx: Node | None, index: int, batch: int) -> StatementLine:
    where = tx or entry
    amount, currency_code = _money(_amount_node(entry, tx, index, batch))
    indicator = (tx.text_at("CdtDbtInd") if tx else "") or entry.text_at("CdtDbtInd")
    direction = _direction(where.line, indicator)
    return statement_line(
        where.line, bank_ref=_reference(entry, tx, index, batch, direction),
        payer=_payer(tx), amount=amount, currency_code=currency_code,
        value_date=_value_date(entry),
        remittance=_remittance(tx), direction=direction,
    )  # fmt: skip


def _reference(entry: Node, tx: Node | None, index: int, batch: int, direction: str) -> str:
    """TxDtls/Refs/AcctSvcrRef, else Ntry/AcctSvcrRef (with `-<n>` for the n-th transaction
    of a batch entry), else TxDtls/Refs/EndToEndId (unless NOTPROVIDED)."""
    own = tx.text_at("Refs", "AcctSvcrRef") if tx else ""
    if own:
        return own
    entry_ref = entry.text_at("AcctSvcrRef")
    if entry_ref:
        return f"{entry_ref}-{index}" if batch > 1 else entry_ref
    end_to_end = tx.text_at("Refs", "EndToEndId") if tx else ""
    if end_to_end and end_to_end.upper() != NO_REFERENCE:
        return end_to_end
    if direction == DEBIT:
        return ""
    raise LineError(
        (tx or entry).line,
        "the entry has no usable reference (AcctSvcrRef or EndToEndId)",
    )


def _amount_node(entry: Node, tx: Node | None, index: int, batch: int) -> Node:
    if tx is not None:
        found = tx.find("AmtDtls", "TxAmt", "Amt") or tx.find("Amt")
        if found is not None:
            return found
        if batch > 1:
            raise LineError(tx.line, f"transaction {index} of a batch entry has no amount")
    found = entry.find("Amt")
    if found is None:
        raise LineError(entry.line, "the entry has no amount (Amt)")
    return found


def _money(node: Node) -> tuple[Decimal, str]:
    """The amount and its `Ccy`, checked against the line of the `Amt` element."""
    if not _AMOUNT.fullmatch(node.text):
        raise LineError(node.line, f"amount {node.text!r} is not a number")
    code = node.attrs.get("Ccy", "")
    if not code:
        raise LineError(node.line, "amount has no currency (Ccy)")
    code = checked_currency(node.line, code)
    return checked_amount(node.line, Decimal(node.text), code), code


def _direction(line: int, indicator: str) -> str:
    if indicator == "CRDT":
        return CREDIT
    if indicator == "DBIT":
        return DEBIT
    raise LineError(line, f"credit/debit indicator {indicator!r} is neither CRDT nor DBIT")


def _value_date(entry: Node) -> date:
    for name in ("ValDt", "BookgDt"):
        holder = entry.find(name)
        if holder is None:
            continue
        node = holder.find("Dt") or holder.find("DtTm")
        if node is None:
            continue
        try:
            return date.fromisoformat(node.text[:10])
        except ValueError:
            raise LineError(node.line, f"date {node.text!r} is not an ISO date") from None
    raise LineError(entry.line, "the entry has no value date or booking date")


def _payer(tx: Node | None) -> str:
    if tx is None:
        return ""
    debtor = tx.find("RltdPties", "Dbtr")
    if debtor is None:
        return ""
    return debtor.text_at("Nm") or debtor.text_at("Pty", "Nm")


def _remittance(tx: Node | None) -> str:
    """Unstructured lines, then creditor references and referred document numbers."""
    if tx is None:
        return ""
    parts = [n.text for n in tx.find_all("RmtInf", "Ustrd")]
    for structured in tx.find_all("RmtInf", "Strd"):
        parts += [n.text for n in structured.find_all("CdtrRefInf", "Ref")]
        parts += [n.text for n in structured.find_all("RfrdDocInf", "Nb")]
    return " ".join(part for part in parts if part)

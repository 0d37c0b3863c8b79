"""Lists as files: a list route answers every page of its list as one CSV or XLSX download.

`Listing.page` serves a keyset-paged list; `Listing.whole` a list a route reads at once (an
unpaged list, or a report whose rows sit under one key beside its totals).

`?format=csv|xlsx` (or `Accept: text/csv` / the XLSX media type) on a list route turns its
answer from one JSON page into a file of all the list's rows, from the given cursor on, walked
a page at a time through the same query, filters and permission as the JSON page. The file
carries the JSON answer's `items`: the same columns, less those the caller may not see
(`hidden_fields`, exactly as `RedactingMiddleware` strips JSON), nested values written as
JSON text. Customer users are refused: a file is for staff (their JSON pages stay scoped).

CSV streams page by page. XLSX (openpyxl, write-only) is built whole in a spooled file, then
sent. At most `Settings.export_max_rows` rows: an XLSX export of a longer list is refused
(422) before anything is sent; a CSV export of one is cut off mid-stream (the transfer fails,
so a short file is never mistaken for the whole list).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from starlette.responses import Response, StreamingResponse

from api.deps import to_json_ready
from api.errors import ApiError
from api.redaction import hidden_fields, redact
from api.responses import dumps, json_response, plain_decimal
from api.runtime import Runtime

CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_ROWS = 1000
# A spreadsheet reads text starting with these as a formula: such cells are written as text
# (XLSX) or behind a leading apostrophe (CSV), never as something that runs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Past 15 significant digits a spreadsheet's number (a double) is no longer exact.
EXACT_DIGITS = 15
_DATE_COLUMN = re.compile(r"(_at|_date|^date|_delivery|^as_of)$")

Format = Literal["json", "csv", "xlsx"]
Row = dict[str, Any]
Fetch = Callable[[Any, int], list[Row]]


class ExportTooLarge(RuntimeError):
    """A streamed CSV export passed the row limit: the transfer is broken off on purpose."""


def listing_format(
    request: Request,
    format: Annotated[
        Format | None,
        Query(description="json (a page, the default), or csv / xlsx: every page as a file"),
    ] = None,
) -> Format:
    """The `format` asked for, else the one the Accept header names, else JSON."""
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    if XLSX_MEDIA in accept:
        return "xlsx"
    return "csv" if CSV_MEDIA in accept else "json"


class Listing:
    """A list route's answer: one JSON page, or the whole list as a file."""

    def __init__(
        self, request: Request, format: Annotated[Format, Depends(listing_format)]
    ) -> None:
        self.request = request
        self.format = format

    def page(
        self,
        name: str,
        fetch: Fetch,
        *,
        after: Any,
        limit: int,
        cursor_of: Callable[[Row], Any],
        encode: Callable[[Any], Any] = lambda cursor: cursor,
        shape: Callable[[Row], Row] = to_json_ready,
    ) -> Response:
        """`fetch(after, limit)` is one keyset page; `cursor_of(row)` the `after` that follows
        `row`, which `encode` writes as the JSON page's `next_cursor`."""
        if self.format == "json":
            rows = fetch(after, limit)
            cursor = encode(cursor_of(rows[-1])) if len(rows) == limit else None
            return json_response({"items": [shape(r) for r in rows], "next_cursor": cursor})
        self._refuse_customers()
        return self._file(name, _walk(fetch, after, cursor_of, self._max_rows()), shape)

    def whole(
        self,
        name: str,
        read: Callable[[], dict[str, Any]],
        *,
        items: str = "items",
        shape: Callable[[Row], Row] = to_json_ready,
    ) -> Response:
        """A list answered whole, not a page at a time: `read()` is the route's JSON body as
        it always was (totals and all); a file holds the rows under its `items` key."""
        if self.format != "json":
            self._refuse_customers()  # before anything is read
        body = read()
        if self.format == "json":
            return json_response(body)
        rows: list[Row] = body[items]
        if len(rows) > self._max_rows():
            raise self._too_large()
        return self._file(name, iter([rows]), shape)

    def _refuse_customers(self) -> None:
        principal = getattr(self.request.state, "principal", None)
        if principal is not None and principal.customer is not None:
            raise ApiError(403, "exports are for staff: a customer reads its lists as JSON",
                           "forbidden")  # fmt: skip

    def _too_large(self) -> ApiError:
        return ApiError(422, f"the list has more than {self._max_rows()} rows: narrow it with"
                        " its filters", "export-too-large")  # fmt: skip

    def _max_rows(self) -> int:
        limit: int = self.request.app.state.runtime.settings.export_max_rows
        return limit

    def _file(self, name: str, pages: Iterator[list[Row]], shape: Callable[[Row], Row]) -> Response:
        hidden = hidden_fields(getattr(self.request.state, "principal", None))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        try:  # the first page is read before answering, so a bad cursor is still a problem
            first = next(pages, [])
        except ExportTooLarge:
            raise self._too_large() from None
        columns = [key for key in (shape(first[0]) if first else {}) if key not in hidden]
        rows = (shape(row) for page in _chain(first, pages) for row in page)
        if self.format == "csv":
            headers = _attachment(f"{name}-{stamp}.csv")
            body = _csv(columns, rows, hidden)
            return StreamingResponse(body, media_type=f"{CSV_MEDIA}; charset=utf-8",
                                     headers=headers)  # fmt: skip
        try:
            content = _xlsx(name, columns, rows, hidden)
        except ExportTooLarge:
            raise self._too_large() from None
        return Response(content, media_type=XLSX_MEDIA, headers=_attachment(f"{name}-{stamp}.xlsx"))


ListingDep = Annotated[Listing, Depends()]


def reader(rt: Runtime, query: Callable[..., list[Row]], **filters: Any) -> Fetch:
    """`query(cur, after=…, limit=…, **filters)` as a page fetcher, each page its own read."""

    def fetch(after: Any, limit: int) -> list[Row]:
        with rt.store.read() as cur:
            return query(cur, after=after, limit=limit, **filters)

    return fetch


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _walk(fetch: Fetch, after: Any, cursor_of: Callable[[Row], Any], max_rows: int
          ) -> Iterator[list[Row]]:  # fmt: skip
    """Every page from `after` on; ExportTooLarge once more than `max_rows` rows were read."""
    read = 0
    while True:
        rows = fetch(after, PAGE_ROWS)
        read += len(rows)
        if read > max_rows:
            raise ExportTooLarge(f"more than {max_rows} rows")
        yield rows
        if len(rows) < PAGE_ROWS:
            return
        after = cursor_of(rows[-1])


def _chain(first: list[Row], rest: Iterator[list[Row]]) -> Iterator[list[Row]]:
    yield first
    yield from rest


def _csv(columns: list[str], rows: Iterator[Row], hidden: frozenset[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if columns:
        writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_text(row.get(column), hidden) for column in columns])
        if count % PAGE_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def csv_text(value: Any, hidden: frozenset[str] = frozenset()) -> str:
    """A cell as CSV text: the JSON answer's text for the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return dumps(redact(value, hidden)).decode()
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def _xlsx(name: str, columns: list[str], rows: Iterator[Row], hidden: frozenset[str]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=name[:31])
    sheet.append(columns)
    try:
        for row in rows:
            sheet.append([xlsx_cell(sheet, column, row.get(column), hidden) for column in columns])
    except BaseException:
        sheet.close()  # ends its writer and removes its temporary file
        raise
    with tempfile.SpooledTemporaryFile(max_size=16 * 2**20) as spool:
        book.save(spool)
        spool.seek(0)
        return spool.read()


def xlsx_cell(sheet: WriteOnlyWorksheet, column: str, value: Any, hidden: frozenset[str]) -> Any:
    """A cell: decimals as numbers while a double holds them exactly (else exact text), dates
    and times as dates (times in UTC), nested values as JSON text, text never a formula."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        exact = len(value.normalize().as_tuple().digits) <= EXACT_DIGITS
        return float(value) if exact else _text(sheet, plain_decimal(value))
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return value
    if isinstance(value, dict | list):
        return _text(sheet, dumps(redact(value, hidden)).decode())
    if isinstance(value, str) and _DATE_COLUMN.search(column):
        found = _iso(value)
        if found is not None:
            return found
    return _text(sheet, str(value))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _iso(text: str) -> date | datetime | None:
    """SQLite keeps dates and times as ISO text: read them back as such."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _text(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl would take a leading "=" as a formula
    return cell

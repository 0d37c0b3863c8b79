"""Bank statements: upload a CSV or camt.053 file; its new credits become payments."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    MetaDep,
    MinPosition,
    RuntimeDep,
    position_page,
    wait_for_position,
)
from api.errors import ApiError
from api.matching import match_statement
from api.responses import json_response
from api.runtime import Runtime
from api.types import PositionCursor
from domain.application import IdempotencyClaim, Outcome
from domain.commands_statements import statement_summary
from domain.exceptions import NotFound
from domain.statements import InvalidStatement, StatementTooLarge, load_csv_map, parse_statement
from domain.values import Meta
from projections.bank_statements import list_statements, matched_by_rule

router = APIRouter(prefix="/bank-statements", tags=["bank statements"])

PATH = "/bank-statements"
# Room for the multipart framing and the other form fields around the file itself.
UPLOAD_OVERHEAD = 256 * 1024
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # the Idempotency-Key rule of every command


@router.post("", status_code=201, dependencies=[allow("finance:write")])
def import_statement(
    rt: RuntimeDep,
    meta: MetaDep,
    file: Annotated[UploadFile, File(description="The statement: CSV or camt.053 XML")],
    format: Annotated[Literal["auto", "csv", "camt053"], Form()] = "auto",
    column_map: Annotated[
        str | None, Form(description="JSON (or YAML): how to read this CSV; default: setting")
    ] = None,
    skip_bad_lines: Annotated[bool, Form()] = False,
    auto_match: Annotated[
        bool, Form(description="Match the new payments by the matching rules at once")
    ] = True,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Import a bank statement, all or nothing: its new credit lines become payments in one
    save; references already stored are skipped as duplicates. Then (unless `auto_match` is
    false) the new payments are matched by the matching rules, each allocation naming its
    rule; the summary counts them per rule and what is left unmatched. 201 with the summary; 200
    when this very file was imported before (nothing stored, everything a duplicate)."""
    data = file.file.read()  # bounded: the body guard allows the limit plus the form around it
    claim = _claim(idempotency_key, data, format, column_map, skip_bad_lines, auto_match)
    try:
        outcome = _import(rt, meta, data, file.filename or "statement", format, column_map,
                          skip_bad_lines, claim)  # fmt: skip
    except StatementTooLarge as error:
        raise ApiError(413, error.message, error.rule) from None
    except InvalidStatement as error:
        raise ApiError(422, error.message, error.rule, errors=error.errors()) from None
    result = dict(outcome.result)
    if auto_match and not outcome.replayed:
        result = match_statement(rt, meta, result)
    position = max(outcome.position, (result.get("matching") or {}).get("position") or 0)
    result["position"] = position
    headers = {"X-Log-Position": str(position),
               "Location": f"{PATH}/{result['statement_id']}"}  # fmt: skip
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    status = 200 if result["already_imported"] else 201
    return json_response(result, status=status, headers=headers)


def _import(
    rt: Runtime, meta: Meta, data: bytes, file_name: str, format: str, column_map: str | None,
    skip_bad_lines: bool, claim: IdempotencyClaim | None,
) -> Outcome:  # fmt: skip
    settings = rt.settings
    parsed = parse_statement(
        data, file_name=file_name, format=format,
        column_map=settings.statement_csv_map if column_map is None else load_csv_map(column_map),
        max_bytes=settings.statement_max_bytes, max_lines=settings.statement_max_lines,
    )  # fmt: skip
    return rt.ledger.import_statement(
        meta, lines=parsed.lines, file_name=file_name, file_sha256=hashlib.sha256(data).hexdigest(),
        format=parsed.format, skip_bad_lines=skip_bad_lines, bad_lines=parsed.bad_lines,
        pending_skipped=parsed.pending_skipped, account=parsed.account, idempotency=claim,
    )  # fmt: skip


def _claim(
    key: str | None, data: bytes, format: str, column_map: str | None, skip: bool, match: bool
) -> IdempotencyClaim | None:
    """The request is the file and the options, not the multipart bytes (whose boundary
    changes from one try to the next)."""
    if key is None:
        return None
    if not _KEY.match(key):
        raise ApiError(
            422, "Idempotency-Key must be 1-200 visible ASCII characters", "invalid-idempotency-key"
        )
    digest = hashlib.sha256(b"POST\x00" + PATH.encode() + b"\x00" + data)
    digest.update(f"\x00{format}\x00{column_map}\x00{skip}\x00{match}".encode())
    return IdempotencyClaim(key, digest.hexdigest())


@router.get("", dependencies=[allow("finance:read")])
def list_bank_statements(
    rt: RuntimeDep,
    after: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Imported statements, newest first, with their counts and totals per currency."""
    wait_for_position(rt, min_position, "bank_statements")
    with rt.store.read() as cur:
        rows = list_statements(cur, before=after, limit=limit)
    return position_page(rows, limit)


@router.get("/{statement_id}", dependencies=[allow("finance:read")])
def get_bank_statement(
    statement_id: UUID, rt: RuntimeDep, min_position: MinPosition = None
) -> Response:
    """One import's summary as recorded, with how many of its payments are matched to
    invoices by now (by rule) and how many still wait unmatched."""
    wait_for_position(rt, min_position, "bank_statements", "receivables")
    try:
        statement = rt.ledger.bank_statement(statement_id)
    except NotFound as error:
        raise ApiError(404, error.message, "not-found") from None
    with rt.store.read() as cur:
        matched = matched_by_rule(cur, str(statement_id))
    body = {**statement_summary(statement, matched_by_rule=matched),
            "imported_at": statement.created_on.isoformat()}  # fmt: skip
    return json_response(body, headers={"ETag": f'"{statement.version}"'})

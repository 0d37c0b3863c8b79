"""Spreadsheet imports: customers, products, opening stock and open orders from CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.responses import Response

from api.auth import allow
from api.deps import MetaDep, RuntimeDep
from api.errors import ApiError
from api.imports import ImportRefused, ImportRequest, run_import
from api.responses import json_response
from domain.import_files import UnreadableFile
from domain.import_layouts import KINDS

router = APIRouter(prefix="/imports", tags=["imports"])

PATHS = tuple(f"/imports/{kind}" for kind in KINDS)
# Room for the multipart framing and the form fields around the file itself.
UPLOAD_OVERHEAD = 256 * 1024

Kind = Literal["customers", "products", "stock", "orders"]


@router.post("/{kind}", status_code=201, dependencies=[allow("imports:write")])
def import_file(
    rt: RuntimeDep,
    meta: MetaDep,
    kind: Kind,
    file: Annotated[UploadFile, File(description="The spreadsheet: CSV (UTF-8) or XLSX")],
    format: Annotated[Literal["auto", "csv", "xlsx"], Form()] = "auto",
    skip_bad_rows: Annotated[
        bool, Form(description="Import the good rows and report the bad ones")
    ] = False,
    dry_run: Annotated[bool, Query(description="Validate and report; store nothing")] = False,
) -> Response:
    """Import a spreadsheet of `kind` (docs/imports.md has each kind's columns). Every row
    is validated first; with bad rows nothing is stored (422 listing each with why) unless
    `skip_bad_rows`. What is stored already is counted unchanged, so a re-import stores
    nothing. 201 with the report when applied; 200 for a dry run."""
    data = file.file.read()  # bounded: the body guard allows the limit plus the form
    if len(data) > rt.settings.import_max_bytes:
        raise ApiError(
            413, f"imports are limited to {rt.settings.import_max_bytes} bytes", "import-too-large"
        )
    request = ImportRequest(kind, data, file.filename or kind, format, skip_bad_rows, dry_run)
    try:
        report = run_import(rt.ledger, meta, request)
    except ImportRefused as refused:
        raise ApiError(
            422, refused.message, refused.rule or "import-has-bad-rows", report=refused.report
        ) from None
    except UnreadableFile as error:
        raise ApiError(422, error.message, error.rule or "unreadable-import-file") from None
    headers = {"X-Log-Position": str(report.get("position", rt.ledger.head()))}
    return json_response(report, status=200 if dry_run else 201, headers=headers)

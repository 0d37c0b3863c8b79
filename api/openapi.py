"""The API's OpenAPI description, saying how the app really answers a refusal.

Every refusal leaves as RFC 9457 problem+json (api/errors.py), whereas FastAPI documents
only a 422 of its own shape. Here each operation documents the refusals it can give, from
what the operation is:

- every operation: 503 (the database is unavailable, busy or read-only, or a read model lags;
  Retry-After)
- one that needs a credential: 401 (none, or not valid) and 403 (the role may not)
- one with parameters or a body: 422 (invalid input)
- one with a body: 400 (not JSON), 413 (too large), 415 (not JSON or a form)
- one with a path id, or a change (not GET): 404 (no such record, or one it names)
- a change: 409 (a business rule refuses it), 507 (the database is out of space)
- one taking `If-Match`: 412 (the record changed since)

A route documents any other refusal itself (`responses={429: {"description": …}}`); its
content is made problem+json here too. Tests/api/test_schemathesis.py holds the app to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.exports import XLSX_MEDIA

PROBLEM_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": (
        "An RFC 9457 problem. `rule` names what refused the request; some problems carry "
        "more members (`errors`, `permission`, `current_version`, `position`, …)."
    ),
    "required": ["type", "title", "status", "detail", "instance", "rule"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the rule"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What was wrong, for a person"},
        "instance": {"type": "string", "description": "The path that was called"},
        "rule": {"type": "string", "description": "The rule's name, for a program"},
        "errors": {
            "type": "array",
            "description": "Each invalid field, or each bad line of an uploaded file (422)",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["line", "error"],
                        "properties": {"line": {"type": "integer"}, "error": {"type": "string"}},
                    },
                ]
            },
        },
    },
}
DESCRIPTIONS = {
    400: "The body is not valid JSON",
    401: "No credential, or one that is unknown, revoked, expired or whose user is disabled",
    403: "The caller's role lacks the permission this needs",
    404: "No such record (or one the request names does not exist)",
    409: "A business rule refuses the request (`rule` names it)",
    412: "The record changed since the version given in If-Match",
    413: "The body is too large",
    415: "The body is not JSON (or, for uploads, not a multipart form)",
    422: "Invalid input (`errors` lists the fields)",
    503: "The database is unavailable, busy or read-only, or a read model lags: retry"
    " (Retry-After)",
    507: "The database is out of space: nothing was stored; retry once space is freed",
}
CHANGES = {"post", "put", "patch", "delete"}
FASTAPI_422 = "Validation Error"  # FastAPI's own description of the 422 it documents


def install_openapi(app: FastAPI) -> None:
    """Serve the description built here (once per app) as `app.openapi()`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            _document_refusals(method, operation)
            _document_files(operation)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM
    return schema


def refusals(method: str, operation: dict[str, Any]) -> set[int]:
    """The refusal statuses an operation can answer, from what it is."""
    found = {503}
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if operation.get("security"):
        found |= {401, 403}
    if parameters or has_body:
        found.add(422)
    if has_body:
        found |= {400, 413, 415}
    if method in CHANGES or any(p["in"] == "path" for p in parameters):
        found.add(404)
    if method in CHANGES:
        found |= {409, 507}
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        found.add(412)
    return found


def _document_files(operation: dict[str, Any]) -> None:
    """A list that answers `?format=csv|xlsx` (api/exports.py) documents those files too."""
    if not any(
        p["in"] == "query" and p["name"] == "format" for p in operation.get("parameters", [])
    ):
        return
    ok = operation.setdefault("responses", {}).setdefault("200", {"description": "OK"})
    content = ok.setdefault("content", {})
    content["text/csv"] = {"schema": {"type": "string", "description": "The whole list, as CSV"}}
    content[XLSX_MEDIA] = {
        "schema": {"type": "string", "format": "binary", "description": "The whole list, as XLSX"}
    }


def _document_refusals(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    for status in sorted(refusals(method, operation) | declared):
        given = responses.get(str(status), {})
        description = given.get("description")
        if description in (None, "", FASTAPI_422):
            description = DESCRIPTIONS.get(status, "Refused")
        responses[str(status)] = {
            "description": description,
            "content": {PROBLEM_TYPE: {"schema": _problem_with(status)}},
            **({"headers": given["headers"]} if "headers" in given else {}),
        }


def _problem_with(status: int) -> dict[str, Any]:
    """The Problem schema, its `status` member fixed to the response's own status."""
    return {"allOf": [{"$ref": PROBLEM_REF}, {"properties": {"status": {"const": status}}}]}

"""Every error leaves as RFC 9457 problem+json; the mapping lives here and nowhere else."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.responses import problem
from api.store_errors import STORE_ERRORS
from api.store_errors import describe as describe_store_error
from domain.exceptions import (
    AlreadyExists,
    ConcurrencyExhausted,
    DomainError,
    IdempotencyKeyReused,
    Inconsistency,
    InvalidInput,
    NotFound,
    RuleViolation,
    StaleVersion,
    StoredRefusal,
    Unavailable,
)

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 422,
    NotFound: 404,
    AlreadyExists: 409,
    RuleViolation: 409,
    StaleVersion: 412,
    IdempotencyKeyReused: 422,
    ConcurrencyExhausted: 503,
    Unavailable: 503,
    Inconsistency: 500,
}
TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Rule broken",
    412: "Stale version",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal inconsistency",
    503: "Service unavailable",
    507: "Insufficient storage",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the API layer itself (not the domain)."""

    def __init__(
        self,
        status: int,
        detail: str,
        rule: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.rule, self.extra = status, detail, rule, extra
        self.headers = headers or {}


def _status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 409


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        status = _status_of(error)
        extra: dict[str, Any] = {}
        headers = {}
        if isinstance(error, StaleVersion):
            extra["current_version"] = error.current_version
            headers["ETag"] = f'"{error.current_version}"'
        if isinstance(error, StoredRefusal):  # refused, yet something was recorded
            extra.update(error.details, position=error.position)
            headers["X-Log-Position"] = str(error.position)
        if status == 503:
            headers["Retry-After"] = "1"
        return problem(
            status, TITLES[status], error.message, error.rule, request, headers=headers, **extra
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        headers = {"Retry-After": "1"} if error.status == 503 else {}
        headers.update(error.headers)
        return problem(
            error.status, TITLES.get(error.status, "Error"), error.detail, error.rule, request,
            headers=headers, **error.extra,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        errors = [_describe(e) for e in error.errors()]
        if any(e["type"] == "json_invalid" for e in error.errors()):
            return problem(
                400, TITLES[400], "the body is not valid JSON", "malformed-json", request
            )
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, TITLES[422], detail, "invalid-input", request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        title = TITLES.get(error.status_code, "Error")
        return problem(error.status_code, title, str(error.detail), "http-error", request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred", "internal", request)

    async def store_trouble(request: Request, error: Exception) -> Response:
        # Unreachable, read-only or full: nothing was committed, so the client may retry
        # (with its Idempotency-Key). Anything else a store raises is a defect: a 500.
        trouble = describe_store_error(error)
        if trouble is None:
            return await unexpected(request, error)
        log.warning("%s on %s %s: %s", trouble.rule, request.method, request.url.path, error)
        return problem(
            trouble.status, TITLES[trouble.status], trouble.detail, trouble.rule, request,
            headers={"Retry-After": "1"},
        )  # fmt: skip

    for store_error in STORE_ERRORS:
        app.add_exception_handler(store_error, store_trouble)


def _describe(error: Any) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    message = str(error.get("msg", "invalid"))
    context = error.get("ctx", {}) or {}
    if "error" in context:
        message = str(context["error"])
    return {
        "field": ".".join(location) or "body",
        "message": message.removeprefix("Value error, "),
        "type": str(error.get("type", "")),
    }

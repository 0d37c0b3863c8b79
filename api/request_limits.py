"""Request limits, checked before any work as pure ASGI middleware.

The request target's length (414), the number and total size of the headers (431), the
body's declared and streamed size (413) and its media type (415) are refused as
problem+json. A body is never read here: a declared `Content-Length` over the limit is
refused up front, and a streamed body (chunked, no length) is counted chunk by chunk as the
route reads it, refused the moment it passes the limit, so at most one chunk past the limit
is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import problem
from api.routes import imports, statements
from api.routes.workflows import YAML_TYPES
from api.settings import Settings

BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    uploads: Mapping[str, int]  # path of an upload route → its own body limit
    url_bytes: int
    header_count: int
    header_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        statement_limit = settings.statement_max_bytes + statements.UPLOAD_OVERHEAD
        import_limit = settings.import_max_bytes + imports.UPLOAD_OVERHEAD
        return cls(
            body_bytes=settings.max_body_bytes,
            uploads={statements.PATH: statement_limit} | dict.fromkeys(imports.PATHS, import_limit),
            url_bytes=settings.max_url_bytes,
            header_count=settings.max_header_count,
            header_bytes=settings.max_header_bytes,
        )

    def body_limit(self, path: str) -> int:
        return self.uploads.get(path, self.body_bytes)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit. An HTTPException, so
    FastAPI lets it out of its body reading unchanged, and the exception middleware (inside
    these limits) answers it with `too_large` below, the route not having run."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"bodies are limited to {limit} bytes")
        self.limit = limit


def install_request_limits(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RequestLimits, limits=Limits.of(settings))

    async def handler(request: Request, error: Exception) -> Response:
        return too_large(request, cast(BodyTooLarge, error).limit)

    app.add_exception_handler(BodyTooLarge, handler)


def too_large(request: Request, limit: int) -> Response:
    detail = f"bodies are limited to {limit} bytes"
    return problem(413, "Request too large", detail, "body-too-large", request)


class RequestLimits:
    """Refuses what is over a limit; counts the body as the application reads it."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = refuse_early(scope, self.limits)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit, received = self.limits.body_limit(scope["path"]), 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting, send)


# The console's own forms (every other change a page makes is a JSON call to the API).
CONSOLE_FORMS = frozenset({"/console/sign-in", "/console/sign-out"})


def refuse_early(scope: Scope, limits: Limits) -> Response | None:
    """The problem for a request refused on its head alone, or None."""
    request = Request(scope)
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    if target > limits.url_bytes:
        detail = f"the path and query are limited to {limits.url_bytes} bytes"
        return problem(414, "URI too long", detail, "url-too-long", request)
    raw = scope["headers"]
    if len(raw) > limits.header_count:
        detail = f"requests are limited to {limits.header_count} headers"
        return problem(431, "Headers too large", detail, "too-many-headers", request)
    if sum(len(name) + len(value) for name, value in raw) > limits.header_bytes:
        detail = f"headers are limited to {limits.header_bytes} bytes in total"
        return problem(431, "Headers too large", detail, "headers-too-large", request)
    headers = Headers(scope=scope)
    length = headers.get("content-length")
    limit = limits.body_limit(scope["path"])
    if length is not None and (not length.isdigit() or int(length) > limit):
        return too_large(request, limit)
    declared = (length is not None and int(length) > 0) or "transfer-encoding" in headers
    if scope["method"] in BODY_METHODS and declared:
        return unsupported_media(request, headers, limits)
    return None


def unsupported_media(request: Request, headers: Headers, limits: Limits) -> Response | None:
    """JSON everywhere; process definitions may also be written in YAML; file uploads are
    multipart forms; the console's sign-in and sign-out are plain HTML forms."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    path = request.url.path
    if content_type == "application/json" or content_type.endswith("+json"):
        return None
    upload = path in limits.uploads
    if upload and content_type == "multipart/form-data":
        return None
    definitions = path.startswith("/workflows/") or path == "/approval-policy"
    if definitions and content_type in YAML_TYPES:
        return None
    if path in CONSOLE_FORMS and content_type == "application/x-www-form-urlencoded":
        return None
    wanted = "multipart/form-data" if upload else "application/json"
    detail = f"send the body as {wanted}, not {content_type or 'no content type'}"
    return problem(415, "Unsupported media type", detail, "unsupported-media-type", request)

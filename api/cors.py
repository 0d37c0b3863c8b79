"""Cross-origin access: off unless `cors_origins` names the browser origins allowed.

Off, a browser's preflight finds no CORS headers (the API answers OPTIONS with 405), so
pages of other origins cannot call the API. On, Starlette's CORSMiddleware answers for
exactly the listed origins; a refused preflight is a problem+json like every refusal.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from api.responses import problem
from api.settings import Settings

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# What the API reads (commands' metadata, If-Match, Idempotency-Key, a resumed stream's
# Last-Event-ID, credentials) and what a client script needs to see of its answers.
REQUEST_HEADERS = [
    "Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Last-Event-ID",
    "X-Correlation-Id", "X-CSRF-Token",
]  # fmt: skip
RESPONSE_HEADERS = ["ETag", "Idempotent-Replayed", "Location", "Retry-After", "X-Log-Position"]


def install_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=METHODS,
        allow_headers=REQUEST_HEADERS,
        expose_headers=RESPONSE_HEADERS,
        max_age=600,
    )


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem+json (403)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else Headers()
        preflight = (
            scope["type"] == "http"
            and scope["method"] == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        )
        if not preflight:
            await super().__call__(scope, receive, send)
            return
        response = self.preflight_response(request_headers=headers)
        if response.status_code == 400:  # Starlette's "Disallowed CORS origin, method…"
            detail = bytes(response.body).decode()
            response = problem(403, "Cross-origin request refused", detail, "cors-refused",
                               Request(scope))  # fmt: skip
        await response(scope, receive, send)

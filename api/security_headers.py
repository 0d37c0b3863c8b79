"""Security headers on every response the app sends: JSON, problems, pages and errors.

A header a route set itself is kept. Pages (text/html) get a policy that lets them load
their own scripts, styles and images and nothing from elsewhere; everything else gets a
policy that allows nothing at all, since a JSON document opened in a browser needs none.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI's CSS draws its icons as data: images; nothing else needs more than 'self'.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
COMMON = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")
# The Swagger UI bundle's files: public, versioned with the package, revalidated by ETag.
CACHEABLE_PREFIXES = ("/static/",)


def install_security_headers(app: FastAPI, settings: Settings) -> None:
    """Wrap the whole middleware stack, so that even the 500 page that Starlette's outermost
    error middleware renders (outside any `add_middleware`) carries the headers."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), hsts=settings.behind_tls)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


class SecurityHeaders:
    """Adds the headers to each response's start message."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.fixed = (*COMMON, HSTS) if hsts else COMMON

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                for name, value in self.fixed:
                    headers.setdefault(name, value)
                page = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else API_POLICY)
                if not cacheable:
                    # Business data stays out of browser and proxy caches. Nothing is lost:
                    # ETags serve If-Match on writes, and no read answers If-None-Match.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)

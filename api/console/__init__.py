"""The web console: server-rendered pages for staff and customers, served by the API's app.

Each area is one module with its router, templates (`templates/<area>/`) and Chinese labels
(`locale/zh-CN/<area>.json`). Pages read the same read models as the API; every change a
page offers is a call to the API itself, made with the session's CSRF token.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from api.console import (
    approvals,
    dashboard,
    dashboard_orders,
    finance,
    inventory,
    late,
    orders,
    sign_in,
    tracking,
    uploads,
)
from api.console.i18n import language_of, translator
from api.console.web import SIGN_IN, PageRefused, SignInNeeded, render

AREAS = (
    sign_in, tracking, uploads, orders, approvals, late, inventory, finance, dashboard,
    dashboard_orders,
)  # fmt: skip


@functools.cache
def console_routes() -> tuple[BaseRoute, ...]:
    """Every console page, made once per process (as the API's routes are)."""
    combined = APIRouter()
    for area in AREAS:
        combined.include_router(area.router)
    return tuple(combined.routes)


def install_console(app: FastAPI) -> None:
    """The console's answers to a missing session (the sign-in page) and to a refusal."""

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return RedirectResponse(f"{SIGN_IN}?next={quote(exc.back_to, safe='')}", status_code=303)

    async def refused_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        language = language_of(request)
        back = translator(language)("Back to the console")
        return render(None, "error.html", status=exc.status, language=language, title=exc.title,
                      detail=exc.detail, back=back)  # fmt: skip

    api_http_error = app.exception_handlers[StarletteHTTPException]

    async def missing_page(request: Request, exc: Exception) -> Response:
        """An unknown console address is a page too; the API's answers stay problems."""
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and request.url.path.startswith("/console"):
            t = translator(language_of(request))
            return await refused_page(
                request, PageRefused(404, t("Not found"), t("There is no such page."))
            )
        return await api_http_error(request, exc)  # type: ignore[misc]

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(PageRefused, refused_page)
    app.add_exception_handler(StarletteHTTPException, missing_page)

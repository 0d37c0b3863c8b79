"""The console's front door: sign-in and sign-out pages, its landing address and assets."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.access import SignInRefused, now
from api.auth import COOKIE, _bearer, _cookie, allow
from api.console.i18n import language_of, translator
from api.console.web import SIGN_IN, Viewer, _signed_in, home_of, page, render
from api.deps import AnonymousMetaDep, RuntimeDep, command_meta
from domain.permissions import PUBLIC, SIGNED_IN

router = APIRouter(prefix="/console", include_in_schema=False)

# Assets: the console's own, and the charting library's bundle from its pip package.
ASSETS = {
    "console.css": ("api.console", "static/console.css", "text/css"),
    "console.js": ("api.console", "static/console.js", "text/javascript"),
    "plotly.min.js": ("plotly", "package_data/plotly.min.js", "text/javascript"),
}


def _safe_next(target: str | None) -> str | None:
    """Only an address inside the console is followed after sign-in (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


@router.get("", dependencies=[allow(PUBLIC)])
@router.get("/", dependencies=[allow(PUBLIC)])
def console_home(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Response:
    """The console's address: the viewer's first section, or the sign-in page."""
    principal, _ = _signed_in(request, bearer, cookie)
    return RedirectResponse(home_of(principal), status_code=303)


@router.get("/sign-in", dependencies=[allow(PUBLIC)])
def sign_in_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    language = language_of(request)
    return _sign_in_form(language, _safe_next(next), error=None, status=200)


def _sign_in_form(language: str, back_to: str | None, error: str | None, status: int) -> Response:
    return render(None, "sign_in.html", status=status, language=language, back_to=back_to,
                  error=error)  # fmt: skip


@router.post("/sign-in", dependencies=[allow(PUBLIC)])
async def sign_in(
    request: Request,
    rt: RuntimeDep,
    meta: AnonymousMetaDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Check the name and password; on success set the session cookie and go on."""
    language = language_of(request)
    t = translator(language)
    try:
        session = await run_in_threadpool(rt.access.sign_in, meta, username, password)
    except SignInRefused as refused:
        await asyncio.sleep(rt.settings.sign_in_failure_delay_seconds)
        if refused.retry_after is not None:
            message = t("Too many failed sign-ins: try again in {seconds} s.",
                        seconds=refused.retry_after)  # fmt: skip
            return _sign_in_form(language, _safe_next(next), message, 429)
        return _sign_in_form(language, _safe_next(next), t("The user name or password is wrong."),
                             401)  # fmt: skip
    principal, _ = rt.access.by_session(session.token, now()) or (None, None)
    target = _safe_next(next) or (home_of(principal) if principal else "/console")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, session.token, expires=session.expires_at, httponly=True, samesite="strict",
        secure=rt.settings.secure_cookies, path="/",
    )  # fmt: skip
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page(SIGNED_IN, customers=True)],
    csrf: Annotated[str, Form(max_length=200)],
) -> Response:
    """End the session (the form carries its CSRF token) and show the sign-in page."""
    if viewer.csrf is None or csrf != viewer.csrf:
        return RedirectResponse(SIGN_IN, status_code=303)
    rt.access.sign_out(command_meta(request, viewer.principal), viewer.principal)
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/assets/{name}", dependencies=[allow(PUBLIC)])
def asset(name: str, request: Request) -> Response:
    """The console's stylesheet and scripts, and the chart library, cached by ETag."""
    if name not in ASSETS:
        return Response(status_code=404)
    body, etag = _asset(name)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type=ASSETS[name][2],
                    headers={"ETag": etag, "Cache-Control": "public, max-age=3600"})  # fmt: skip


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    package, path, _ = ASSETS[name]
    body = resources.files(package).joinpath(path).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

"""What every console page shares: who is looking, in which language, and the templates.

A page declares its permission like an API route does, with `page("orders:read")`. The
dependency accepts the console's session cookie (or a bearer credential, as the API does);
a caller with neither, or with a session that has ended, is sent to the sign-in page and
comes back afterwards; a role without the permission gets a page saying so (403). Pages
never change anything themselves: their forms call the API with the session's CSRF token.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import HTMLResponse

from api.access import Principal, now
from api.auth import Allow, _bearer, _cookie
from api.console.i18n import COOKIE as LANGUAGE_COOKIE
from api.console.i18n import LANGUAGES, Translate, language_of, translator
from api.errors import ApiError
from api.runtime import Runtime
from domain.permissions import SIGNED_IN

SIGN_IN = "/console/sign-in"


class SignInNeeded(Exception):
    """No session (or an ended one): the console answers with the sign-in page's address."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageRefused(Exception):
    """A page the caller may not see, or one that does not exist: an HTML answer."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Viewer:
    """The signed-in caller looking at a page, the page's language, and its timing."""

    principal: Principal
    csrf: str | None  # present with a cookie session: changes made from the page carry it
    language: str
    t: Translate
    path: str
    started: float = field(default_factory=time.perf_counter)

    def may(self, permission: str) -> bool:
        return self.principal.may(permission)

    @property
    def customer(self) -> str | None:
        return self.principal.customer


def _signed_in(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None,
    cookie: str | None,
) -> tuple[Principal, str | None]:
    back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if cookie is not None and bearer is None:
        runtime: Runtime = request.app.state.runtime
        session = runtime.access.by_session(cookie, now())
        if session is None:
            raise SignInNeeded(back_to)
        return session
    if bearer is None:
        raise SignInNeeded(back_to)
    try:
        return request.app.state.authenticator(request, bearer, None), None
    except ApiError as refused:
        if refused.status == 401:
            raise SignInNeeded(back_to) from None
        raise


class PageAllow(Allow):
    """A console page's permission: `dependencies` are not used; the page takes the
    `Viewer` this returns (see `page`)."""

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> Viewer:
        principal, csrf = _signed_in(request, bearer, cookie)
        request.state.principal = principal
        language = language_of(request)
        t = translator(language)
        if not principal.may(self.permission) or (
            principal.customer is not None and not self.customers and self.permission != SIGNED_IN
        ):
            raise PageRefused(403, t("Not allowed"), t("Your role may not see this page."))
        return Viewer(principal, csrf, language, t, request.url.path)


def page(permission: str, *, customers: bool = False) -> Any:
    """`viewer: Annotated[Viewer, page("stock:read")]` on a console page."""
    return Depends(PageAllow(permission, customers=customers))


@functools.cache
def environment() -> jinja2.Environment:
    """The console's templates (autoescaped), loaded once per process."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("api.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["LANGUAGES"] = LANGUAGES
    env.filters["quote"] = lambda value: quote(str(value), safe="")
    return env


def render(
    viewer: Viewer | None,
    template: str,
    status: int = 200,
    language: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page from `template`, with the viewer, their language and the navigation."""
    language = viewer.language if viewer else (language or "en")
    t = viewer.t if viewer else translator(language)
    body = (
        environment()
        .get_template(template)
        .render(viewer=viewer, t=t, language=language, nav=navigation(viewer), **context)
    )
    response = HTMLResponse(body, status_code=status)
    if viewer is not None:
        elapsed = (time.perf_counter() - viewer.started) * 1000
        response.headers["Server-Timing"] = f"page;dur={elapsed:.1f}"
    response.set_cookie(LANGUAGE_COOKIE, language, samesite="strict", path="/console")
    return response


# The console's sections: (path, label, permission, shown to customer users).
SECTIONS = (
    ("/console/dashboard", "Dashboard", "kpis:read", False),
    ("/console/orders", "Orders", "orders:read", False),
    ("/console/approvals", "Approvals", "orders:approve", False),
    ("/console/late", "Late orders", "orders:read", False),
    ("/console/inventory", "Inventory", "stock:read", False),
    ("/console/finance", "Finance", "finance:read", False),
    ("/console/import", "Import", "imports:write", False),
    ("/console/track", "My orders", "orders:read", True),
)


def navigation(viewer: Viewer | None) -> list[dict[str, Any]]:
    """The sections the viewer may open (a customer sees only their own orders)."""
    if viewer is None:
        return []
    shown = []
    for path, label, permission, for_customers in SECTIONS:
        if viewer.customer is not None and not for_customers:
            continue
        if viewer.customer is None and for_customers:
            continue
        if viewer.may(permission):
            shown.append({"path": path, "label": viewer.t(label),
                          "current": viewer.path.startswith(path)})  # fmt: skip
    return shown


def home_of(principal: Principal) -> str:
    """Where a caller lands after signing in: the first section their role may open."""
    for path, _, permission, for_customers in SECTIONS:
        if (principal.customer is not None) == for_customers and principal.may(permission):
            return path
    return "/console/track" if principal.customer else "/console/orders"

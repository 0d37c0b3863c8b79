"""The API's docs page: Swagger UI 5 (which renders OpenAPI 3.1, as FastAPI writes it)
from the assets the installed fastapi-offline package ships.

It works without internet, and it has no inline script, so it runs under the strict page
policy of `api.security_headers` (FastAPI's own page starts Swagger UI from an inline
script, which that policy would block)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, JSONResponse, Response

from api.auth import allow
from domain.permissions import PUBLIC

SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"

ASSETS = "/static/swagger"
START = "/docs/start.js"
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>OrderLedger API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{START}"></script>
</body>
</html>
"""
# FastAPI's settings for Swagger UI, less the online validator (its badge is an image
# fetched from another origin, which the page policy blocks anyway).
SCRIPT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def serve_docs(app: FastAPI) -> None:
    """The API's description and its page; public, like liveness (no data in them)."""
    app.mount(ASSETS, StaticFiles(directory=str(SWAGGER_FILES)), name="swagger")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[allow(PUBLIC)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[allow(PUBLIC)])
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get(START, include_in_schema=False, dependencies=[allow(PUBLIC)])
    def start() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

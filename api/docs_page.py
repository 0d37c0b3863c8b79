"""The API's docs page: Swagger UI from the installed swagger-ui-bundle package.

It works without internet, and it has no inline script, so it runs under the strict page
policy of `api.security_headers` (FastAPI's own page starts Swagger UI from an inline
script, which that policy would block)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/static/swagger"
START = "/docs/start.js"
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>OrderLedger API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
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
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get(START, include_in_schema=False)
    def start() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

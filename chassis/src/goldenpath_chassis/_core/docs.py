"""Browsable API docs (API-2): Swagger UI at /docs, from local assets, without inline script.

FastAPI's own docs page loads Swagger UI from a third-party CDN and starts it with an inline
`<script>`, which a strict Content-Security-Policy must either forbid or allow with
`'unsafe-inline'` (undoing most of the CSP). This page loads Swagger UI's files from the
service's fingerprinted static assets (core/static.py, or the CDN in front of them) and starts
it from a small script the service serves, so the docs' CSP (`security/headers.py`) allows
scripts only from this origin and the asset origin.
"""

from __future__ import annotations

import html
import json

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from .security.scopes import declare_public_path
from .static import StaticAssets

DOCS_PATH = "/docs"
DOCS_SCRIPT_PATH = "/docs/swagger-ui-init.js"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" href="{favicon}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{script}"></script>
</body>
</html>
"""

_SWAGGER_OPTIONS = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}
_PRESETS = "{presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]}"


def _init_script(openapi_url: str) -> str:
    options = json.dumps({"url": openapi_url, **_SWAGGER_OPTIONS})
    return f"window.ui = SwaggerUIBundle(Object.assign({options}, {_PRESETS}));\n"


def install_docs(app: FastAPI, assets: StaticAssets) -> None:
    """Serve /docs when the OpenAPI document is served (`DOCS_ENABLED`)."""
    if app.openapi_url is None:
        return
    openapi_url = app.openapi_url
    urls = {
        "css": html.escape(assets.url("swagger-ui.css")),
        "favicon": html.escape(assets.url("favicon.svg")),
        "bundle": html.escape(assets.url("swagger-ui-bundle.js")),
    }
    title = html.escape(f"{app.title} - API docs")

    async def docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = _PAGE.format(title=title, script=html.escape(root + DOCS_SCRIPT_PATH), **urls)
        # The page is small and names the current assets; the assets themselves are immutable.
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def docs_script(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        return Response(_init_script(root + openapi_url), media_type="text/javascript")

    app.add_route(DOCS_PATH, docs_page, include_in_schema=False)
    app.add_route(DOCS_SCRIPT_PATH, docs_script, include_in_schema=False)
    for path in (DOCS_PATH, DOCS_SCRIPT_PATH, openapi_url):
        declare_public_path(app, path)

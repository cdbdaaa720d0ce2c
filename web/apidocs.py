"""The API's documentation pages, offline: /docs (Swagger UI) and /redoc (ReDoc) load their scripts,
styles and icon from /apidocs-assets, the files bundled in the PyPI package fastapi-offline (Swagger UI,
Apache-2.0; ReDoc, MIT; licences in the package), never from a CDN. The OpenAPI document
(/openapi.json) holds the JSON API only (/api/...), grouped by audience: the public API first, then the
staff's and the gateway's (web.apimodels.TAGS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from web.apimodels import STAFF_OTHER, TAGS

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/apidocs-assets"
# the pages' own policy (web.security adds none on /docs, /redoc): their inline start-up script runs, and
# the browser fetches nothing from anywhere but this site
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def install(app: FastAPI) -> None:
    """Serve /openapi.json (the /api routes), /docs and /redoc with the bundled assets."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS)), name="apidocs-assets")

    full_schema = app.openapi

    def openapi() -> dict[str, Any]:
        schema = full_schema()
        if not schema.get("x-api-only"):
            schema["paths"] = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/")}
            for ops in schema[
                "paths"
            ].values():  # a route without a tag is a staff one: never shown as public
                for op in ops.values():
                    if isinstance(op, dict) and not op.get("tags"):
                        op["tags"] = [STAFF_OTHER]
            _drop_unused_schemas(schema)
            schema["tags"] = TAGS
            schema["x-api-only"] = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - 接口文档",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from the online validator
        )
        page.headers["content-security-policy"] = CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - 接口文档",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["content-security-policy"] = CSP
        return page


def _refs(node: Any) -> set[str]:
    """The component schema names a part of the document refers to."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _drop_unused_schemas(schema: dict[str, Any]) -> None:
    """Keep the component schemas the (API) paths use, directly or through other schemas."""
    components = schema.get("components", {}).get("schemas", {})
    keep: set[str] = set()
    todo = _refs(schema["paths"])
    while todo:
        name = todo.pop()
        if name in keep or name not in components:
            continue
        keep.add(name)
        todo |= _refs(components[name])
    schema.setdefault("components", {})["schemas"] = {k: v for k, v in components.items() if k in keep}

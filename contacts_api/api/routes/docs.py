"""Swagger UI and ReDoc, served with their scripts from the service itself (no CDN).

fastapi-offline ships the scripts; the pages are built here from `request.app`, not by
its `FastAPIOffline`, whose page functions close over the app they belong to. FastAPI
keeps what it learns about each endpoint function in caches of 4,096 entries, so every
app built in one process stayed alive with its ~8,000 objects: the test suite builds
one a test, and its last garbage collections then took up to a minute and a half.
"""

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/static-offline-docs"
SWAGGER_UI = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
REDOC = "/redoc"

router = APIRouter(include_in_schema=False)


@router.get(SWAGGER_UI)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC)
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        with_google_fonts=False,
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
    )

"""The web pages' router and ``mount_web``, which plugs them and ``/static`` into the app.

Pages are left out of the OpenAPI schema: they are for people, not integrators. Every page
uses the templates, asset URLs and security headers of :mod:`~wallet_service.web.pages`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from wallet_service.api.router import API_PREFIX
from wallet_service.web.card import card_router
from wallet_service.web.pages import (
    PAGE_HEADERS,
    STATIC_DIR,
    root_path,
    static_url,
    templates,
)

__all__ = ["mount_web", "router"]

_STATIC_ROUTE_NAME = "static"
router = APIRouter(include_in_schema=False)


@router.get("/scanner", response_class=HTMLResponse, name="scanner_page")
async def scanner_page(request: Request) -> HTMLResponse:
    """The staff scanner: sign in, scan a pass, award points or redeem a reward."""
    return templates.TemplateResponse(
        request,
        "scanner.html",
        {
            "api_base": root_path(request) + API_PREFIX,
            "static_url": lambda name: static_url(request, name),
        },
        headers=PAGE_HEADERS,
    )


def mount_web(app: FastAPI) -> None:
    """Serve the web pages and mount their assets at ``/static``."""
    app.include_router(router)
    app.include_router(card_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name=_STATIC_ROUTE_NAME)

"""The web pages' router and ``mount_web``, which plugs them and ``/static`` into the app.

Pages are left out of the OpenAPI schema: they are for people, not integrators. Each page
response carries a strict Content-Security-Policy (scripts and styles only from ``/static``)
because the scanner page holds a staff access token in ``sessionStorage``; without inline
script an injected string cannot read it. Asset URLs carry a content hash so a deploy is
picked up by every till at once while unchanged files stay cached.

Other pages of this package reuse ``templates``, ``static_url`` and ``PAGE_HEADERS`` so
that every page gets the same policy and asset URLs.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

__all__ = [
    "API_PREFIX",
    "PAGE_HEADERS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "mount_web",
    "router",
    "static_url",
    "templates",
]

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
API_PREFIX = "/api/v1"
_STATIC_ROUTE_NAME = "static"

# 'self' only, no inline code: the page keeps a bearer token in sessionStorage. blob: lets
# the camera preview play a MediaStream; data: covers the SVG icons CSS may inline.
_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": _CONTENT_SECURITY_POLICY,
    # The camera is the only powerful feature the scanner uses; nobody else may ask for it.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Always revalidate: a till left open all day must pick up a new page after a deploy.
    "Cache-Control": "no-cache",
}

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)


@cache
def _asset_version(name: str) -> str:
    """A short content hash of a static file, for cache-busting its URL."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise FileNotFoundError(f"no static asset named {name!r}")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _root_path(request: Request) -> str:
    # Honour a reverse proxy's path prefix (uvicorn --root-path) in every URL the page uses.
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def static_url(request: Request, name: str) -> str:
    """The URL of a file in ``static/``, versioned by its content."""
    # A path, not request.url_for's absolute URL: behind a TLS proxy without forwarded
    # headers the latter would say http:// and the browser would block it as mixed content.
    return f"{_root_path(request)}/static/{name}?v={_asset_version(name)}"


@router.get("/scanner", response_class=HTMLResponse, name="scanner_page")
async def scanner_page(request: Request) -> HTMLResponse:
    """The staff scanner: sign in, scan a pass, award points or redeem a reward."""
    return templates.TemplateResponse(
        request,
        "scanner.html",
        {
            "api_base": _root_path(request) + API_PREFIX,
            "static_url": lambda name: static_url(request, name),
        },
        headers=PAGE_HEADERS,
    )


def mount_web(app: FastAPI) -> None:
    """Serve the web pages and mount their assets at ``/static``."""
    from wallet_service.web.card import card_router  # imports this module's helpers

    app.include_router(router)
    app.include_router(card_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name=_STATIC_ROUTE_NAME)

"""What every web page shares: templates, versioned asset URLs and the security headers.

Each page response carries a strict Content-Security-Policy (scripts and styles only from
``/static``) because the scanner page holds a staff access token in ``sessionStorage``;
without inline script an injected string cannot read it. Asset URLs carry a content hash so
a deploy is picked up by every till at once while unchanged files stay cached.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

__all__ = [
    "PAGE_HEADERS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "root_path",
    "static_url",
    "templates",
]

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"

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


@cache
def _asset_version(name: str) -> str:
    """A short content hash of a static file, for cache-busting its URL."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise FileNotFoundError(f"no static asset named {name!r}")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def root_path(request: Request) -> str:
    # Honour a reverse proxy's path prefix (uvicorn --root-path) in every URL the page uses.
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def static_url(request: Request, name: str) -> str:
    """The URL of a file in ``static/``, versioned by its content."""
    # A path, not request.url_for's absolute URL: behind a TLS proxy without forwarded
    # headers the latter would say http:// and the browser would block it as mixed content.
    return f"{root_path(request)}/static/{name}?v={_asset_version(name)}"

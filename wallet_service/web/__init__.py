"""Server-rendered pages and their static assets, mounted into the API app.

The pages (today the staff scanner at ``/scanner``) are Jinja2 templates with a little
progressive vanilla JavaScript; they talk to the same ``/api/v1`` endpoints as any POS, so
there is no second code path for business rules. Every asset is served from ``/static`` by
this app, never from a CDN, so the till keeps working on a locked-down shop network.
"""

from __future__ import annotations

from wallet_service.web.router import mount_web

__all__ = ["mount_web"]

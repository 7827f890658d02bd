"""Access log lines without secrets: link tokens and query values are masked.

A member's card page, pass download and Google save hop carry the member's link token in
their path, and the till's look-up carries the scanned barcode in its query: either opens the
card to whoever reads the logs. :class:`RedactSecrets` rewrites uvicorn's access records
before any handler sees them. The path keeps its shape and the serial number (which opens
nothing); the token becomes ``***``. In the query, only values known to be harmless
(pagination, ids, PassKit's update tag) are kept: every other value is masked, so a new
parameter is safe by default.
"""

from __future__ import annotations

import logging
import re

__all__ = ["ACCESS_LOGGER", "RedactSecrets", "install_access_log_redaction", "redact"]

ACCESS_LOGGER = "uvicorn.access"
MASK = "***"

# Anchored at the end, so a reverse proxy's path prefix (--root-path) changes nothing.
# A trailing slash or a missing ``.pkpass`` (both 404s) still hides the token.
_LINK_PATHS = (
    (re.compile(r"(/card/[^/]+/)[^/]+(/?)$"), rf"\g<1>{MASK}\g<2>"),
    (re.compile(r"(/wallet/apple/[^/]+/)[^/]+?((?:\.pkpass)?/?)$"), rf"\g<1>{MASK}\g<2>"),
    (re.compile(r"(/wallet/google/(?!images/)[^/]+/)[^/]+(/?)$"), rf"\g<1>{MASK}\g<2>"),
)
_HARMLESS_QUERY = frozenset({"offset", "limit", "program_id", "passesUpdatedSince"})


def _redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        parts.append(part if not equals or name in _HARMLESS_QUERY else f"{name}={MASK}")
    return "&".join(parts)


def redact(target: str) -> str:
    """``target`` (a path with its query string) with link tokens and query values masked."""
    path, question, query = target.partition("?")
    for pattern, replacement in _LINK_PATHS:
        path = pattern.sub(replacement, path)
    return path + question + (_redact_query(query) if question else "")


class RedactSecrets(logging.Filter):
    """Mask the request target in uvicorn's access records (``args[2]``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Filter uvicorn's access logger (once per process; uvicorn's own logging set-up, done
    before the app is built, keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())

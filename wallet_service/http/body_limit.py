"""Request body size limits, enforced before anything parses or authenticates the request.

FastAPI reads a route's whole body before it resolves dependencies (authentication
included), so without a limit any anonymous caller can make a process hold gigabytes. This
pure ASGI middleware answers ``413 payload_too_large``:

* at once, without reading a byte, when ``Content-Length`` declares more than the limit;
* otherwise (chunked, or a client sending more than it declared) as soon as the bytes
  received pass the limit: reading stops there, nothing past the limit is ever buffered.

The 413 says ``Connection: close`` so the server drops the rest of the upload instead of
reading it. Starlette's ``RequestBodyLimitMiddleware`` is not used: it lets the application
run before refusing a declared length and answers ``text/plain``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wallet_service.http.problems import problem_response

__all__ = ["BodyLimit", "PayloadTooLarge"]

_CLOSE = {"Connection": "close"}


def _detail(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes this route accepts."


class PayloadTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit; answered as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit), headers=_CLOSE)


def _too_large(scope: Scope, limit: int) -> Response:
    return problem_response(
        413, "payload_too_large", _detail(limit), instance=scope.get("path"), headers=_CLOSE
    )


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    # A malformed value never reaches us from uvicorn (it answers 400 itself).
    return int(value) if value is not None and value.isdigit() else None


class BodyLimit:
    """Refuse bodies over ``default`` bytes, or over ``routes[(method, path)]`` for a route."""

    def __init__(
        self, app: ASGIApp, *, default: int, routes: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})

    def limit_for(self, scope: Scope) -> int:
        path: str = scope["path"]
        # ASGI puts the mount prefix (uvicorn --root-path) in ``path`` too.
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return self.routes.get((scope["method"], path), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            if received > limit:
                raise PayloadTooLarge(limit)  # asked again: still no more reading
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            # The problem handlers answer it inside the app; this is for code outside them.
            if response_started:
                raise
            await _too_large(scope, limit)(scope, receive, send)

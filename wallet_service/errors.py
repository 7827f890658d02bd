"""The service's error hierarchy. Errors carry a stable machine ``code`` and no HTTP.

    WalletError
    ├── NotFound                 the thing does not exist *for this tenant*
    ├── Conflict                 the request contradicts current state
    ├── AuthenticationRequired   no or bad credentials (401, WWW-Authenticate: Bearer)
    │   └── PassAuthenticationRequired   no or bad ApplePass token (WWW-Authenticate: ApplePass)
    ├── PermissionDenied         authenticated, but not allowed
    ├── BadRequest               malformed: a required header or parameter is missing
    ├── InvalidRequest           well-formed, but not acceptable
    ├── TooManyRequests          over a rate limit, or sign-in locked for a while (Retry-After)
    ├── ServiceUnavailable       a part of the service is not configured or not reachable
    └── UpstreamError            a service we call (Google Wallet, ...) refused or failed

``wallet_service.http.problems`` maps them (and the pure domain's errors) to RFC 9457 responses.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationRequired",
    "BadRequest",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PassAuthenticationRequired",
    "PermissionDenied",
    "ServiceUnavailable",
    "TooManyRequests",
    "UpstreamError",
    "WalletError",
]


class WalletError(Exception):
    default_code: ClassVar[str] = "error"
    title: ClassVar[str] = "Error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra


class NotFound(WalletError):
    default_code = "not_found"
    title = "Not found"


class Conflict(WalletError):
    default_code = "conflict"
    title = "Conflict"


class AuthenticationRequired(WalletError):
    default_code = "authentication_required"
    title = "Authentication required"
    # The scheme the ``WWW-Authenticate`` header of the 401 names.
    scheme: ClassVar[str] = "Bearer"


class PassAuthenticationRequired(AuthenticationRequired):
    """A PassKit web service call without the pass's ``ApplePass`` token."""

    default_code = "invalid_pass_token"
    scheme = "ApplePass"


class PermissionDenied(WalletError):
    default_code = "permission_denied"
    title = "Permission denied"


class InvalidRequest(WalletError):
    default_code = "invalid_request"
    title = "Invalid request"


class TooManyRequests(WalletError):
    """Too many requests from one client or for one credential; retry after ``retry_after``."""

    default_code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(WalletError):
    default_code = "service_unavailable"
    title = "Service unavailable"


class UpstreamError(WalletError):
    default_code = "upstream_error"
    title = "Bad gateway"


class BadRequest(WalletError):
    default_code = "bad_request"
    title = "Bad request"

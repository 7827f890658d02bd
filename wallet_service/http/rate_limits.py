"""Rate-limit dependencies: a router or route declares what it counts and against what rate.

Per client address for the anonymous doors (sign-in, PassKit, device logs, the Google save
hop); per credential (API key or staff account) for the till's routes, so one runaway or
stolen key cannot flood the service. The limits are settings (``WALLET_RATE_LIMIT_*``).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from wallet_service.config import Settings
from wallet_service.http.deps import CurrentPrincipal
from wallet_service.rate_limits.limiter import Rate, RateLimiter

__all__ = ["LimitPerAddress", "LimitPerCredential", "LimitPerPathValue", "client_address"]


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers (with --forwarded-allow-ips) puts the client's
    # own address here; without it every client would share the proxy's one limit.
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> tuple[RateLimiter, Settings]:
    return request.app.state.rate_limiter, request.app.state.settings


class LimitPerAddress:
    """Dependency: count the request against ``rate`` for the client's address."""

    def __init__(self, policy: str, rate: Callable[[Settings], Rate]) -> None:
        self.policy = policy
        self.rate = rate

    async def __call__(self, request: Request) -> None:
        limiter, settings = _limiter(request)
        await limiter.hit(self.policy, client_address(request), self.rate(settings))


class LimitPerPathValue:
    """Dependency: count the request against ``rate`` for one path parameter's value (a pass's
    serial number, a device's id), whoever sends it."""

    def __init__(self, policy: str, rate: Callable[[Settings], Rate], *names: str) -> None:
        self.policy = policy
        self.rate = rate
        self.names = names

    async def __call__(self, request: Request) -> None:
        value = next((request.path_params[n] for n in self.names if n in request.path_params), "")
        if value:
            limiter, settings = _limiter(request)
            await limiter.hit(self.policy, value, self.rate(settings))


class LimitPerCredential:
    """Dependency: count the request against ``rate`` for the calling key or staff account."""

    def __init__(self, policy: str, rate: Callable[[Settings], Rate]) -> None:
        self.policy = policy
        self.rate = rate

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> None:
        limiter, settings = _limiter(request)
        await limiter.hit(self.policy, str(principal.id), self.rate(settings))

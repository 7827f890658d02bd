"""Rate-limit dependencies: a router or route declares what it counts and against what rate.

Per client address for the anonymous doors (sign-in, PassKit, device logs, the Google save
hop); per credential (API key or staff account) for the till's routes, so one runaway or
stolen key cannot flood the service. The limits are settings (``WALLET_RATE_LIMIT_*``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from fastapi import Request

from wallet_service.config import Settings
from wallet_service.http.deps import CurrentPrincipal
from wallet_service.rate_limits.limiter import Rate, RateLimiter

__all__ = ["LimitPerAddress", "LimitPerCredential", "client_address"]


def client_address(request: Request) -> str:
    """The client's address as limits count it: an IPv6 client by its /64, which one
    subscriber (or attacker) holds whole, an IPv4 client by its address.

    Behind a proxy, uvicorn must trust its forwarded headers (``FORWARDED_ALLOW_IPS``) for
    this to be the client's and not the proxy's, which every client would share.
    """
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


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


class LimitPerCredential:
    """Dependency: count the request against ``rate`` for the calling key or staff account."""

    def __init__(self, policy: str, rate: Callable[[Settings], Rate]) -> None:
        self.policy = policy
        self.rate = rate

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> None:
        limiter, settings = _limiter(request)
        await limiter.hit(self.policy, str(principal.id), self.rate(settings))

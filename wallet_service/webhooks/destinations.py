"""Where webhooks may go: never into the service's own network (SSRF), in production.

In production an endpoint must be ``https`` and its host must resolve only to public
addresses: not loopback, private, link-local, multicast, reserved, unspecified or otherwise
non-global (IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry). The
check runs when an endpoint is created or changed, and again at every connection:
:class:`PinnedTransport` resolves the host itself, checks every address, and connects to
an address it checked, so a name that resolves to a public address at the first lookup and
to ``127.0.0.1`` at the second (DNS rebinding) cannot slip through. TLS still verifies the
certificate against the URL's host name. Redirects are not followed (a 3xx is an answer),
and proxies from the environment are ignored, so nothing else picks the address.

In development and tests ``http`` and loopback are allowed: the tests deliver to a
receiver on ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = [
    "PinnedTransport",
    "UnsafeDestination",
    "check_url",
    "checked_addresses",
    "forbidden_reason",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeDestination(ValueError):
    """The URL or the address its host resolves to may not receive webhooks."""


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not receive webhooks in production, or ``None``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for reason, flag in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return f"{address} is a {reason} address"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared address space
        return f"{address} is not a public address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, *, production: bool) -> httpx.URL:
    """The parsed URL, or :class:`UnsafeDestination` (no DNS lookup: see
    :func:`checked_addresses`)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeDestination(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeDestination("the URL must be absolute, http or https")
    if parsed.userinfo:
        raise UnsafeDestination("the URL must not carry credentials")
    if not production:
        return parsed
    if parsed.scheme != "https":
        raise UnsafeDestination("webhook URLs must be https")
    literal = _literal(parsed.host)
    if literal is not None and (reason := forbidden_reason(literal)):
        raise UnsafeDestination(reason)
    return parsed


async def _resolve(host: str, port: int) -> list[str]:
    if (literal := _literal(host)) is not None:
        return [str(literal)]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise UnsafeDestination(f"{host} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def checked_addresses(host: str, port: int, *, production: bool) -> list[str]:
    """The addresses ``host`` resolves to, every one of them allowed (in production)."""
    addresses = await _resolve(host, port)
    if production:
        for address in addresses:
            if reason := forbidden_reason(ipaddress.ip_address(address.split("%", 1)[0])):
                raise UnsafeDestination(f"{host} resolves to {address}: {reason}")
    return addresses


class UnsafeConnection(httpcore.ConnectError):
    """Raised in place of connecting to an address that may not receive webhooks."""


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to a checked address (never resolves twice)."""

    def __init__(self, *, production: bool) -> None:
        self._production = production
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await checked_addresses(host, port, production=self._production)
        except UnsafeDestination as exc:
            raise UnsafeConnection(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeConnection("webhooks are never sent over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on :class:`_CheckedBackend`.

    The pool is replaced after construction (httpx takes no network backend argument);
    everything else, including httpx's mapping of connection errors, is httpx's own.
    """

    def __init__(self, *, production: bool, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            network_backend=_CheckedBackend(production=production),
        )

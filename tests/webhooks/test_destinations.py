"""SSRF: in production webhooks go to public https addresses only, checked at creation and
again at every connection."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import AppWith, client_at, make_tenant
from tests.webhooks.conftest import create_endpoint
from tests.webhooks.receiver import WebhookReceiver
from wallet_service.security.permissions import Role
from wallet_service.webhooks.destinations import UnsafeDestination, check_url, forbidden_reason
from wallet_service.webhooks.sender import AttemptOutcome, Outgoing, WebhookSender

REFUSED = [
    "http://hooks.example.com/in",  # not https
    "https://127.0.0.1/in",
    "https://10.1.2.3/in",
    "https://172.16.0.9/in",
    "https://192.168.1.1/in",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://[::1]/in",
    "https://[::ffff:127.0.0.1]/in",
    "https://[fe80::1]/in",
    "https://0.0.0.0/in",
    "https://224.0.0.1/in",
    "https://100.64.0.1/in",
    "https://localhost/in",  # a name that resolves to loopback
    "https://user:pass@hooks.example.com/in",
    "ftp://hooks.example.com/in",
]


async def test_production_refuses_unsafe_endpoint_urls_with_a_problem(app_with: AppWith) -> None:
    async with (
        app_with(environment="production") as app,
        client_at(app, "198.51.100.7") as client,
    ):
        tenant = await make_tenant(app.state.session_factory, client, "Prod")
        for url in REFUSED:
            refused = await create_endpoint(client, tenant, url)
            assert refused.status_code == 422, (url, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "webhook_url_not_allowed", url
        # A public address literal needs no DNS lookup, and is accepted.
        accepted = await create_endpoint(client, tenant, "https://93.184.215.14/in")
        assert accepted.status_code == 201, accepted.text
        moved = await client.patch(
            f"/api/v1/webhook-endpoints/{accepted.json()['id']}",
            json={"url": "https://10.0.0.1/in"},
            headers=tenant.headers(Role.owner),
        )
        assert moved.status_code == 422
        assert moved.json()["code"] == "webhook_url_not_allowed"


async def test_development_allows_http_and_loopback(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    receiver: WebhookReceiver,
) -> None:
    tenant = await make_tenant(session_factory, client, "Dev")
    created = await create_endpoint(client, tenant, receiver.url)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:10.0.0.1", "fc00::1", "0.0.0.0"],
)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


def test_public_addresses_are_allowed() -> None:
    assert forbidden_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert forbidden_reason(ipaddress.ip_address("2606:4700::1111")) is None
    with pytest.raises(UnsafeDestination):
        check_url("https://[::1]:8443/", production=True)
    assert str(check_url("http://127.0.0.1:8080/x", production=False)) == "http://127.0.0.1:8080/x"


async def test_delivery_time_checks_refuse_a_host_that_resolves_to_loopback(
    receiver: WebhookReceiver,
) -> None:
    """An endpoint accepted earlier whose name now points inside: refused at connection,
    before a byte is sent (the receiver listens on that very address and port)."""
    sender = WebhookSender(production=True)
    attempts = await sender.send(
        [
            Outgoing(f"https://localhost:{receiver.port}/hooks", b"{}", {}),
            Outgoing(f"https://127.0.0.1:{receiver.port}/hooks", b"{}", {}),
            Outgoing(receiver.url, b"{}", {}),  # http
        ]
    )
    assert [a.outcome for a in attempts] == [AttemptOutcome.refused] * 3
    assert all("unsafe destination" in (a.error or "") for a in attempts)
    assert "127.0.0.1" in (attempts[0].error or "") or "::1" in (attempts[0].error or "")
    assert receiver.received == []


async def test_the_same_sender_outside_production_reaches_the_loopback_receiver(
    receiver: WebhookReceiver,
) -> None:
    (attempt,) = await WebhookSender(production=False).send([Outgoing(receiver.url, b"{}", {})])
    assert attempt.outcome is AttemptOutcome.delivered
    assert len(receiver.received) == 1

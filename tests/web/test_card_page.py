"""The customer's card page, reached from the link on the back of the pass."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.loyalty.examples import coffee_shop_rules


async def test_card_page_shows_balance_tier_barcode_and_activity(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = (
        await client.post(
            f"/api/v1/programs/{tenant.program_id}/members",
            json={"given_name": "Camille", "family_name": "Martin"},
            headers=tenant.headers(),
        )
    ).json()
    await client.post(
        "/api/v1/scans",
        json={
            "barcode": tenant.barcode(member["serial_number"]),
            "amount": {"value": "12.50", "currency": "EUR"},
        },
        headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    page = await client.get(member["card_url"].removeprefix("https://wallet.test"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "private, no-cache"
    html = page.text
    assert "Camille Martin" in html and "175" in html and "Curious" in html
    assert "to Regular" in html
    assert 'src="data:image/svg+xml' in html  # the QR code, inline
    assert member["apple_pass_url"] in html
    assert "Purchase" in html and "+125" in html and "Bonus" in html
    assert "style=" not in html  # the page's CSP forbids inline styles


async def test_card_page_with_a_wrong_token_is_404(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = (
        await client.post(
            f"/api/v1/programs/{tenant.program_id}/members", json={}, headers=tenant.headers()
        )
    ).json()
    forged = f"/card/{member['serial_number']}/{'a' * 32}"
    response = await client.get(forged)
    assert response.status_code == 404
    assert response.json()["code"] == "card_not_found"

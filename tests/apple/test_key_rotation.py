"""Rotating WALLET_SECRET_KEY keeps every card in circulation, and staff sessions, working.

Cards issued under the old key (barcode, links, the pass's authenticationToken, which a
device never changes) keep working while the old key stays in WALLET_PREVIOUS_SECRET_KEYS.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import PASS_TYPE_ID
from tests.factories import make_tenant
from wallet_service.app import create_app
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.security.permissions import Role

OLD_KEY = "test-secret-key-for-the-suite-only-0123456789"  # the suite's key
NEW_KEY = "a-brand-new-secret-key-after-rotation-987654321"


@asynccontextmanager
async def _rotated_app(
    settings: Settings, clock: ManualClock, *, keep_old: bool
) -> AsyncIterator[httpx.AsyncClient]:
    rotated = Settings.model_validate(
        {
            **settings.model_dump(exclude={"secret_key", "previous_secret_keys"}),
            "secret_key": NEW_KEY,
            "previous_secret_keys": [OLD_KEY] if keep_old else [],
        }
    )
    app = create_app(rotated, clock)  # the suite's time, at which the tokens were issued
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://wallet.test") as http:
            yield http


async def test_cards_issued_before_a_rotation_keep_working_with_the_old_key_retired(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = (
        await client.post(
            f"/api/v1/programs/{tenant.program_id}/members", json={}, headers=tenant.headers()
        )
    ).json()
    pkpass = await client.get(member["apple_pass_url"].removeprefix("https://wallet.test"))
    with zipfile.ZipFile(io.BytesIO(pkpass.content)) as archive:
        document = json.loads(archive.read("pass.json"))
    old_barcode = document["barcodes"][0]["message"]
    old_short_code = document["barcodes"][0]["altText"]
    apple_auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
    pass_path = f"/passkit/v1/passes/{PASS_TYPE_ID}/{member['serial_number']}"

    async with _rotated_app(settings, clock, keep_old=True) as rotated:
        pos = tenant.headers()
        for barcode in (old_barcode, old_short_code):
            scan = await rotated.post(
                "/api/v1/scans",
                json={"barcode": barcode, "amount": {"value": "3", "currency": "EUR"}},
                headers={**pos, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert scan.status_code == 201, scan.text
        assert (await rotated.get(pass_path, headers=apple_auth)).status_code == 200
        card = await rotated.get(member["card_url"].removeprefix("https://wallet.test"))
        assert card.status_code == 200
        # A staff member signed in before the rotation stays signed in.
        me = await rotated.get("/api/v1/auth/me", headers=tenant.headers(Role.owner))
        assert me.status_code == 200, me.text

    async with _rotated_app(settings, clock, keep_old=False) as forgotten:
        assert (await forgotten.get(pass_path, headers=apple_auth)).status_code == 401
        me = await forgotten.get("/api/v1/auth/me", headers=tenant.headers(Role.owner))
        assert me.status_code == 401
        scan = await forgotten.post(
            "/api/v1/scans",
            json={"barcode": old_barcode, "amount": {"value": "3", "currency": "EUR"}},
            headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert scan.status_code == 422 and scan.json()["code"] == "invalid_barcode"

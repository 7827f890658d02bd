"""A merchant on Google Wallet, for the tests: its issuer id and the import of its key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.google import import_service_account
from tests.factories import Tenant, make_tenant
from tests.scanning.test_till import SIMPLE_RULES
from wallet_service.config import Settings

__all__ = ["ISSUER", "on_google_wallet"]

ISSUER = "3388000000099999999"


async def on_google_wallet(
    session_factory: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: Settings,
    info: dict[str, str],
    tmp_path: Path,
) -> Tenant:
    """A new merchant whose issuer account uses the service-account key ``info``."""
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(info))
    import_service_account(settings.certificates_dir, tenant.merchant_id, ISSUER, key_file)
    return tenant

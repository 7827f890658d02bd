"""Factories: a merchant with its team, built through the real services."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.api_keys.schemas import ApiKeyCreate
from wallet_service.api_keys.service import create_api_key
from wallet_service.clock import ManualClock
from wallet_service.db.session import bound_clock, session_scope
from wallet_service.dispatcher.loop import Dispatcher, DispatchReport
from wallet_service.merchants.schemas import MerchantCreate
from wallet_service.merchants.service import create_merchant
from wallet_service.programs.schemas import ProgramCreate
from wallet_service.programs.service import create_program
from wallet_service.push.changes import COALESCE_WINDOW
from wallet_service.scanning.token import issue_token
from wallet_service.security.keys import derive_key
from wallet_service.security.permissions import API_KEY_PERMISSIONS, Role
from wallet_service.security.principal import MerchantScope
from wallet_service.staff.schemas import StaffCreate
from wallet_service.staff.service import create_staff
from wallet_service.stores.schemas import StoreCreate
from wallet_service.stores.service import create_store

PASSWORD = "correct horse battery staple"


def coffee_rules(cost_points: int = 100) -> dict[str, Any]:
    """A coffee shop's program: 10 points per euro, one tier, a free coffee for ``cost_points``."""
    return {
        "version": 1,
        "currency": "EUR",
        "earn": {"points_per_currency_unit": "10"},
        "tiers": [{"code": "member", "name": "Member"}],
        "rewards": [
            {
                "code": "coffee",
                "name": "Free coffee",
                "kind": "free_product",
                "cost_points": cost_points,
                "product_sku": "COFFEE",
            }
        ],
    }


# The suite's app derives its barcode key from the test secret exactly as production does.
BARCODE_KEY = derive_key(b"test-secret-key-for-the-suite-only-0123456789", "barcode-token")

# The ``app_with`` fixture (tests/conftest.py): ``async with app_with(**settings) as app``.
AppWith = Callable[..., AbstractAsyncContextManager[FastAPI]]


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client of ``app`` calling from ``address`` (rate limits and lockout key on it)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="https://wallet.test")


@dataclass
class Tenant:
    merchant_id: uuid.UUID
    program_id: uuid.UUID
    store_ids: list[uuid.UUID]
    emails: dict[Role, str]
    pos_api_key: str
    barcode_key: bytes
    tokens: dict[Role, str] = field(default_factory=dict)
    slug: str = ""

    def barcode(self, serial_number: str) -> str:
        """What the pass's barcode says, as a scanner decodes it."""
        return issue_token(self.barcode_key, serial_number)

    def headers(self, role: Role | None = None) -> dict[str, str]:
        """Authorization for a staff role, or for the POS key when ``role`` is None.

        The POS key holds every scope a key may be given (till and e-commerce), so setups
        can enrol through it; tests of what a default key may do create their own key.
        """
        secret = self.pos_api_key if role is None else self.tokens[role]
        return {"Authorization": f"Bearer {secret}"}


async def make_tenant(
    factory: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    name: str = "Shop",
    *,
    rules: dict[str, Any] | None = None,
) -> Tenant:
    slug = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
    async with session_scope(factory) as session:
        merchant = await create_merchant(session, MerchantCreate(name=name, slug=slug))
        scope = MerchantScope.for_operator(merchant.id)
        program = await create_program(
            session, scope, ProgramCreate(name=f"{name} rewards", currency="EUR", rules=rules or {})
        )
        stores = [
            await create_store(
                session,
                scope,
                StoreCreate(
                    name=f"{name} {i}",
                    latitude=48.85 + i / 100,
                    longitude=2.35,
                    timezone="Europe/Paris",
                ),
                bound_clock(factory).now(),
            )
            for i in range(2)
        ]
        emails = {role: f"{role.value}@{slug}.example" for role in Role}
        for role, email in emails.items():
            await create_staff(
                session,
                scope,
                StaffCreate.model_validate(
                    {
                        "email": email,
                        "password": PASSWORD,
                        "role": role,
                        "store_id": stores[0].id if role is Role.cashier else None,
                    }
                ),
            )
        _, key = await create_api_key(
            session, scope, ApiKeyCreate(name="till and shop", scopes=sorted(API_KEY_PERMISSIONS))
        )
        tenant = Tenant(
            merchant.id,
            program.id,
            [s.id for s in stores],
            emails,
            key.clear,
            BARCODE_KEY,
            slug=slug,
        )
    for role, email in tenant.emails.items():
        response = await http.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD, "merchant": slug}
        )
        assert response.status_code == 200, response.text
        tenant.tokens[role] = response.json()["access_token"]
    return tenant


async def deliver(dispatcher: Dispatcher, clock: ManualClock) -> DispatchReport:
    """What the outbox dispatcher delivers once changes have outlived the coalescing window."""
    clock.advance(COALESCE_WINDOW)
    return await dispatcher.drain()

"""The demo merchant: a coffee shop with two Paris stores, an owner, a cashier and a POS key.

Seeding is idempotent: running it again finds what exists and creates only what is missing.
Demo credentials are random per installation and kept in the data directory (mode 0600), so
repeated runs print the same ones and nothing secret is in the repo.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import PostingSource
from wallet_service.api_keys.schemas import ApiKeyCreate
from wallet_service.api_keys.service import create_api_key
from wallet_service.db.models import ApiKey, Member, Program, StaffUser, Store
from wallet_service.db.repository import scoped_select
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.members.schemas import ConsentChange, MemberCreate
from wallet_service.members.service import create_member
from wallet_service.merchants.schemas import MerchantCreate
from wallet_service.merchants.service import create_merchant, get_merchant_by_slug
from wallet_service.programs.schemas import ProgramCreate
from wallet_service.programs.service import create_program
from wallet_service.security.api_keys import secret_matches, split_api_key
from wallet_service.security.passwords import new_password_hash
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope
from wallet_service.staff.schemas import StaffCreate
from wallet_service.staff.service import create_staff
from wallet_service.stores.schemas import StoreCreate
from wallet_service.stores.service import create_store

__all__ = ["DEMO_SLUG", "DemoSeed", "seed_demo"]

DEMO_SLUG = "maison-cafeine"
OWNER_EMAIL = "owner@maison-cafeine.example"
CASHIER_EMAIL = "cashier@maison-cafeine.example"
PROGRAM_NAME = "Caféine Rewards"
POS_KEY_NAME = "Demo till"
MEMBER_EMAIL = "camille.martin@example.com"
STORES = (
    StoreCreate(
        name="Maison Caféine Marais",
        address="12 rue des Archives, 75004 Paris",
        latitude=48.8584,
        longitude=2.3556,
        timezone="Europe/Paris",
    ),
    StoreCreate(
        name="Maison Caféine Canal Saint-Martin",
        address="80 quai de Jemmapes, 75010 Paris",
        latitude=48.8719,
        longitude=2.3657,
        timezone="Europe/Paris",
    ),
)


@dataclass(frozen=True)
class DemoSeed:
    merchant_id: uuid.UUID
    program_id: uuid.UUID
    store_ids: list[uuid.UUID]
    owner_email: str
    owner_password: str
    cashier_email: str
    cashier_password: str
    pos_api_key: str
    member_id: uuid.UUID
    member_serial_number: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: [str(i) for i in v] if isinstance(v, list) else str(v) for k, v in data.items()}


def _credentials(path: Path) -> dict[str, str]:
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    return {
        "owner_password": secrets.token_urlsafe(12),
        "cashier_password": secrets.token_urlsafe(12),
    }


def _save_credentials(path: Path, credentials: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle)


async def _ensure_staff(
    session: AsyncSession,
    scope: MerchantScope,
    email: str,
    password: str,
    role: Role,
    store_id: uuid.UUID | None,
) -> None:
    existing = (
        await session.execute(scoped_select(scope, StaffUser).where(StaffUser.email == email))
    ).scalar_one_or_none()
    if existing is None:
        await create_staff(
            session,
            scope,
            StaffCreate.model_validate(
                {
                    "email": email,
                    "password": password,
                    "role": role,
                    "store_id": store_id,
                    "full_name": "Demo " + role.value,
                }
            ),
        )
    else:
        existing.password_hash = await new_password_hash(password)
        existing.is_active = True
        existing.token_version += 1


async def _ensure_pos_key(
    session: AsyncSession, scope: MerchantScope, stored_key: str | None
) -> str:
    parts = split_api_key(stored_key) if stored_key else None
    if stored_key and parts:
        row = (
            await session.execute(
                scoped_select(scope, ApiKey).where(
                    ApiKey.prefix == parts[0], ApiKey.revoked_at.is_(None)
                )
            )
        ).scalar_one_or_none()
        if row is not None and secret_matches(parts[1], row.secret_hash):
            return stored_key
    _, generated = await create_api_key(session, scope, ApiKeyCreate(name=POS_KEY_NAME))
    return generated.clear


async def _ensure_member(
    session: AsyncSession,
    scope: MerchantScope,
    program_id: uuid.UUID,
    store_id: uuid.UUID,
    now: datetime,
) -> Member:
    existing = (
        await session.execute(
            scoped_select(scope, Member).where(
                Member.program_id == program_id, Member.email == MEMBER_EMAIL
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    return await create_member(
        session,
        scope,
        program_id,
        MemberCreate(
            given_name="Camille",
            family_name="Martin",
            email=MEMBER_EMAIL,
            home_store_id=store_id,
            consents=[ConsentChange(purpose="geolocated_offers", granted=True)],
        ),
        source="demo",
        posting_source=PostingSource(channel="enrolment"),
        now=now,
    )


async def seed_demo(session: AsyncSession, credentials_path: Path, now: datetime) -> DemoSeed:
    credentials = _credentials(credentials_path)
    merchant = await get_merchant_by_slug(session, DEMO_SLUG)
    if merchant is None:
        merchant = await create_merchant(
            session, MerchantCreate(name="Maison Caféine", slug=DEMO_SLUG)
        )
    scope = MerchantScope.for_operator(merchant.id)

    program = (
        await session.execute(scoped_select(scope, Program).where(Program.name == PROGRAM_NAME))
    ).scalar_one_or_none()
    if program is None:
        program = await create_program(
            session,
            scope,
            ProgramCreate(
                name=PROGRAM_NAME, currency="EUR", template="points", rules=coffee_shop_rules()
            ),
        )

    store_ids = []
    for store_data in STORES:
        store = (
            await session.execute(scoped_select(scope, Store).where(Store.name == store_data.name))
        ).scalar_one_or_none()
        if store is None:
            store = await create_store(session, scope, store_data, now)
        store_ids.append(store.id)

    await _ensure_staff(
        session, scope, OWNER_EMAIL, credentials["owner_password"], Role.owner, None
    )
    await _ensure_staff(
        session, scope, CASHIER_EMAIL, credentials["cashier_password"], Role.cashier, store_ids[0]
    )
    credentials["pos_api_key"] = await _ensure_pos_key(
        session, scope, credentials.get("pos_api_key")
    )
    member = await _ensure_member(session, scope, program.id, store_ids[0], now)
    await session.flush()
    _save_credentials(credentials_path, credentials)
    return DemoSeed(
        merchant_id=merchant.id,
        program_id=program.id,
        store_ids=store_ids,
        owner_email=OWNER_EMAIL,
        owner_password=credentials["owner_password"],
        cashier_email=CASHIER_EMAIL,
        cashier_password=credentials["cashier_password"],
        pos_api_key=credentials["pos_api_key"],
        member_id=member.id,
        member_serial_number=member.serial_number,
    )

"""The relational model. Every table but ``merchant`` carries ``merchant_id``.

Rows are plain data; rules live in ``wallet_service.loyalty`` and services. Ledger entries
are append-only: a correction is a new entry (reversal, adjust), never an update.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wallet_service.db.base import Base, TenantMixin, utcnow
from wallet_service.security.permissions import Role

__all__ = [
    "ApiKey",
    "Consent",
    "IdempotencyRecord",
    "LedgerEntry",
    "Member",
    "MemberStatus",
    "Merchant",
    "Program",
    "StaffUser",
    "Store",
]

MONEY = Numeric(18, 4)


def _enum(enum: type[StrEnum]) -> Enum:
    # VARCHAR + CHECK rather than a native type: identical on SQLite and PostgreSQL, easy to extend.
    return Enum(enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Merchant(Base):
    __tablename__ = "merchant"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)


class Program(TenantMixin, Base):
    __tablename__ = "program"

    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    template: Mapped[str] = mapped_column(String(64), default="points")
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Store(TenantMixin, Base):
    __tablename__ = "store"

    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))


class StaffUser(TenantMixin, Base):
    __tablename__ = "staff_user"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role))
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)


class ApiKey(TenantMixin, Base):
    __tablename__ = "api_key"

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class MemberStatus(StrEnum):
    active = "active"
    cancelled = "cancelled"
    erased = "erased"


class Member(TenantMixin, Base):
    __tablename__ = "member"

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))
    serial_number: Mapped[str] = mapped_column(String(36), unique=True)
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    birthday: Mapped[date | None]
    home_store_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("store.id", ondelete="SET NULL")
    )
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus), default=MemberStatus.active)
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    cashback_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    tier: Mapped[str | None] = mapped_column(String(64))
    # Bumped on every change the card shows; the PassKit web service and pushes key off it.
    pass_version: Mapped[int] = mapped_column(Integer, default=1)
    pass_updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("merchant_id", "program_id", "email"),)


class Consent(TenantMixin, Base):
    """One recorded decision: append-only, so the history of a consent is its rows."""

    __tablename__ = "consent"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(64), default="api")


class LedgerEntry(TenantMixin, Base):
    __tablename__ = "ledger_entry"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    transaction_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    cashback: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    reason: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="store")
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None]
    reverses_transaction_id: Mapped[uuid.UUID | None]


class IdempotencyRecord(TenantMixin, Base):
    """The first answer to a mutating call, replayed for retries with the same key."""

    __tablename__ = "idempotency_record"

    key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

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
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from wallet_service.db.base import Base, TenantMixin, clock_now
from wallet_service.security.permissions import Role

__all__ = [
    "ApiKey",
    "Consent",
    "GoogleNotification",
    "IdempotencyRecord",
    "InstallEvent",
    "LedgerEntry",
    "LedgerTransaction",
    "Member",
    "MemberStatus",
    "Merchant",
    "OutboxMessage",
    "PassChangeCounter",
    "PassInstallEvent",
    "PassLogEntry",
    "PassPlatform",
    "PassRegistration",
    "Program",
    "RewardStock",
    "StaffUser",
    "Store",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
]

MONEY = Numeric(18, 4)


def _enum(enum: type[StrEnum]) -> Enum:
    # VARCHAR + CHECK rather than a native type: identical on SQLite and PostgreSQL, easy to extend.
    return Enum(enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Merchant(Base):
    __tablename__ = "merchant"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Apple refused this pass certificate (APNs 403): its pushes wait for another certificate.
    apns_refused_at: Mapped[datetime | None]
    apns_refused_certificate: Mapped[str | None] = mapped_column(String(64))


class Program(TenantMixin, Base):
    __tablename__ = "program"

    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    template: Mapped[str] = mapped_column(String(64), default="points")
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Google Wallet cards show a barcode that changes every 30 s (screenshots stop working).
    rotating_barcode: Mapped[bool] = mapped_column(default=False, server_default=false())


class Store(TenantMixin, Base):
    __tablename__ = "store"

    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))


class StaffUser(TenantMixin, Base):
    __tablename__ = "staff_user"

    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role))
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # In every access token; bumped to revoke them all (password change, deactivation).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")

    # Per merchant: one person may work for two merchants, and creating an account must not
    # tell an owner that the email is known elsewhere. Sign-in names the merchant.
    __table_args__ = (UniqueConstraint("merchant_id", "email"),)


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
    stamps_balance: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str | None] = mapped_column(String(64))
    referred_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL")
    )
    # Number of ledger transactions; the next one takes this position.
    ledger_length: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on every change the card shows; the PassKit web service and pushes key off it.
    pass_version: Mapped[int] = mapped_column(Integer, default=1)
    pass_updated_at: Mapped[datetime] = mapped_column(default=clock_now)
    # The change sequence of the transaction that last changed the card: PassKit update tags
    # compare against it (see wallet_service/push/changes.py).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)
    # The pass_version Google Wallet last received (None: never sent).
    google_pass_version: Mapped[int | None] = mapped_column(Integer)
    # When Google last refused this card (retried an hour later, not every worker round).
    google_refused_at: Mapped[datetime | None]

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


class LedgerTransaction(TenantMixin, Base):
    """One business event of a member's account (purchase, redemption, bonus, ...).

    Append-only. ``position`` orders a member's history exactly as it was posted; the
    domain (``wallet_service.loyalty``) rebuilds and re-checks the account from it.
    """

    __tablename__ = "ledger_transaction"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16), default="store")
    external_reference: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(120))
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    purchase_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    reverses_transaction_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    bonus_kind: Mapped[str | None] = mapped_column(String(32))
    bonus_reference: Mapped[str | None] = mapped_column(String(120))
    related_member_id: Mapped[uuid.UUID | None]
    reward_code: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("member_id", "position"),
        # Backs up the domain's "once only" bonuses against concurrent workers.
        UniqueConstraint("member_id", "bonus_kind", "bonus_reference"),
    )


class LedgerEntry(TenantMixin, Base):
    """One signed movement of points, cashback money or stamps within a transaction."""

    __tablename__ = "ledger_entry"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transaction.id", ondelete="CASCADE"), index=True
    )
    entry_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    cashback: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    stamps: Mapped[int] = mapped_column(Integer, default=0)
    lot_expires_at: Mapped[datetime | None]
    # Which point lots a debit consumed: [[lot entry_key, points], ...]
    draws: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    reverses_entry_key: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("member_id", "entry_key"),)


class RewardStock(TenantMixin, Base):
    """Units of a limited reward handed out; locked and bumped by each redemption."""

    __tablename__ = "reward_stock"

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))
    reward_code: Mapped[str] = mapped_column(String(64))
    redeemed: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("program_id", "reward_code"),)


class IdempotencyRecord(TenantMixin, Base):
    """The first answer to a mutating call, replayed for retries with the same key.

    A key is its caller's (the staff account or API key that sent it), so another caller
    cannot pre-empt it; ``member_id`` names the card the answer is about, for erasure.
    """

    __tablename__ = "idempotency_record"

    caller_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("merchant_id", "caller_id", "key"),)


class PassRegistration(TenantMixin, Base):
    """A device that added a pass and wants its updates (PassKit web service)."""

    __tablename__ = "pass_registration"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    device_library_identifier: Mapped[str] = mapped_column(String(128), index=True)
    pass_type_identifier: Mapped[str] = mapped_column(String(255))
    serial_number: Mapped[str] = mapped_column(String(36))
    push_token: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=clock_now, onupdate=clock_now)

    __table_args__ = (
        UniqueConstraint("device_library_identifier", "pass_type_identifier", "serial_number"),
    )


class PassPlatform(StrEnum):
    apple = "apple"
    google = "google"


class InstallEvent(StrEnum):
    installed = "installed"
    removed = "removed"


class PassInstallEvent(TenantMixin, Base):
    """A card added to or removed from a wallet: a new PassKit registration or its removal
    on Apple's side, a save or delete callback on Google's. Append-only.

    ``nonce`` is Google's callback nonce: Google may deliver one callback twice, and the
    unique constraint records it once (NULLs, Apple's rows, never collide).
    """

    __tablename__ = "pass_install_event"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[PassPlatform] = mapped_column(_enum(PassPlatform))
    event: Mapped[InstallEvent] = mapped_column(_enum(InstallEvent))
    occurred_at: Mapped[datetime]
    nonce: Mapped[str | None] = mapped_column(String(255))
    device_library_identifier: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("merchant_id", "nonce"),)


class PassLogEntry(Base):
    """A message a device posted to ``/v1/log``.

    Devices log without credentials, so ``merchant_id`` is set only when the message names one
    of a merchant's serial numbers; the rest are for the operator.
    """

    __tablename__ = "pass_log_entry"

    merchant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("merchant.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text)


class PassChangeCounter(Base):
    """The change sequence: one row, incremented by every transaction that changes a card,
    just before it commits (so sequence order is commit order)."""

    __tablename__ = "pass_change_counter"

    value: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxMessage(TenantMixin, Base):
    """Something to tell the outside world, written in the transaction that caused it.

    ``topic`` names the handler, ``subject`` what it is about (rows with the same topic and
    subject coalesce into one delivery). A dispatcher leases due rows, delivers them, then
    deletes them; a failure makes the row due again later, and too many make it dead.
    """

    __tablename__ = "outbox_message"

    topic: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    available_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (Index("ix_outbox_message_topic_subject", "topic", "subject"),)


class GoogleNotification(TenantMixin, Base):
    """A notification Google accepted for a pass: the 24-hour budget is counted from these."""

    __tablename__ = "google_notification"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime]


class WebhookEndpoint(TenantMixin, Base):
    """A merchant's URL that receives webhook events.

    The signing secret is never stored: it is derived from the server key, the endpoint id
    and ``secret_version`` (see :mod:`wallet_service.webhooks.secrets`). A rotation bumps the
    version; the previous one keeps signing, beside the new one, until ``previous_secret_until``.
    """

    __tablename__ = "webhook_endpoint"

    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The event types delivered here; empty: every type.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    secret_created_at: Mapped[datetime]
    previous_secret_version: Mapped[int | None] = mapped_column(Integer)
    previous_secret_until: Mapped[datetime | None]


class WebhookDeliveryStatus(StrEnum):
    pending = "pending"  # queued, not tried yet (or queued again by a redelivery)
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # the last attempt failed; another one is due after a backoff
    # No attempt follows: all of them failed, or the answer was one a retry cannot change
    # (a 4xx, an unsafe address, a disabled endpoint). The merchant may redeliver.
    dead = "dead"


class WebhookDelivery(TenantMixin, Base):
    """One event for one endpoint, and what became of it (the delivery log)."""

    __tablename__ = "webhook_delivery"

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(_enum(WebhookDeliveryStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_webhook_delivery_merchant_id_created_at", "merchant_id", "created_at"),
    )

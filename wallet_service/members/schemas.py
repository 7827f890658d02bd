"""Member payloads."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import EmailStr, Field, StrictBool

from wallet_service.db.models import MemberStatus
from wallet_service.schemas import ReadModel, RequestModel

__all__ = ["ConsentChange", "ConsentRead", "MemberCreate", "MemberRead"]


class ConsentChange(RequestModel):
    purpose: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,63}$",
        description="What the consent is for, e.g. marketing_email, geolocated_offers.",
    )
    granted: StrictBool


class ConsentRead(ReadModel):
    purpose: str
    granted: bool
    source: str
    created_at: datetime


class MemberCreate(RequestModel):
    given_name: str = Field(default="", max_length=100)
    family_name: str = Field(default="", max_length=100)
    email: EmailStr | None = None
    birthday: date | None = None
    home_store_id: uuid.UUID | None = None
    referred_by: uuid.UUID | None = Field(
        default=None,
        description="The referring member's id: both earn the referral bonus after this "
        "member's first qualifying purchase.",
    )
    consents: list[ConsentChange] = Field(default_factory=list, max_length=20)


class MemberRead(ReadModel):
    id: uuid.UUID
    program_id: uuid.UUID
    serial_number: str
    given_name: str
    family_name: str
    email: str | None
    birthday: date | None
    home_store_id: uuid.UUID | None
    referred_by_id: uuid.UUID | None = None
    status: MemberStatus
    points_balance: int
    cashback_balance: Decimal
    stamps_balance: int
    tier: str | None
    consents: list[ConsentRead] = Field(default_factory=list)
    apple_pass_url: str = Field(default="", description="The member's Add to Apple Wallet link")
    google_save_url: str | None = Field(
        default=None,
        description="The member's Add to Google Wallet link (a signed save JWT); null until "
        "the merchant's Google Wallet issuer account is set up",
    )
    card_url: str = Field(default="", description="The member's card page")
    created_at: datetime

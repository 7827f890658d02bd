"""Payloads of the till: scans, redemptions, reversals and card look-ups."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from wallet_service.schemas import RequestModel, StrictDecimal

__all__ = [
    "MAX_AMOUNT",
    "Amount",
    "BasketLineIn",
    "LookupRead",
    "MemberSummary",
    "RedemptionCreate",
    "RedemptionRead",
    "ReversalCreate",
    "ReversalRead",
    "RewardOption",
    "RewardRead",
    "ScanCreate",
    "ScanRead",
    "TierRead",
]

Barcode = Field(min_length=1, max_length=512, description="The decoded pass barcode")


# No till rings up a billion; the cap keeps points far from the database's integer range.
MAX_AMOUNT = Decimal(1_000_000_000)


class Amount(RequestModel):
    value: StrictDecimal = Field(gt=0, le=MAX_AMOUNT, max_digits=18, decimal_places=4)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class BasketLineIn(RequestModel):
    sku: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    quantity: StrictInt = Field(ge=1, le=10_000)
    unit_price: StrictDecimal = Field(ge=0, max_digits=18, decimal_places=4)


class ScanCreate(RequestModel):
    barcode: str = Barcode
    amount: Amount
    store_id: uuid.UUID | None = None
    channel: Literal["store", "online"] = "store"
    order_id: str | None = Field(
        default=None,
        max_length=200,
        description="Online orders: the order id, used as Idempotency-Key when none is sent.",
    )
    lines: list[BasketLineIn] = Field(default_factory=list, max_length=500)


class RedemptionCreate(RequestModel):
    barcode: str = Barcode
    reward_code: str = Field(min_length=1, max_length=64)
    store_id: uuid.UUID | None = None
    basket_amount: StrictDecimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=4)


class ReversalCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class TierRead(BaseModel):
    code: str
    name: str


class MemberSummary(BaseModel):
    id: uuid.UUID
    serial_number: str
    name: str
    status: str
    points_balance: int
    cashback_balance: Decimal
    currency: str
    stamps: int
    stamps_per_card: int | None
    tier: TierRead
    progress_text: str | None
    points_expiring_soon: int


class RewardOption(BaseModel):
    code: str
    name: str
    kind: str
    cost_points: int
    minimum_basket: Decimal | None = Field(
        default=None, description="Redeeming needs a basket_amount of at least this much"
    )
    usable: bool
    reasons: list[str]


class RewardRead(BaseModel):
    code: str
    name: str
    kind: str
    discount_amount: Decimal | None = None
    discount_percent: Decimal | None = None
    product_sku: str | None = None
    charity_name: str | None = None
    donation_amount: Decimal | None = None


class LookupRead(BaseModel):
    member: MemberSummary
    rewards: list[RewardOption]


class ScanRead(BaseModel):
    transaction_id: uuid.UUID
    member: MemberSummary
    points_earned: int
    cashback_earned: Decimal
    stamps_earned: int
    tier_changed: bool
    rewards: list[RewardOption]


class RedemptionRead(BaseModel):
    transaction_id: uuid.UUID
    member: MemberSummary
    reward: RewardRead
    rewards: list[RewardOption]


class ReversalRead(BaseModel):
    transaction_id: uuid.UUID
    reversed_transaction_id: uuid.UUID
    member: MemberSummary

"""Merchant payloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from wallet_service.schemas import ReadModel, RequestModel

__all__ = ["MerchantCreate", "MerchantRead", "MerchantUpdate"]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$"


class MerchantCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN)


class MerchantUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class MerchantRead(ReadModel):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime

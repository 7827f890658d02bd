"""Program payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictBool

from wallet_service.schemas import ReadModel, RequestModel

__all__ = ["ProgramCreate", "ProgramRead", "ProgramUpdate"]

CardTemplate = Literal["points", "stamps"]


class ProgramCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    template: CardTemplate = "points"
    rules: dict[str, Any] = Field(default_factory=dict)
    rotating_barcode: StrictBool = Field(
        default=False,
        description="Google Wallet cards show a barcode that changes every 30 seconds "
        "(RFC 6238), so a screenshot of the card stops working.",
    )


class ProgramUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    template: CardTemplate | None = None
    rules: dict[str, Any] | None = None
    rotating_barcode: StrictBool | None = None


class ProgramRead(ReadModel):
    id: uuid.UUID
    name: str
    currency: str
    template: str
    rules: dict[str, Any]
    rotating_barcode: bool
    created_at: datetime

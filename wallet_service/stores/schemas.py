"""Store payloads."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime

from pydantic import Field, StrictFloat, field_validator

from wallet_service.schemas import ReadModel, RequestModel

__all__ = ["StoreCreate", "StoreRead", "StoreUpdate"]


def _known_timezone(value: str | None) -> str | None:
    if value is not None and value not in zoneinfo.available_timezones():
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


class StoreCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=500)
    latitude: StrictFloat = Field(ge=-90, le=90)
    longitude: StrictFloat = Field(ge=-180, le=180)
    timezone: str = "UTC"

    _timezone = field_validator("timezone")(_known_timezone)


class StoreUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    latitude: StrictFloat | None = Field(default=None, ge=-90, le=90)
    longitude: StrictFloat | None = Field(default=None, ge=-180, le=180)
    timezone: str | None = None

    _timezone = field_validator("timezone")(_known_timezone)


class StoreRead(ReadModel):
    id: uuid.UUID
    name: str
    address: str
    latitude: float
    longitude: float
    timezone: str
    created_at: datetime

"""Webhook payloads of the REST API: endpoints (the secret shown once) and the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, StrictBool, StrictInt, field_validator

from wallet_service.schemas import ReadModel, RequestModel

__all__ = [
    "EventType",
    "SecretRotation",
    "WebhookDeliveryRead",
    "WebhookEndpointCreate",
    "WebhookEndpointRead",
    "WebhookEndpointUpdate",
    "WebhookEndpointWithSecret",
]


class EventType(StrEnum):
    pass_installed = "pass.installed"  # noqa: S105 - an event name, not a password
    pass_removed = "pass.removed"  # noqa: S105
    card_scanned = "card.scanned"
    balance_changed = "balance.changed"
    tier_changed = "tier.changed"
    reward_redeemed = "reward.redeemed"


def _distinct(value: list[EventType] | None) -> list[EventType] | None:
    return None if value is None else list(dict.fromkeys(value))


class WebhookEndpointCreate(RequestModel):
    url: str = Field(min_length=1, max_length=2048)
    description: str = Field(default="", max_length=500)
    # Empty: every event type, including types added later.
    event_types: list[EventType] = Field(default_factory=list, max_length=len(EventType))
    active: StrictBool = True

    _event_types = field_validator("event_types")(_distinct)


class WebhookEndpointUpdate(RequestModel):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] | None = Field(default=None, max_length=len(EventType))
    active: StrictBool | None = None

    _event_types = field_validator("event_types")(_distinct)


class SecretRotation(RequestModel):
    # How long deliveries stay signed with the old secret too (0: it stops at once).
    keep_previous_hours: StrictInt = Field(default=24, ge=0, le=168)


class WebhookEndpointRead(ReadModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    active: bool
    secret_version: int
    secret_created_at: datetime
    previous_secret_until: datetime | None
    created_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointRead):
    """The endpoint and its signing secret: answered once, at creation or rotation."""

    secret: str


class WebhookDeliveryRead(ReadModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]

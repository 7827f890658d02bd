"""What the API shows of the outbox: the dead letters a merchant can read and retry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeadMessageRead", "RetriedMessages"]


class DeadMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    topic: str = Field(description="card (one card's pushes), program (a fan-out), webhook")
    subject: str = Field(description="What it is about: a member id, a program, a delivery")
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_at: datetime


class RetriedMessages(BaseModel):
    retried: int = Field(description="Dead letters given a fresh set of attempts, due now")

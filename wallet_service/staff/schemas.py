"""Staff payloads. Password hashes never leave the service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, SecretStr, StrictBool

from wallet_service.schemas import ReadModel, RequestModel
from wallet_service.security.password_policy import password_problem
from wallet_service.security.permissions import Role

__all__ = ["StaffCreate", "StaffRead", "StaffUpdate"]


def _acceptable(password: SecretStr) -> SecretStr:
    problem = password_problem(password.get_secret_value())
    if problem is not None:
        raise ValueError(problem)
    return password


StaffPassword = Annotated[
    SecretStr,
    AfterValidator(_acceptable),
    Field(description="At least 12 characters; common and breached passwords are refused."),
]


class StaffCreate(RequestModel):
    email: EmailStr
    password: StaffPassword
    full_name: str = Field(default="", max_length=200)
    role: Role
    store_id: uuid.UUID | None = None


class StaffUpdate(RequestModel):
    password: StaffPassword | None = None
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    store_id: uuid.UUID | None = None
    is_active: StrictBool | None = None


class StaffRead(ReadModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    store_id: uuid.UUID | None
    is_active: bool
    created_at: datetime

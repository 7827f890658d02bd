"""``Idempotency-Key``: a retried mutating call returns the first answer instead of acting twice.

The record is written in the same transaction as the change it describes, so either both
exist or neither does. Callers check for a replay only after locking the row the call
changes: a concurrent duplicate then waits for the first to commit and finds its record.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header
from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.base import Base
from wallet_service.db.models import IdempotencyRecord
from wallet_service.errors import Conflict, InvalidRequest
from wallet_service.security.principal import MerchantScope

__all__ = ["IdempotencyKeyDep", "IdempotentCall", "StoredResponse"]

# Built once: on the till's hot path, building a statement per call costs about as much CPU
# as running it.
_RECORDS = Base.metadata.tables[IdempotencyRecord.__tablename__]
_FIND_RECORD = select(
    _RECORDS.c.request_fingerprint, _RECORDS.c.status_code, _RECORDS.c.response_body
).where(_RECORDS.c.merchant_id == bindparam("merchant_id"), _RECORDS.c.key == bindparam("key"))
_INSERT_RECORD = insert(_RECORDS)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IdempotentCall:
    """One mutating call: its key and a fingerprint of what it asked for."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, path: str, payload: Any) -> IdempotentCall:
        canonical = json.dumps([path, payload], sort_keys=True, separators=(",", ":"), default=str)
        return cls(key=key, fingerprint=hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def for_caller(cls, caller_id: uuid.UUID, key: str, path: str, payload: Any) -> IdempotentCall:
        """A header key belongs to its caller: two tills numbering receipts alike never collide."""
        return cls.of(f"{caller_id}:{key}", path, payload)

    async def replay(self, session: AsyncSession, scope: MerchantScope) -> StoredResponse | None:
        """The first answer for this key, or ``None``; a different request under it is a 409."""
        record = (
            await session.execute(_FIND_RECORD, {"merchant_id": scope.merchant_id, "key": self.key})
        ).one_or_none()
        if record is None:
            return None
        if record.request_fingerprint != self.fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used for a different request.",
                code="idempotency_key_reused",
            )
        return StoredResponse(record.status_code, record.response_body)

    async def remember(
        self, session: AsyncSession, scope: MerchantScope, created: BaseModel
    ) -> StoredResponse:
        """Store ``created`` as this call's answer (201 Created) and return it."""
        response = StoredResponse(201, created.model_dump(mode="json"))
        record = {
            "merchant_id": scope.merchant_id,
            "key": self.key,
            "request_fingerprint": self.fingerprint,
            "status_code": response.status_code,
            "response_body": response.body,
        }
        try:
            await session.execute(_INSERT_RECORD, record)
        except IntegrityError as exc:
            # The same key raced in on another row at the same moment: the first one wins.
            raise Conflict(
                "A request with this Idempotency-Key is being processed.",
                code="idempotency_key_reused",
            ) from exc
        return response


async def _idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(description="Unique per operation; a retry with the same key does nothing twice."),
    ] = None,
) -> str | None:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key"
        )
    return idempotency_key


IdempotencyKeyDep = Annotated[str | None, Depends(_idempotency_key)]

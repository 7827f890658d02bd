"""``Idempotency-Key``: a retried mutating call returns the first answer instead of acting twice.

The record is written in the same transaction as the change it describes, so either both
exist or neither does. Callers check for a replay only after locking the row the call
changes: a concurrent duplicate then waits for the first to commit and finds its record.

A key belongs to its caller (the staff account or API key that sent it): records are
unique per (merchant, caller, key), so nobody can pre-empt or read another caller's
answers by sending their key first. A stored answer is replayed whatever became of the
card since; each record names the member it concerns, so erasure can blank that member's
personal data in the answers (:func:`redact_answers`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.base import Base
from wallet_service.db.models import IdempotencyRecord
from wallet_service.errors import Conflict
from wallet_service.security.principal import MerchantScope

__all__ = ["IdempotentCall", "KnownAnswers", "StoredResponse", "redact_answers"]

# Built once: on the till's hot path, building a statement per call costs about as much CPU
# as running it.
_RECORDS = Base.metadata.tables[IdempotencyRecord.__tablename__]
_FIND_RECORD = select(
    _RECORDS.c.request_fingerprint, _RECORDS.c.status_code, _RECORDS.c.response_body
).where(
    _RECORDS.c.merchant_id == bindparam("merchant_id"),
    _RECORDS.c.caller_id == bindparam("caller_id"),
    _RECORDS.c.key == bindparam("key"),
)
_FIND_RECORDS = select(
    _RECORDS.c.merchant_id,
    _RECORDS.c.caller_id,
    _RECORDS.c.key,
    _RECORDS.c.request_fingerprint,
    _RECORDS.c.status_code,
    _RECORDS.c.response_body,
).where(
    tuple_(_RECORDS.c.merchant_id, _RECORDS.c.caller_id, _RECORDS.c.key).in_(
        bindparam("caller_keys", expanding=True)
    )
)
_INSERT_RECORD = insert(_RECORDS)
_REUSED = "This Idempotency-Key was already used for a different request."


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IdempotentCall:
    """One mutating call: who sent it, its key and a fingerprint of what it asked for."""

    caller_id: uuid.UUID
    key: str
    fingerprint: str

    @classmethod
    def for_caller(cls, caller_id: uuid.UUID, key: str, path: str, payload: Any) -> IdempotentCall:
        """A header key belongs to its caller (a staff account or an API key, whichever till
        or device it uses): two tills numbering receipts alike never collide, and no caller
        can claim another's key first."""
        canonical = json.dumps([path, payload], sort_keys=True, separators=(",", ":"), default=str)
        return cls(caller_id, key, hashlib.sha256(canonical.encode()).hexdigest())

    def _identity(self, scope: MerchantScope) -> tuple[uuid.UUID, uuid.UUID, str]:
        return scope.merchant_id, self.caller_id, self.key

    async def replay(self, session: AsyncSession, scope: MerchantScope) -> StoredResponse | None:
        """The first answer for this key, or ``None``; a different request under it is a 409."""
        parameters = {
            "merchant_id": scope.merchant_id,
            "caller_id": self.caller_id,
            "key": self.key,
        }
        record = (await session.execute(_FIND_RECORD, parameters)).one_or_none()
        if record is None:
            return None
        return self._matching(record.request_fingerprint, record.status_code, record.response_body)

    def _matching(self, fingerprint: str, status_code: int, body: Any) -> StoredResponse:
        if fingerprint != self.fingerprint:
            raise Conflict(_REUSED, code="idempotency_key_reused")
        return StoredResponse(status_code, body)

    def _record(
        self, scope: MerchantScope, response: StoredResponse, member_id: uuid.UUID
    ) -> dict[str, Any]:
        return {
            "merchant_id": scope.merchant_id,
            "caller_id": self.caller_id,
            "key": self.key,
            "member_id": member_id,
            "request_fingerprint": self.fingerprint,
            "status_code": response.status_code,
            "response_body": response.body,
        }

    async def remember(
        self, session: AsyncSession, scope: MerchantScope, created: BaseModel, member_id: uuid.UUID
    ) -> StoredResponse:
        """Store ``created`` as this call's answer (201 Created) about ``member_id``'s card,
        and return it."""
        response = StoredResponse(201, created.model_dump(mode="json"))
        try:
            await session.execute(_INSERT_RECORD, self._record(scope, response, member_id))
        except IntegrityError as exc:
            # The same key raced in on another row at the same moment: the first one wins.
            raise Conflict(
                "A request with this Idempotency-Key is being processed.",
                code="idempotency_key_reused",
            ) from exc
        return response


class KnownAnswers:
    """Idempotency for a batch of calls sharing one transaction: the answers stored before
    it, read in one query, and those it adds, written in one statement by :meth:`save`.

    A key that comes twice in the batch (a retry racing its original) replays the answer
    given earlier in the same batch.
    """

    def __init__(self) -> None:
        self._answers: dict[
            tuple[uuid.UUID, uuid.UUID, str], tuple[IdempotentCall, StoredResponse]
        ] = {}
        self._new: list[dict[str, Any]] = []

    @classmethod
    async def load(
        cls, session: AsyncSession, calls: Iterable[tuple[MerchantScope, IdempotentCall]]
    ) -> KnownAnswers:
        known = cls()
        keys = list({call._identity(scope) for scope, call in calls})
        rows = await session.execute(_FIND_RECORDS, {"caller_keys": keys})
        for row in rows:
            stored = IdempotentCall(row.caller_id, row.key, row.request_fingerprint)
            response = StoredResponse(row.status_code, row.response_body)
            known._answers[(row.merchant_id, row.caller_id, row.key)] = (stored, response)
        return known

    def replay(self, scope: MerchantScope, call: IdempotentCall) -> StoredResponse | None:
        """As :meth:`IdempotentCall.replay`, from what the batch knows."""
        found = self._answers.get(call._identity(scope))
        if found is None:
            return None
        stored, response = found
        return call._matching(stored.fingerprint, response.status_code, response.body)

    def remember(
        self, scope: MerchantScope, call: IdempotentCall, created: BaseModel, member_id: uuid.UUID
    ) -> StoredResponse:
        """As :meth:`IdempotentCall.remember`; written by :meth:`save`."""
        response = StoredResponse(201, created.model_dump(mode="json"))
        self._answers[call._identity(scope)] = (call, response)
        self._new.append(call._record(scope, response, member_id))
        return response

    async def save(self, session: AsyncSession) -> None:
        """Write the answers the batch added (a key raced in elsewhere fails the batch)."""
        if self._new:
            await session.execute(_INSERT_RECORD, self._new if len(self._new) > 1 else self._new[0])
            self._new = []


async def redact_answers(
    session: AsyncSession,
    scope: MerchantScope,
    member_id: uuid.UUID,
    redact: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    """Rewrite every stored answer about ``member_id`` through ``redact`` (erasure); the
    number rewritten. Keys, fingerprints and statuses stay, so retries still replay."""
    rows = (
        await session.execute(
            select(_RECORDS.c.id, _RECORDS.c.response_body).where(
                _RECORDS.c.merchant_id == scope.merchant_id, _RECORDS.c.member_id == member_id
            )
        )
    ).all()
    for row in rows:
        await session.execute(
            update(_RECORDS)
            .where(_RECORDS.c.id == row.id)
            .values(response_body=redact(row.response_body))
        )
    return len(rows)

"""Webhook endpoints, events and the delivery log, always within one merchant.

:func:`emit` is called by the services where something happens (installs, scans, postings,
redemptions). For each of the merchant's active endpoints subscribed to the event it adds a
:class:`~wallet_service.db.models.WebhookDelivery` and an outbox row to the caller's
transaction: the event exists exactly if the change commits. Like every service it never
commits.

The scan path is latency-sensitive and most merchants have no endpoint, so the endpoints
are read once per transaction and merchant (or once for a whole batch of merchants, with
:func:`load_endpoints`) and remembered on the session until the transaction ends; a merchant
without endpoints costs one indexed query per transaction and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from wallet_service.db.models import (
    Member,
    OutboxMessage,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.errors import Conflict, InvalidRequest
from wallet_service.push.outbox import Topic, enqueue
from wallet_service.security.principal import MerchantScope
from wallet_service.webhooks.destinations import UnsafeDestination, check_url, checked_addresses
from wallet_service.webhooks.schemas import (
    EventType,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)
from wallet_service.webhooks.sender import Attempt, AttemptOutcome

__all__ = [
    "DeliveryTarget",
    "card_data",
    "create_endpoint",
    "delete_endpoint",
    "emit",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "load_endpoints",
    "record_attempt",
    "redeliver",
    "rotate_secret",
    "targets",
    "update_endpoint",
]

_MEMO = "wallet_webhook_endpoints"
# (endpoint id, event types it takes: empty = all) per merchant, for this transaction.
_Subscriptions = dict[uuid.UUID, list[tuple[uuid.UUID, frozenset[str]]]]


@event.listens_for(Session, "after_transaction_end")
def _forget_endpoints(session: Session, transaction: SessionTransaction) -> None:
    # Another transaction may see endpoints created or changed meanwhile.
    if transaction.parent is None:
        session.info.pop(_MEMO, None)


def _memo(session: AsyncSession) -> _Subscriptions:
    memo: _Subscriptions = session.info.setdefault(_MEMO, {})
    return memo


async def load_endpoints(session: AsyncSession, merchant_ids: Iterable[uuid.UUID]) -> None:
    """Read the active endpoints of every merchant not read yet in this transaction, in one
    query (a batch of scans calls this once, then emits without a database hit)."""
    memo = _memo(session)
    unread = [m for m in dict.fromkeys(merchant_ids) if m not in memo]
    if not unread:
        return
    for merchant_id in unread:
        memo[merchant_id] = []
    rows = await session.execute(
        select(WebhookEndpoint.merchant_id, WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.merchant_id.in_(unread), WebhookEndpoint.active.is_(True)
        )
    )
    for merchant_id, endpoint_id, event_types in rows.all():
        memo[merchant_id].append((endpoint_id, frozenset(event_types or ())))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def card_data(member: Member, **fields: Any) -> dict[str, Any]:
    """An event's ``data``: the card's ids (never a name or an email) and ``fields``."""
    return {"member_id": member.id, "serial_number": member.serial_number, **fields}


async def emit(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_type: EventType,
    data: Mapping[str, Any],
    now: datetime,
) -> int:
    """Queue ``event_type`` for each of the merchant's subscribed endpoints; how many."""
    await load_endpoints(session, [merchant_id])
    endpoints = [
        endpoint_id
        for endpoint_id, types in _memo(session)[merchant_id]
        if not types or event_type.value in types
    ]
    if not endpoints:
        return 0
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": event_type.value,
        "created_at": now.isoformat(),
        "merchant_id": str(merchant_id),
        "data": _jsonable(data),
    }
    for endpoint_id in endpoints:
        delivery_id = uuid.uuid4()
        session.add(
            WebhookDelivery(
                id=delivery_id,
                merchant_id=merchant_id,
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event_type.value,
                payload=payload,
                status=WebhookDeliveryStatus.pending,
                attempts=0,
                created_at=now,
            )
        )
        enqueue(
            session,
            merchant_id=merchant_id,
            topic=Topic.WEBHOOK,
            subject=str(delivery_id),
            now=now,
        )
    return len(endpoints)


# --- Endpoints -------------------------------------------------------------------------------


async def _checked_url(url: str, *, production: bool) -> str:
    try:
        parsed = check_url(url, production=production)
        if production:
            await checked_addresses(parsed.host, parsed.port or 443, production=True)
    except UnsafeDestination as refused:
        raise InvalidRequest(
            f"This URL cannot receive webhooks: {refused}", code="webhook_url_not_allowed"
        ) from refused
    return str(parsed)


async def create_endpoint(
    session: AsyncSession,
    scope: MerchantScope,
    data: WebhookEndpointCreate,
    now: datetime,
    *,
    production: bool,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        merchant_id=scope.merchant_id,
        url=await _checked_url(data.url, production=production),
        description=data.description,
        event_types=[t.value for t in data.event_types],
        active=data.active,
        secret_version=1,
        secret_created_at=now,
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    _memo(session).pop(scope.merchant_id, None)
    return endpoint


async def get_endpoint(
    session: AsyncSession, scope: MerchantScope, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint:
    return await get_scoped(
        session, scope, WebhookEndpoint, endpoint_id, what="webhook endpoint", for_update=for_update
    )


async def list_endpoints(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[WebhookEndpoint]]:
    statement = scoped_select(scope, WebhookEndpoint).order_by(
        WebhookEndpoint.created_at, WebhookEndpoint.id
    )
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def update_endpoint(
    session: AsyncSession,
    scope: MerchantScope,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    *,
    production: bool,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, scope, endpoint_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        endpoint.url = await _checked_url(changes["url"], production=production)
    if "description" in changes:
        endpoint.description = changes["description"]
    if data.event_types is not None:
        endpoint.event_types = [t.value for t in data.event_types]
    if "active" in changes:
        endpoint.active = changes["active"]
    await session.flush()
    _memo(session).pop(scope.merchant_id, None)
    return endpoint


async def delete_endpoint(
    session: AsyncSession, scope: MerchantScope, endpoint_id: uuid.UUID
) -> None:
    """The endpoint goes, with its delivery log and whatever it still had queued."""
    endpoint = await get_endpoint(session, scope, endpoint_id)
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    queued = [str(d) for d in (await session.scalars(deliveries)).all()]
    if queued:
        await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.merchant_id == scope.merchant_id,
                OutboxMessage.topic == Topic.WEBHOOK,
                OutboxMessage.subject.in_(queued),
            )
        )
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    await session.delete(endpoint)
    await session.flush()
    _memo(session).pop(scope.merchant_id, None)


async def rotate_secret(
    session: AsyncSession,
    scope: MerchantScope,
    endpoint_id: uuid.UUID,
    now: datetime,
    *,
    keep_previous: timedelta,
) -> WebhookEndpoint:
    """A new secret version; the old one keeps signing beside it for ``keep_previous``."""
    endpoint = await get_endpoint(session, scope, endpoint_id, for_update=True)
    endpoint.previous_secret_version = endpoint.secret_version if keep_previous else None
    endpoint.previous_secret_until = now + keep_previous if keep_previous else None
    endpoint.secret_version += 1
    endpoint.secret_created_at = now
    await session.flush()
    return endpoint


# --- The delivery log ------------------------------------------------------------------------


async def get_delivery(
    session: AsyncSession, scope: MerchantScope, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery:
    return await get_scoped(
        session, scope, WebhookDelivery, delivery_id, what="webhook delivery", for_update=for_update
    )


async def list_deliveries(
    session: AsyncSession,
    scope: MerchantScope,
    *,
    endpoint_id: uuid.UUID | None,
    status: WebhookDeliveryStatus | None,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[WebhookDelivery]]:
    """Newest first."""
    statement = scoped_select(scope, WebhookDelivery)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    statement = statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def redeliver(
    session: AsyncSession, scope: MerchantScope, delivery_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    """Send the same event (same id and payload, a new signature) again through the outbox,
    now, with a fresh set of attempts. A delivery still waiting for a retry is made due at
    once; a dead or finished one is queued again."""
    delivery = await get_delivery(session, scope, delivery_id, for_update=True)
    endpoint = await get_endpoint(session, scope, delivery.endpoint_id)
    if not endpoint.active:
        raise Conflict("The endpoint is disabled.", code="webhook_endpoint_inactive")
    rows = select(OutboxMessage).where(
        OutboxMessage.merchant_id == scope.merchant_id,
        OutboxMessage.topic == Topic.WEBHOOK,
        OutboxMessage.subject == str(delivery.id),
    )
    waiting = (
        await session.scalars(rows.where(OutboxMessage.dead_at.is_(None)).with_for_update())
    ).first()
    if waiting is not None:
        # A row a dispatcher holds right now is being sent: it settles on its own.
        if waiting.leased_until is None or waiting.leased_until < now:
            waiting.available_at, waiting.attempts = now, 0
    else:
        # A dead row of this delivery is superseded by the new one.
        for dead in (await session.scalars(rows)).all():
            await session.delete(dead)
        enqueue(
            session,
            merchant_id=scope.merchant_id,
            topic=Topic.WEBHOOK,
            subject=str(delivery.id),
            now=now,
        )
    delivery.status = WebhookDeliveryStatus.pending
    await session.flush()
    return delivery


# --- For the dispatcher ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryTarget:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


async def targets(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DeliveryTarget]:
    """The deliveries still on record, with their endpoints (one query)."""
    rows = await session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(list(delivery_ids)))
    )
    return {delivery.id: DeliveryTarget(delivery, endpoint) for delivery, endpoint in rows.all()}


async def record_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, attempt: Attempt, now: datetime, *, last: bool
) -> None:
    """Write what one attempt gave into the log (``last``: no attempt follows a failure)."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:  # its endpoint was deleted meanwhile
        return
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = attempt.status_code
    delivery.last_error = attempt.error[:1000] if attempt.error else None
    if attempt.outcome is AttemptOutcome.delivered:
        delivery.status = WebhookDeliveryStatus.delivered
        delivery.delivered_at = now
    elif attempt.outcome is AttemptOutcome.refused or last:
        delivery.status = WebhookDeliveryStatus.dead
    else:
        delivery.status = WebhookDeliveryStatus.failed

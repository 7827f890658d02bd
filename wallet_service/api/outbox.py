"""``/api/v1/outbox``: deliveries that ran out of attempts, and retrying them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from wallet_service.errors import NotFound
from wallet_service.http.deps import ClockDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.push import outbox
from wallet_service.push.schemas import DeadMessageRead, RetriedMessages
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

router = APIRouter(prefix="/outbox", tags=["outbox"])

Manager = Annotated[Principal, Depends(require(Permission.outbox_manage))]


@router.get("/dead", response_model=Page[DeadMessageRead], responses=responses(401, 403))
async def list_dead_letters(
    session: SessionDep, principal: Manager, page: PageParamsDep
) -> Page[DeadMessageRead]:
    """Pushes, Google writes and webhooks that failed every attempt, newest first."""
    count, rows = await outbox.list_dead(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[DeadMessageRead.model_validate(row) for row in rows], count=count)


@router.post(
    "/dead/retry",
    response_model=RetriedMessages,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403),
)
async def retry_dead_letters(
    session: SessionDep, principal: Manager, clock: ClockDep
) -> RetriedMessages:
    """Give every dead letter a fresh set of attempts (e.g. after fixing a certificate)."""
    return RetriedMessages(
        retried=await outbox.retry_dead(session, principal.scope, None, clock.now())
    )


@router.post(
    "/dead/{message_id}/retry",
    response_model=RetriedMessages,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404),
)
async def retry_dead_letter(
    message_id: uuid.UUID, session: SessionDep, principal: Manager, clock: ClockDep
) -> RetriedMessages:
    """Give one dead letter a fresh set of attempts."""
    retried = await outbox.retry_dead(session, principal.scope, message_id, clock.now())
    if not retried:
        raise NotFound("No such dead letter.", code="dead_letter_not_found")
    return RetriedMessages(retried=retried)

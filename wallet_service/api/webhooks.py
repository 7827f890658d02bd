"""``/api/v1/webhook-endpoints`` and ``/api/v1/webhook-deliveries``: where the merchant's
events go, and what became of each delivery (owners only: ``webhooks:manage``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from wallet_service.config import Environment, Settings
from wallet_service.db.models import WebhookDeliveryStatus, WebhookEndpoint
from wallet_service.http.deps import ClockDep, SessionDep, SettingsDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal
from wallet_service.webhooks import service
from wallet_service.webhooks.schemas import (
    SecretRotation,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from wallet_service.webhooks.secrets import WebhookSecrets

__all__ = ["deliveries_router", "endpoints_router"]

endpoints_router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks"])
deliveries_router = APIRouter(prefix="/webhook-deliveries", tags=["webhooks"])

Manager = Annotated[Principal, Depends(require(Permission.webhooks_manage))]


def _production(settings: Settings) -> bool:
    return settings.environment is Environment.production


def _with_secret(
    endpoint: WebhookEndpoint, settings: Settings, response: Response
) -> WebhookEndpointWithSecret:
    response.headers["Cache-Control"] = "no-store"  # the secret is shown once
    secret = WebhookSecrets.from_settings(settings).current(endpoint)
    read = WebhookEndpointRead.model_validate(endpoint).model_dump()
    return WebhookEndpointWithSecret.model_validate({**read, "secret": secret})


@endpoints_router.get("", response_model=Page[WebhookEndpointRead], responses=responses(401, 403))
async def list_webhook_endpoints(
    session: SessionDep, principal: Manager, page: PageParamsDep
) -> Page[WebhookEndpointRead]:
    count, rows = await service.list_endpoints(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[WebhookEndpointRead.model_validate(r) for r in rows], count=count)


@endpoints_router.post(
    "",
    response_model=WebhookEndpointWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 422),
)
async def create_webhook_endpoint(
    data: WebhookEndpointCreate,
    session: SessionDep,
    principal: Manager,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpointWithSecret:
    endpoint = await service.create_endpoint(
        session, principal.scope, data, clock.now(), production=_production(settings)
    )
    return _with_secret(endpoint, settings, response)


@endpoints_router.get(
    "/{endpoint_id}", response_model=WebhookEndpointRead, responses=responses(401, 403, 404)
)
async def read_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, principal: Manager
) -> WebhookEndpointRead:
    endpoint = await service.get_endpoint(session, principal.scope, endpoint_id)
    return WebhookEndpointRead.model_validate(endpoint)


@endpoints_router.patch(
    "/{endpoint_id}", response_model=WebhookEndpointRead, responses=responses(401, 403, 404, 422)
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    session: SessionDep,
    principal: Manager,
    settings: SettingsDep,
) -> WebhookEndpointRead:
    endpoint = await service.update_endpoint(
        session, principal.scope, endpoint_id, data, production=_production(settings)
    )
    return WebhookEndpointRead.model_validate(endpoint)


@endpoints_router.delete(
    "/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 403, 404)
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, principal: Manager
) -> None:
    await service.delete_endpoint(session, principal.scope, endpoint_id)


@endpoints_router.post(
    "/{endpoint_id}/secret-rotation",
    response_model=WebhookEndpointWithSecret,
    responses=responses(401, 403, 404, 422),
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    session: SessionDep,
    principal: Manager,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    data: SecretRotation | None = None,
) -> WebhookEndpointWithSecret:
    """A new signing secret, answered once. The old one also signs deliveries for
    ``keep_previous_hours`` (24 by default), while receivers switch."""
    keep = timedelta(hours=(data or SecretRotation()).keep_previous_hours)
    endpoint = await service.rotate_secret(
        session, principal.scope, endpoint_id, clock.now(), keep_previous=keep
    )
    return _with_secret(endpoint, settings, response)


@deliveries_router.get(
    "", response_model=Page[WebhookDeliveryRead], responses=responses(401, 403, 422)
)
async def list_webhook_deliveries(
    session: SessionDep,
    principal: Manager,
    page: PageParamsDep,
    endpoint_id: Annotated[uuid.UUID | None, Query()] = None,
    delivery_status: Annotated[WebhookDeliveryStatus | None, Query(alias="status")] = None,
) -> Page[WebhookDeliveryRead]:
    """The delivery log, newest first."""
    count, rows = await service.list_deliveries(
        session,
        principal.scope,
        endpoint_id=endpoint_id,
        status=delivery_status,
        offset=page.offset,
        limit=page.limit,
    )
    return Page(data=[WebhookDeliveryRead.model_validate(r) for r in rows], count=count)


@deliveries_router.get(
    "/{delivery_id}", response_model=WebhookDeliveryRead, responses=responses(401, 403, 404)
)
async def read_webhook_delivery(
    delivery_id: uuid.UUID, session: SessionDep, principal: Manager
) -> WebhookDeliveryRead:
    delivery = await service.get_delivery(session, principal.scope, delivery_id)
    return WebhookDeliveryRead.model_validate(delivery)


@deliveries_router.post(
    "/{delivery_id}/redelivery",
    response_model=WebhookDeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404, 409),
)
async def redeliver_webhook(
    delivery_id: uuid.UUID, session: SessionDep, principal: Manager, clock: ClockDep
) -> WebhookDeliveryRead:
    """Send the event again (same event id and body, a fresh signature and attempts)."""
    delivery = await service.redeliver(session, principal.scope, delivery_id, clock.now())
    return WebhookDeliveryRead.model_validate(delivery)

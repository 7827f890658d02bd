"""The merchant REST routers of ``/api/v1``, assembled in one place.

The scan and device-log routes live with their contexts (``scanning``, ``apple``) and are
mounted under the same prefix by :func:`wallet_service.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter

from wallet_service.api.api_keys import router as api_keys_router
from wallet_service.api.auth import router as auth_router
from wallet_service.api.members import router as members_router
from wallet_service.api.merchants import router as merchants_router
from wallet_service.api.outbox import router as outbox_router
from wallet_service.api.programs import router as programs_router
from wallet_service.api.staff import router as staff_router
from wallet_service.api.stores import router as stores_router
from wallet_service.api.webhooks import deliveries_router, endpoints_router

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"
api_router = APIRouter(prefix=API_PREFIX)
for router in (
    auth_router,
    merchants_router,
    programs_router,
    stores_router,
    staff_router,
    api_keys_router,
    members_router,
    outbox_router,
    endpoints_router,
    deliveries_router,
):
    api_router.include_router(router)

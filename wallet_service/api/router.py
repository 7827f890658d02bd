"""Every ``/api/v1`` router, assembled in one place."""

from __future__ import annotations

from fastapi import APIRouter

from wallet_service.api.api_keys.router import router as api_keys_router
from wallet_service.api.auth.router import router as auth_router
from wallet_service.api.members.router import router as members_router
from wallet_service.api.merchants.router import router as merchants_router
from wallet_service.api.programs.router import router as programs_router
from wallet_service.api.staff.router import router as staff_router
from wallet_service.api.stores.router import router as stores_router
from wallet_service.apple.router import logs_router as passkit_logs_router
from wallet_service.scanning.router import router as scanning_router

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
for router in (
    auth_router,
    merchants_router,
    programs_router,
    stores_router,
    staff_router,
    api_keys_router,
    members_router,
    passkit_logs_router,
    scanning_router,
):
    api_router.include_router(router)

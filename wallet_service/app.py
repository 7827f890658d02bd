"""The FastAPI application factory: routers, problem handlers, database lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from wallet_service import __version__
from wallet_service.accounts.ledger_cache import LedgerCache, sharing
from wallet_service.api.router import API_PREFIX, api_router
from wallet_service.apple.issuer import load_apple_issuer
from wallet_service.apple.router import (
    DEVICE_LOG_MAX_BODY_BYTES,
    DEVICE_LOG_PATH,
    download_router,
    passkit_router,
)
from wallet_service.apple.router import logs_router as passkit_logs_router
from wallet_service.clock import Clock, SystemClock
from wallet_service.config import Settings, get_settings
from wallet_service.db.session import create_engine_for, create_session_factory
from wallet_service.dispatcher.runner import build_dispatcher, running
from wallet_service.google.callbacks import GoogleRootKeys
from wallet_service.google.client import GOOGLE_TIMEOUT
from wallet_service.google.router import router as google_router
from wallet_service.google.wallet import GoogleWallet
from wallet_service.health import certificate_status
from wallet_service.health import router as health_router
from wallet_service.http.access_log import install_access_log_redaction
from wallet_service.http.body_limit import BodyLimit
from wallet_service.http.problems import install_problem_handlers
from wallet_service.links import MemberLinks
from wallet_service.rate_limits.counters import counters_for
from wallet_service.rate_limits.limiter import RateLimiter
from wallet_service.rate_limits.lockout import LoginLockout
from wallet_service.scanning.batcher import ScanBatcher
from wallet_service.scanning.router import router as scanning_router
from wallet_service.security.api_keys import RecentKeys
from wallet_service.security.keys import KeyRing
from wallet_service.security.tokens import TokenKeys
from wallet_service.web import mount_web

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` (the machine's by default) gives every request its "now"."""
    settings = settings or get_settings()
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # uvicorn has set its logging up by now (it builds the app after), in every worker.
    install_access_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(settings.resolved_database_url)
        app.state.engine = engine
        ledgers = LedgerCache(settings.ledger_cache_transactions)
        app.state.session_factory = create_session_factory(engine, clock, sharing(ledgers))
        app.state.scan_batcher = ScanBatcher(app.state.session_factory)
        certificate_status(settings, clock.now())  # warns at start-up too when expiry is near
        app.state.delivery = build_dispatcher(
            settings, app.state.session_factory, clock, app.state.google
        )
        try:
            if settings.dispatch_in_api:
                async with running(app.state.delivery):
                    yield
            else:
                yield
        finally:
            await app.state.delivery.aclose()
            await app.state.scan_batcher.close()
            await app.state.google.http.aclose()
            await app.state.google.aclose()
            await app.state.rate_limiter.counters.close()
            await app.state.login_lockout.counters.close()
            await engine.dispose()

    app = FastAPI(
        title="Wallet loyalty service",
        version=__version__,
        description="Loyalty programs carried as live Apple Wallet and Google Wallet passes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    master_key = settings.signing_key()
    app.state.token_keys = TokenKeys(master_key, settings.retired_signing_keys())
    retired = settings.retired_signing_keys()
    app.state.barcode_keys = KeyRing.derive(master_key, retired, "barcode-token")
    app.state.links = MemberLinks.from_settings(settings)
    app.state.recent_api_keys = RecentKeys(clock)
    # Two stores: a flood of rate-limit keys must never push a lockout out of memory.
    enabled = settings.rate_limits_enabled
    app.state.rate_limiter = RateLimiter(
        counters_for(settings.redis_url, clock), clock, enabled=enabled
    )
    app.state.login_lockout = LoginLockout(
        counters_for(settings.redis_url, clock, prefix="wallet:lockout:"), clock, enabled=enabled
    )
    app.state.apple = load_apple_issuer(settings)
    app.state.google = GoogleWallet.from_settings(
        settings, httpx.AsyncClient(timeout=GOOGLE_TIMEOUT), clock
    )
    # Shares the Google client's connections (closed with it at shutdown).
    app.state.google_callback_keys = GoogleRootKeys(
        settings.google_callback_keys_url, app.state.google.http, clock
    )
    install_problem_handlers(app)
    # Outside the routes (which read the body before authenticating): 413 before parsing.
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        routes={("POST", DEVICE_LOG_PATH): DEVICE_LOG_MAX_BODY_BYTES},
    )
    app.include_router(health_router)
    app.include_router(api_router)
    # The till's and the devices' routes live with their contexts, under the same prefix.
    app.include_router(scanning_router, prefix=API_PREFIX)
    app.include_router(passkit_logs_router, prefix=API_PREFIX)
    app.include_router(passkit_router)
    app.include_router(download_router)
    app.include_router(google_router)
    mount_web(app)
    return app

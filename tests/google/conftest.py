"""Fixtures for the Google Wallet tests: a local stand-in for Google, and a key it trusts.

One stand-in server runs per session; ``google_standin`` hands each test the running server with
a clean state (no classes, objects, calls, tokens, trusted keys or injected failures).
``service_account_info`` is a service-account key file (as a dict) whose ``token_uri`` is the
stand-in's and whose key the stand-in trusts for this test. ``google`` is the app's Google
Wallet side pointed at the stand-in (its request throttle waits on the test clock, see
``google_sleep``), and ``tenant`` a merchant with an issuer account there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, deliver
from tests.google.issuer import on_google_wallet
from tests.google.standin import GoogleStandIn, service_account_key
from tests.sleeping import ClockSleep
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.dispatcher.loop import DispatchReport
from wallet_service.dispatcher.runner import build_dispatcher
from wallet_service.google.wallet import GoogleWallet


@pytest.fixture(scope="session")
def google_standin_server() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture
def google_standin(google_standin_server: GoogleStandIn) -> Iterator[GoogleStandIn]:
    google_standin_server.reset()
    yield google_standin_server
    google_standin_server.reset()


@pytest.fixture(scope="session")
def google_service_account_key(
    google_standin_server: GoogleStandIn,
) -> tuple[dict[str, str], rsa.RSAPublicKey]:
    # RSA key generation is the slow part; one key serves the whole session.
    return service_account_key(google_standin_server.token_uri)


@pytest.fixture
def service_account_info(
    google_standin: GoogleStandIn,
    google_service_account_key: tuple[dict[str, str], rsa.RSAPublicKey],
) -> dict[str, str]:
    info, public_key = google_service_account_key
    google_standin.trust(info["client_email"], public_key)
    return dict(info)


@pytest.fixture
def google_sleep(clock: ManualClock) -> ClockSleep:
    """How the ``google`` fixture's request throttle waits: by moving the test clock."""
    return ClockSleep(clock)


@pytest.fixture
async def google(
    app: FastAPI, settings: Settings, google_standin: GoogleStandIn, google_sleep: ClockSleep
) -> AsyncIterator[GoogleWallet]:
    """The app's Google Wallet side, talking to the stand-in instead of Google."""
    standin_settings = settings.model_copy(
        update={"google_wallet_api_url": google_standin.api_root}
    )
    async with httpx.AsyncClient(trust_env=False) as http:
        wallet = GoogleWallet.from_settings(
            standin_settings, http, app.state.clock, sleep=google_sleep
        )
        production = app.state.google
        app.state.google = wallet
        try:
            yield wallet
        finally:
            app.state.google = production
            await wallet.aclose()


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    google: GoogleWallet,
    service_account_info: dict[str, str],
    tmp_path: Path,
) -> Tenant:
    """A merchant on Google Wallet: its issuer account, with a key the stand-in trusts."""
    return await on_google_wallet(session_factory, client, settings, service_account_info, tmp_path)


Outbox = Callable[[], Awaitable[DispatchReport]]


@pytest.fixture
async def outbox(
    app: FastAPI, settings: Settings, google: GoogleWallet, clock: ManualClock
) -> AsyncIterator[Outbox]:
    """Deliver what the outbox holds, through the stand-in (as the dispatcher would)."""
    delivery = build_dispatcher(settings, app.state.session_factory, clock, google)
    try:
        yield lambda: deliver(delivery.dispatcher, clock)
    finally:
        await delivery.aclose()

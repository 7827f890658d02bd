"""Fixtures shared by the whole suite.

Database tests run twice, on SQLite and on PostgreSQL (``backend`` is parametrised at session
scope). Each backend gets a fresh database migrated with Alembic once; after every test all
rows are deleted, so tests see an empty database and can use real concurrent connections.

Time is pinned: the app runs on a ``ManualClock`` set back to ``SUITE_NOW`` before every
test (``WALLET_TEST_NOW`` overrides it, as the awkward-date runs do), so no test depends on
the day it runs, and a test that needs time to pass advances the clock instead of sleeping.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.dev import generate_dev_chain
from tests.factories import AppWith
from wallet_service.app import create_app
from wallet_service.clock import ManualClock
from wallet_service.config import Environment, Settings
from wallet_service.db import migrate
from wallet_service.db.base import Base
from wallet_service.rate_limits.counters import CountersUnavailable

SUITE_NOW = datetime.fromisoformat(os.environ.get("WALLET_TEST_NOW", "2026-11-10T10:00:00+00:00"))
POSTGRES_ADMIN_URL = os.environ.get(
    "WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'wallet.db'}"
        migrate.upgrade(url)
        yield url
        return
    name = f"wallet_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


PASS_TYPE_ID = "pass.test.wallet-service.loyalty"
TEAM_ID = "TESTTEAM42"


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        public_url="https://wallet.test",
        secret_key="test-secret-key-for-the-suite-only-0123456789",  # type: ignore[arg-type]
        # The tests drive the dispatcher themselves (app.state.delivery), on the suite's clock.
        dispatch_in_api=False,
    )
    generate_dev_chain(settings.certificates_dir, PASS_TYPE_ID, TEAM_ID)
    return settings


@pytest.fixture(scope="session")
def suite_clock() -> ManualClock:
    return ManualClock(SUITE_NOW)


@pytest.fixture(autouse=True)
def clock(suite_clock: ManualClock) -> ManualClock:
    """The app's clock, back at ``SUITE_NOW``: advance or set it to let time pass."""
    suite_clock.set(SUITE_NOW)
    return suite_clock


@pytest.fixture(scope="session")
async def app(settings: Settings, suite_clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=suite_clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=False)
async def clean_database(app: FastAPI) -> AsyncIterator[None]:
    # Rate-limit counters are keyed by the clock's window, which every test resets.
    await app.state.rate_limiter.counters.clear()
    await app.state.login_lockout.counters.clear()
    yield
    async with app.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
async def client(app: FastAPI, clean_database: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://wallet.test") as http:
        yield http


@pytest.fixture
def app_with(settings: Settings, clock: ManualClock, clean_database: None) -> AppWith:
    """An app on the suite's database and clock, with some settings changed."""

    @asynccontextmanager
    async def build(**changes: Any) -> AsyncIterator[FastAPI]:
        changed = Settings.model_validate({**settings.model_dump(), **changes})
        app = create_app(changed, clock=clock)
        async with app.router.lifespan_context(app):
            with contextlib.suppress(CountersUnavailable):  # an app built with Redis down
                await app.state.rate_limiter.counters.clear()
                await app.state.login_lockout.counters.clear()
            yield app

    return build


@pytest.fixture
def session_factory(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.session_factory
    return factory


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent

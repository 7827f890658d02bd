"""The SQLite database and its -wal/-shm/-journal companions are readable by their owner only.

They hold members' names, emails and birthdays, staff password hashes and API key hashes:
another account on the machine must not read them, whatever the process's umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SUITE_NOW
from tests.factories import make_tenant
from wallet_service.app import create_app
from wallet_service.clock import ManualClock
from wallet_service.config import Environment, Settings
from wallet_service.db import migrate


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default: new files world-readable
    try:
        yield
    finally:
        os.umask(previous)


def _modes(directory: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.glob("wallet.db*")}


async def test_a_fresh_database_migrated_and_used_by_the_app_is_owner_only(
    tmp_path: Path, permissive_umask: None
) -> None:
    url = f"sqlite:///{tmp_path / 'wallet.db'}"
    migrate.upgrade(url)
    assert _modes(tmp_path) == {"wallet.db": 0o600}
    settings = Settings(
        environment=Environment.test,
        database_url=url,
        data_dir=tmp_path,
        secret_key="sqlite-mode-test-secret-0123456789abcdef",  # type: ignore[arg-type]
    )
    app = create_app(settings, ManualClock(SUITE_NOW))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://wallet.test") as http:
            await make_tenant(app.state.session_factory, http)  # writes through the WAL
        modes = _modes(tmp_path)
    assert {"wallet.db", "wallet.db-wal", "wallet.db-shm"} <= modes.keys()
    assert set(modes.values()) == {0o600}, modes


def test_a_database_left_world_readable_by_an_older_version_is_tightened(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "wallet.db"
    sqlite3.connect(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    migrate.upgrade(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

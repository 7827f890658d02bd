"""Migration 0003 narrows the scopes of POS keys already in the database: a till keeps
looking cards up and scanning, and no stored key keeps the customer list by accident."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ADMIN_URL
from wallet_service.db import migrate
from wallet_service.db.session import sync_url

OLD_DEFAULT = ["members:read", "members:write", "programs:read", "scans:write", "stores:read"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"wallet_migration_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_stored_keys_lose_the_customer_list_and_keep_the_till(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0002")
    merchant_id = uuid.uuid4()
    keys = {
        "default": OLD_DEFAULT,
        "lookup and scans": ["members:read", "scans:write"],
        "shop": ["members:write", "scans:write"],
        "reports": ["members:read", "programs:read"],
    }
    engine = create_engine(sync_url(empty_database))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO merchant (id, name, slug, created_at) "
                    "VALUES (:id, 'Shop', 'shop', CURRENT_TIMESTAMP)"
                ),
                {"id": merchant_id.hex if "sqlite" in empty_database else str(merchant_id)},
            )
            for i, (name, scopes) in enumerate(keys.items()):
                connection.execute(
                    text(
                        "INSERT INTO api_key (id, merchant_id, name, prefix, secret_hash, scopes,"
                        " created_at) VALUES (:id, :merchant, :name, :prefix, 'x', :scopes,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": uuid.uuid4().hex if "sqlite" in empty_database else str(uuid.uuid4()),
                        "merchant": (
                            merchant_id.hex if "sqlite" in empty_database else str(merchant_id)
                        ),
                        "name": name,
                        "prefix": f"p{i}",
                        "scopes": json.dumps(scopes),
                    },
                )
        migrate.upgrade(empty_database)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, scopes FROM api_key")).all()
    finally:
        engine.dispose()
    scopes = {name: json.loads(s) if isinstance(s, str) else s for name, s in rows}
    assert scopes == {
        "default": ["cards:lookup", "scans:write"],
        "lookup and scans": ["cards:lookup", "scans:write"],
        "shop": ["members:write", "scans:write"],
        "reports": ["cards:lookup", "programs:read"],
    }

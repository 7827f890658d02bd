"""Migrations build the whole schema on an empty SQLite and PostgreSQL database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from wallet_service.db.base import Base
from wallet_service.db.session import sync_url


def test_migrated_schema_matches_the_models_exactly(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


# Tables of the service, not of a tenant: the merchants, and the one-row change counter
# behind PassKit's update tags (see wallet_service/push/changes.py).
NOT_TENANT_TABLES = {"merchant", "pass_change_counter"}


def test_every_tenant_table_carries_merchant_id() -> None:
    for name, table in Base.metadata.tables.items():
        if name not in NOT_TENANT_TABLES:
            assert "merchant_id" in table.columns, name

"""Alembic environment: migrates the database named by the service settings (or -x url=...)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from wallet_service.config import get_settings
from wallet_service.db import models  # noqa: F401 - registers every table on the metadata
from wallet_service.db.base import Base
from wallet_service.db.session import install_sqlite_hooks, sync_url

config = context.config
url = config.attributes.get("database_url") or get_settings().resolved_database_url
engine = create_engine(sync_url(url), poolclass=pool.NullPool, hide_parameters=True)
if engine.dialect.name == "sqlite":
    install_sqlite_hooks(engine)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()

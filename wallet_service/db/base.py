"""Declarative base and the column types every model shares.

Timestamps are stored as naive UTC and always handed back timezone-aware, because SQLite
has no timezone type and PostgreSQL must not depend on the server's zone. Default timestamps
(``created_at`` and the like) come from the clock the session factory bound to its engine
(:func:`~wallet_service.db.session.create_session_factory`), never from the machine's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, Uuid
from sqlalchemy.engine import Dialect, ExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["CLOCK_OPTION", "Base", "TenantMixin", "UTCDateTime", "clock_now"]

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The execution option under which an engine carries its clock.
CLOCK_OPTION = "wallet_clock"


def clock_now(context: ExecutionContext) -> datetime:
    """Column default: "now" from the clock bound to the statement's engine."""
    clock = context.execution_options.get(CLOCK_OPTION)
    if clock is None:
        raise RuntimeError(
            "no clock is bound to this engine: build sessions with create_session_factory()"
        )
    now: datetime = clock.now()
    return now


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=clock_now)


class TenantMixin:
    """Every tenant row names its merchant: the distribution column and the scope of every query."""

    @declared_attr
    def merchant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - SQLAlchemy's declared_attr signature
        return mapped_column(ForeignKey("merchant.id", ondelete="CASCADE"), index=True)

"""Engines and sessions.

URLs are given in their plain form (``sqlite:///path``, ``postgresql://...``) and mapped
here to the async driver the app uses and the sync driver Alembic uses.

SQLite transactions start with ``BEGIN IMMEDIATE``: SQLite has no row locks, so the
write lock is taken up front and concurrent balance changes queue instead of failing when a
read transaction tries to upgrade. Within one process they queue on a pool of a single
connection (first come, first served, no polling); other processes (the worker, the CLI)
wait on SQLite's ``busy_timeout``, which retries by sleeping.

Nothing runs "after the commit": work for the outside world is an outbox row written in
the transaction itself (:mod:`wallet_service.push`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from wallet_service.clock import Clock
from wallet_service.db.base import CLOCK_OPTION

__all__ = [
    "bound_clock",
    "create_engine_for",
    "create_session_factory",
    "session_scope",
    "sync_url",
]

logger = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _driver_url(url: str, *, asynchronous: bool) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    if backend == "postgresql":
        # psycopg 3 speaks both sync and async under one dialect name.
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql")


def sync_url(url: str) -> URL:
    """The URL for synchronous tools (Alembic)."""
    return _driver_url(url, asynchronous=False)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def private_sqlite_file(database: str | None) -> None:
    """Make the SQLite file at ``database`` owner-only (0600) before SQLite opens it.

    The file holds personal data and password hashes. SQLite creates it with 0644 less the
    umask, and gives its -wal/-shm/-journal files the database file's mode, so creating the
    database 0600 first covers all of them. Files an older version left readable are
    tightened. In-memory databases and a missing directory (SQLite reports it) are left be.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    for companion in (path.with_name(path.name + suffix) for suffix in _SQLITE_COMPANIONS):
        try:
            if companion.stat().st_mode & 0o077:
                companion.chmod(SQLITE_FILE_MODE)
        except FileNotFoundError:
            continue
        except PermissionError:
            logger.warning("%s is readable by others and not ours to change", companion)


def install_sqlite_hooks(sync_engine: Any) -> None:
    """Pragmas, ``BEGIN IMMEDIATE`` and an owner-only file for a (sync face of an) SQLite
    engine."""
    database = sync_engine.url.database

    def before_connect(*_: Any) -> None:
        # Before every new connection, as SQLite creates the file on its first open. Returns
        # nothing, so SQLAlchemy goes on to connect as usual.
        private_sqlite_file(database)

    event.listen(sync_engine, "do_connect", before_connect)
    event.listen(sync_engine, "connect", _configure_sqlite)
    event.listen(sync_engine, "begin", _begin_immediate)


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    # Bound parameters hold personal data and password hashes: keep them out of error logs.
    kwargs.setdefault("hide_parameters", True)
    driver_url = _driver_url(url, asynchronous=True)
    if driver_url.get_backend_name() == "sqlite":
        # Every transaction takes the one write lock anyway; more connections would only
        # poll for it (busy_timeout sleeps), which under load made latency seconds long.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_async_engine(driver_url, **kwargs)
        install_sqlite_hooks(engine.sync_engine)
        return engine
    # No overflow: an overflow connection is closed when returned, and under load opening
    # PostgreSQL connections (a new backend process each) cost more than the scans did.
    # Requests wait for one of these instead (too long a wait answers 503 database_busy).
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(driver_url, **kwargs)


def create_session_factory(
    engine: AsyncEngine, clock: Clock, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine`` whose default timestamps come from ``clock``; ``info`` is
    shared by every session (e.g. a process-wide cache)."""
    # The clock rides on the engine's execution options, where column defaults can read it.
    bound = engine.execution_options(**{CLOCK_OPTION: clock})
    # expire_on_commit=False: responses are built from rows after the transaction ends.
    return async_sessionmaker(bound, expire_on_commit=False, autoflush=False, info=info)


def bound_clock(factory: async_sessionmaker[AsyncSession]) -> Clock:
    """The clock whose time ``factory``'s sessions stamp rows with."""
    clock: Clock = factory.kw["bind"].get_execution_options()[CLOCK_OPTION]
    return clock


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    async with factory() as session, session.begin():
        yield session

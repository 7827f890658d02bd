"""Upgrading keeps the answers stored for retries, each now under its caller and member."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import POSTGRES_ADMIN_URL
from wallet_service.clock import ManualClock
from wallet_service.db import migrate
from wallet_service.db.base import CLOCK_OPTION, Base
from wallet_service.db.session import sync_url

NOW = datetime(2026, 11, 10, 10, tzinfo=UTC)
# The table as revision 0002 left it: the caller inside the key.
_OLD_RECORDS = sa.table(
    "idempotency_record",
    sa.column("id", sa.Uuid()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("request_fingerprint", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("response_body", sa.JSON()),
    sa.column("created_at", sa.DateTime()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"wallet_migration_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sync_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert(connection: sa.Connection, table: str, **values: Any) -> uuid.UUID:
    row = {"id": uuid.uuid4(), "created_at": NOW, **values}
    # The table as it was at this revision: today's columns that it already had.
    existing = {column["name"] for column in sa.inspect(connection).get_columns(table)}
    columns = [c._copy() for c in Base.metadata.tables[table].columns if c.name in existing]
    connection.execute(sa.insert(sa.Table(table, sa.MetaData(), *columns)), row)
    identifier: uuid.UUID = row["id"]
    return identifier


def _record(connection: sa.Connection, merchant: uuid.UUID, key: str, body: Any) -> None:
    connection.execute(
        sa.insert(_OLD_RECORDS),
        {
            "id": uuid.uuid4(),
            "merchant_id": merchant,
            "key": key,
            "request_fingerprint": "f" * 64,
            "status_code": 201,
            "response_body": body,
            "created_at": NOW,
        },
    )


def test_upgrading_moves_each_stored_answer_under_its_caller_and_member(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database, "0002")
    engine = sa.create_engine(sync_url(empty_database)).execution_options(
        **{CLOCK_OPTION: ManualClock(NOW)}
    )
    try:
        with engine.begin() as connection:
            merchant = _insert(connection, "merchant", name="Shop", slug=uuid.uuid4().hex)
            program = _insert(
                connection, "program", merchant_id=merchant, name="Rewards", currency="EUR"
            )
            member = _insert(
                connection,
                "member",
                merchant_id=merchant,
                program_id=program,
                serial_number=str(uuid.uuid4()),
            )
            till = _insert(
                connection,
                "api_key",
                merchant_id=merchant,
                name="till",
                prefix="wsk_abc",
                secret_hash="x",
            )
            cashier = uuid.uuid4()
            order = _insert(
                connection,
                "ledger_transaction",
                merchant_id=merchant,
                member_id=member,
                position=0,
                kind="earn",
                occurred_at=NOW,
                api_key_id=till,
            )
            scan = {"transaction_id": str(order), "member": {"id": str(member), "name": "C"}}
            _record(connection, merchant, f"{till}:receipt-1", scan)
            _record(connection, merchant, f"{cashier}:receipt-1", {"id": str(member)})
            _record(connection, merchant, "online-order:WEB-1", scan)
            # An order whose transaction is unknown: no caller to give it to.
            _record(connection, merchant, "online-order:WEB-2", {"transaction_id": "nope"})

        migrate.upgrade(empty_database)
        records = Base.metadata.tables["idempotency_record"]
        query = sa.select(records.c.caller_id, records.c.key, records.c.member_id)
        with engine.connect() as connection:
            rows = set(connection.execute(query).all())
        assert rows == {
            (till, "receipt-1", member),
            (cashier, "receipt-1", member),
            (till, "online-order:WEB-1", member),
        }

        command.downgrade(migrate.alembic_config(empty_database), "0002")
        with engine.connect() as connection:
            keys = set(connection.execute(sa.select(_OLD_RECORDS.c.key)).scalars())
        assert keys == {f"{till}:receipt-1", f"{cashier}:receipt-1", f"{till}:online-order:WEB-1"}
        migrate.upgrade(empty_database)
        with engine.connect() as connection:
            assert set(connection.execute(query).all()) == rows
    finally:
        engine.dispose()

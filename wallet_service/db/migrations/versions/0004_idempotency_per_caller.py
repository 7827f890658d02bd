"""idempotency records: keyed per caller (merchant, caller, key), and naming the member
each answer is about (erasure blanks it)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00

Records used to keep the caller in the key (``<caller id>:<key>``), except online order
ids (``online-order:<id>``), which any caller of the merchant shared. The caller moves to
its own column; an online order's record goes to the caller of its ledger transaction, and
is dropped when that caller is gone (no one can retry as them any more).
"""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_records = sa.table(
    "idempotency_record",
    sa.column("id", sa.Uuid()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("caller_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("member_id", sa.Uuid()),
    sa.column("response_body", sa.JSON()),
)
_transactions = sa.table(
    "ledger_transaction",
    sa.column("id", sa.Uuid()),
    sa.column("staff_user_id", sa.Uuid()),
    sa.column("api_key_id", sa.Uuid()),
)
_members = sa.table("member", sa.column("id", sa.Uuid()))


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _member_of(body: Any) -> uuid.UUID | None:
    """The member an answer is about: a scan's ``member``, or the enrolled member itself."""
    if not isinstance(body, dict):
        return None
    member = body.get("member")
    return _uuid(member.get("id") if isinstance(member, dict) else body.get("id"))


def _caller_of_transaction(connection: sa.Connection, body: Any) -> uuid.UUID | None:
    found = _uuid(body.get("transaction_id")) if isinstance(body, dict) else None
    if found is None:
        return None
    row = connection.execute(
        sa.select(_transactions.c.api_key_id, _transactions.c.staff_user_id).where(
            _transactions.c.id == found
        )
    ).one_or_none()
    return None if row is None else row.api_key_id or row.staff_user_id


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("caller_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("member_id", sa.Uuid(), nullable=True))
        batch.drop_constraint("uq_idempotency_record_merchant_id_key", type_="unique")

    connection = op.get_bind()
    moved: list[dict[str, Any]] = []
    orphans: list[dict[str, Any]] = []
    for row in connection.execute(
        sa.select(_records.c.id, _records.c.key, _records.c.response_body)
    ):
        prefix, _, rest = row.key.partition(":")
        caller = _uuid(prefix) if rest else None
        key = rest if caller is not None else row.key
        if caller is None:  # an online order id, shared by the merchant's callers until now
            caller = _caller_of_transaction(connection, row.response_body)
        if caller is None:
            orphans.append({"record_id": row.id})
            continue
        moved.append(
            {
                "record_id": row.id,
                "caller": caller,
                "new_key": key,
                "member": _member_of(row.response_body),
            }
        )
    if orphans:
        connection.execute(
            sa.delete(_records).where(_records.c.id == sa.bindparam("record_id")), orphans
        )
    if moved:
        existing_member = (
            sa.select(_members.c.id)
            .where(_members.c.id == sa.bindparam("member", type_=sa.Uuid()))
            .scalar_subquery()
        )
        connection.execute(
            sa.update(_records)
            .where(_records.c.id == sa.bindparam("record_id"))
            .values(
                caller_id=sa.bindparam("caller"),
                key=sa.bindparam("new_key"),
                member_id=existing_member,
            ),
            moved,
        )

    with op.batch_alter_table("idempotency_record") as batch:
        batch.alter_column("caller_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_unique_constraint(
            "uq_idempotency_record_merchant_id_caller_id_key", ["merchant_id", "caller_id", "key"]
        )
        batch.create_foreign_key(
            "fk_idempotency_record_member_id_member",
            "member",
            ["member_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_idempotency_record_member_id", ["member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_index("ix_idempotency_record_member_id")
        batch.drop_constraint("fk_idempotency_record_member_id_member", type_="foreignkey")
        batch.drop_constraint("uq_idempotency_record_merchant_id_caller_id_key", type_="unique")
    # Back to the caller inside the key. Too long for the old column: dropped (it then
    # guards nothing any more, as if purged early).
    connection = op.get_bind()
    rows = connection.execute(sa.select(_records.c.id, _records.c.caller_id, _records.c.key)).all()
    keep = [
        {"record_id": r.id, "new_key": f"{r.caller_id}:{r.key}"}
        for r in rows
        if len(f"{r.caller_id}:{r.key}") <= 255
    ]
    dropped = [{"record_id": r.id} for r in rows if len(f"{r.caller_id}:{r.key}") > 255]
    if dropped:
        connection.execute(
            sa.delete(_records).where(_records.c.id == sa.bindparam("record_id")), dropped
        )
    if keep:
        connection.execute(
            sa.update(_records)
            .where(_records.c.id == sa.bindparam("record_id"))
            .values(key=sa.bindparam("new_key")),
            keep,
        )
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_column("member_id")
        batch.drop_column("caller_id")
        batch.create_unique_constraint(
            "uq_idempotency_record_merchant_id_key", ["merchant_id", "key"]
        )

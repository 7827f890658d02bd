"""outbox: transactional outbox, exact PassKit change sequence, APNs certificate refusals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wallet_service.db.base import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pass_change_counter",
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_change_counter")),
    )
    op.create_table(
        "outbox_message",
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_outbox_message_merchant_id_merchant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    op.create_index(
        op.f("ix_outbox_message_available_at"), "outbox_message", ["available_at"], unique=False
    )
    op.create_index(op.f("ix_outbox_message_dead_at"), "outbox_message", ["dead_at"], unique=False)
    op.create_index(
        op.f("ix_outbox_message_merchant_id"), "outbox_message", ["merchant_id"], unique=False
    )
    op.create_index(
        "ix_outbox_message_topic_subject", "outbox_message", ["topic", "subject"], unique=False
    )
    op.add_column(
        "member", sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_index(op.f("ix_member_change_seq"), "member", ["change_seq"], unique=False)
    op.add_column("merchant", sa.Column("apns_refused_at", UTCDateTime(), nullable=True))
    op.add_column(
        "merchant", sa.Column("apns_refused_certificate", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), not batch mode: recreating ``member``
    # would drop it first, and its foreign keys would cascade the delete to other tables.
    op.drop_column("merchant", "apns_refused_certificate")
    op.drop_column("merchant", "apns_refused_at")
    op.drop_index(op.f("ix_member_change_seq"), table_name="member")
    op.drop_column("member", "change_seq")
    op.drop_index("ix_outbox_message_topic_subject", table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_merchant_id"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_dead_at"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_available_at"), table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("pass_change_counter")

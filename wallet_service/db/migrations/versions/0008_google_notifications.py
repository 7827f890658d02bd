"""google notifications: the notifications Google accepted per pass, for its 3-per-24-hours
budget

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wallet_service.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "google_notification",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", wallet_service.db.base.UTCDateTime(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wallet_service.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_google_notification_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_google_notification_merchant_id_merchant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_notification")),
    )
    with op.batch_alter_table("google_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_google_notification_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_google_notification_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("google_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_google_notification_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_google_notification_member_id"))
    op.drop_table("google_notification")

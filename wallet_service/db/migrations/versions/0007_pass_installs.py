"""pass installs: cards added to and removed from wallets (Apple registrations, Google
save/delete callbacks, de-duplicated on Google's nonce)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wallet_service.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pass_install_event",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "platform",
            sa.Enum("apple", "google", name="passplatform", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "event",
            sa.Enum("installed", "removed", name="installevent", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("occurred_at", wallet_service.db.base.UTCDateTime(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("device_library_identifier", sa.String(length=128), nullable=True),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wallet_service.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_pass_install_event_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_pass_install_event_merchant_id_merchant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_install_event")),
        sa.UniqueConstraint(
            "merchant_id", "nonce", name=op.f("uq_pass_install_event_merchant_id_nonce")
        ),
    )
    with op.batch_alter_table("pass_install_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pass_install_event_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pass_install_event_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pass_install_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pass_install_event_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_pass_install_event_member_id"))
    op.drop_table("pass_install_event")

"""google wallet: rotating barcodes per program; per member, the last pass version sent and
when Google last refused the card

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wallet_service.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("program") as batch:
        batch.add_column(
            sa.Column("rotating_barcode", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("google_pass_version", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("google_refused_at", wallet_service.db.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.drop_column("google_refused_at")
        batch.drop_column("google_pass_version")
    with op.batch_alter_table("program") as batch:
        batch.drop_column("rotating_barcode")

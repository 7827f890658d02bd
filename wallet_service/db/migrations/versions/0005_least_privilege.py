"""least privilege: staff emails unique per merchant; stored POS key scopes narrowed to the
new split (cards:lookup, members:erase)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What POST /api-keys gave a key that named no scopes, before this revision.
OLD_DEFAULT = frozenset(
    {"members:read", "members:write", "programs:read", "scans:write", "stores:read"}
)
NEW_DEFAULT = ["cards:lookup", "scans:write"]

_api_key = sa.table("api_key", sa.column("id", sa.Uuid()), sa.column("scopes", sa.JSON()))
_staff = sa.table("staff_user", sa.column("role", sa.String(32)))


def narrowed(scopes: list[str]) -> list[str]:
    """A stored key's scopes under the new split, never wider than before.

    ``members:read`` used to be needed to look a card up, so holding it says nothing about
    wanting the customer list: it becomes ``cards:lookup``. A key that took the old defaults
    becomes a till (lookup + scans). Other scopes its owner chose (``members:write``,
    ``programs:read``, ``stores:read``) are kept; erasure is a new scope nobody holds yet.
    """
    if set(scopes) == OLD_DEFAULT:
        return list(NEW_DEFAULT)
    kept = set(scopes)
    if "members:read" in kept:
        kept.discard("members:read")
        kept.add("cards:lookup")
    return sorted(kept)


def widened(scopes: list[str]) -> list[str]:
    """The reverse mapping, for a downgrade: the old code knows no lookup or erase scope."""
    renamed = {"cards:lookup": "members:read", "members:erase": "members:write"}
    return sorted({renamed.get(s, s) for s in scopes})


def _rewrite_scopes(mapping: Callable[[list[str]], list[str]]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_api_key.c.id, _api_key.c.scopes)).all()
    for key_id, scopes in rows:
        new = mapping(list(scopes or []))
        if new != list(scopes or []):
            connection.execute(
                sa.update(_api_key).where(_api_key.c.id == key_id).values(scopes=new)
            )


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_constraint("uq_staff_user_email", type_="unique")
        batch.create_unique_constraint("uq_staff_user_merchant_id_email", ["merchant_id", "email"])
    _rewrite_scopes(narrowed)


def downgrade() -> None:
    _rewrite_scopes(widened)
    # The old code has no manager role: the nearest it knows without erasure.
    op.execute(sa.update(_staff).where(_staff.c.role == "manager").values(role="cashier"))
    # Fails if one email now has accounts at two merchants: decide which to keep first.
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_constraint("uq_staff_user_merchant_id_email", type_="unique")
        batch.create_unique_constraint("uq_staff_user_email", ["email"])

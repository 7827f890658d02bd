"""Roles, permissions and the table joining them: the one place that says who may do what.

Staff carry a role; POS API keys carry a list of permissions (their scopes). Routers ask for a
permission, never for a role, so a new role is one line here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["API_KEY_PERMISSIONS", "ROLE_PERMISSIONS", "Permission", "Role"]


class Role(StrEnum):
    owner = "owner"
    marketer = "marketer"
    cashier = "cashier"


class Permission(StrEnum):
    merchant_read = "merchant:read"
    merchant_write = "merchant:write"
    staff_manage = "staff:manage"
    api_keys_manage = "api_keys:manage"
    programs_read = "programs:read"
    programs_write = "programs:write"
    stores_read = "stores:read"
    stores_write = "stores:write"
    members_read = "members:read"
    members_write = "members:write"
    scans_write = "scans:write"


_READ_ALL = {
    Permission.merchant_read,
    Permission.programs_read,
    Permission.stores_read,
    Permission.members_read,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    Role.marketer: frozenset(
        _READ_ALL
        | {
            Permission.programs_write,
            Permission.stores_write,
            Permission.members_write,
        }
    ),
    Role.cashier: frozenset(
        {Permission.programs_read, Permission.stores_read, Permission.members_read}
        | {Permission.members_write, Permission.scans_write}
    ),
}

# What a POS integration may be granted: till and e-commerce work, never administration.
API_KEY_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        Permission.programs_read,
        Permission.stores_read,
        Permission.members_read,
        Permission.members_write,
        Permission.scans_write,
    }
)

"""Roles, permissions and the table joining them: the one place that says who may do what.

Staff carry a role; POS API keys carry a list of permissions (their scopes). Routers ask for a
permission, never for a role, so a new role is one line here.

Least privilege at the till: a cashier, and a POS key created without explicit scopes, may
look a card up by its barcode and post scans, redemptions and reversals, and nothing more.
The customer base (listing members, reading one member's details, the private card and pass
links) and erasure belong to owners and managers, or to a key given the scope explicitly.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "API_KEY_PERMISSIONS",
    "DEFAULT_API_KEY_PERMISSIONS",
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
]


class Role(StrEnum):
    owner = "owner"
    manager = "manager"
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
    # One card, found by the barcode the customer shows: what a till needs, not the list.
    cards_lookup = "cards:lookup"
    # The customer base: list members, read one (name, email, birthday, private links).
    members_read = "members:read"
    # Enrol, cancel, record consents.
    members_write = "members:write"
    # Right to erasure: irreversible, so a scope of its own.
    members_erase = "members:erase"
    # Scans, redemptions and their reversals.
    scans_write = "scans:write"
    # Deliveries that ran out of attempts (pushes, Google writes): read them, retry them.
    outbox_manage = "outbox:manage"
    # Webhook endpoints (where the merchant's events go), their secrets and delivery log.
    webhooks_manage = "webhooks:manage"


_TILL = frozenset({Permission.cards_lookup, Permission.scans_write})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    # Runs the stores and their customers; administration (staff, keys, the merchant's
    # settings) stays with owners, so a manager cannot promote anyone, themselves included.
    Role.manager: _TILL
    | {
        Permission.merchant_read,
        Permission.programs_read,
        Permission.stores_read,
        Permission.members_read,
        Permission.members_write,
        Permission.members_erase,
    },
    # Shapes programs and stores; the customer base is not theirs to page through.
    Role.marketer: frozenset(
        {
            Permission.merchant_read,
            Permission.programs_read,
            Permission.programs_write,
            Permission.stores_read,
            Permission.stores_write,
        }
    ),
    Role.cashier: _TILL,
}

# What a POS key gets when its creator names no scopes: a till.
DEFAULT_API_KEY_PERMISSIONS: frozenset[Permission] = _TILL

# What a POS key may be given explicitly (an e-commerce back end enrols, a CRM sync reads):
# till and customer work, never administration.
API_KEY_PERMISSIONS: frozenset[Permission] = _TILL | {
    Permission.programs_read,
    Permission.stores_read,
    Permission.members_read,
    Permission.members_write,
    Permission.members_erase,
}

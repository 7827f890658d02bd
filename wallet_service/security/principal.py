"""Who is calling, and the tenant scope that every tenant query requires.

``MerchantScope`` is produced by the authentication dependency only; repository functions
take it instead of a bare merchant id, so an unscoped tenant query does not type-check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from wallet_service.security.permissions import Permission, Role

__all__ = ["MerchantScope", "Principal", "PrincipalKind"]


@dataclass(frozen=True, slots=True)
class MerchantScope:
    merchant_id: uuid.UUID


class PrincipalKind(StrEnum):
    staff = "staff"
    api_key = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: uuid.UUID
    scope: MerchantScope
    permissions: frozenset[Permission]
    role: Role | None = None
    # A cashier or a POS key bound to one store may only act there.
    store_id: uuid.UUID | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def staff_user_id(self) -> uuid.UUID | None:
        return self.id if self.kind is PrincipalKind.staff else None

    @property
    def api_key_id(self) -> uuid.UUID | None:
        return self.id if self.kind is PrincipalKind.api_key else None

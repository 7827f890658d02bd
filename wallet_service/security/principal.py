"""Who is calling, and the tenant scope that every tenant query requires.

Repository functions take a ``MerchantScope`` instead of a bare merchant id, so an unscoped
tenant query does not type-check. A scope is built here and only through one of its named
constructors, each saying where the right to act for the merchant comes from:

- :meth:`MerchantScope.of_credential`: a verified access token or API key (``http.deps``);
- :meth:`MerchantScope.of_pass_holder`: a member proven by a pass token or private link;
- :meth:`MerchantScope.for_operator`: the worker, the CLI and the demo, acting for a merchant
  they were told to act for.

Calling ``MerchantScope(merchant_id)`` directly raises ``TypeError``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from wallet_service.security.permissions import Permission, Role

__all__ = ["MerchantScope", "Principal", "PrincipalKind"]


_MINT = object()  # held by this module only: the key to MerchantScope's constructor


@dataclass(frozen=True, slots=True)
class MerchantScope:
    merchant_id: uuid.UUID
    _mint: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._mint is not _MINT:
            raise TypeError(
                "build a MerchantScope with of_credential(), of_pass_holder() or for_operator()"
            )

    @classmethod
    def of_credential(cls, merchant_id: uuid.UUID) -> MerchantScope:
        """The merchant a verified access token or API key belongs to."""
        return cls(merchant_id, _MINT)

    @classmethod
    def of_pass_holder(cls, merchant_id: uuid.UUID) -> MerchantScope:
        """The merchant of a member who proved their pass (ApplePass token, private link)."""
        return cls(merchant_id, _MINT)

    @classmethod
    def for_operator(cls, merchant_id: uuid.UUID) -> MerchantScope:
        """A merchant the operator's tooling (worker, CLI, demo) acts for."""
        return cls(merchant_id, _MINT)


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

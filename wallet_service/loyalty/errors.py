"""Domain errors of the loyalty engine, each with a stable machine ``code``.

The codes are part of the public contract: the HTTP layer maps them to RFC 9457
problem types, the till shows them to staff, and clients branch on them. Never
rename a code; add a new class instead. No error here knows about HTTP.

Hierarchy::

    DomainError
    ├── InvalidProgramRules           invalid_program_rules
    ├── UnsupportedCurrency           unsupported_currency
    ├── CurrencyMismatch              currency_mismatch
    ├── InvalidAmount                 invalid_amount
    ├── ReasonRequired                reason_required
    ├── InvalidReferral               invalid_referral
    ├── InsufficientBalance
    │   ├── InsufficientPoints        insufficient_points
    │   ├── InsufficientCashback      insufficient_cashback
    │   └── InsufficientStamps        insufficient_stamps
    ├── RewardUnavailable
    │   ├── RewardNotFound            reward_not_found
    │   ├── RewardNotValidNow         reward_not_valid_now
    │   ├── RewardNotAllowedForTier   reward_not_allowed_for_tier
    │   ├── RewardOutOfStock          reward_out_of_stock
    │   └── BelowMinimumBasket        below_minimum_basket
    └── LedgerError
        ├── UnknownTransaction        unknown_transaction
        ├── DuplicateTransaction      duplicate_transaction
        ├── AlreadyReversed           already_reversed
        ├── NotReversible             not_reversible
        ├── BonusAlreadyAwarded       bonus_already_awarded
        └── LedgerIntegrityError      ledger_integrity_violation
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

__all__ = [
    "AlreadyReversed",
    "BasketAmountRequired",
    "BelowMinimumBasket",
    "BonusAlreadyAwarded",
    "CurrencyMismatch",
    "DomainError",
    "DuplicateTransaction",
    "ErrorDetail",
    "InsufficientBalance",
    "InsufficientCashback",
    "InsufficientPoints",
    "InsufficientStamps",
    "InvalidAmount",
    "InvalidProgramRules",
    "InvalidReferral",
    "LedgerError",
    "LedgerIntegrityError",
    "NotReversible",
    "ReasonRequired",
    "RewardNotAllowedForTier",
    "RewardNotFound",
    "RewardNotValidNow",
    "RewardOutOfStock",
    "RewardUnavailable",
    "UnknownTransaction",
    "UnsupportedCurrency",
]

# Details must survive json.dumps unchanged, so money travels as a string.
ErrorDetail = str | int | bool | None


class DomainError(Exception):
    """Base of every business-rule failure; ``code`` is stable, ``message`` is for humans."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: ErrorDetail) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, ErrorDetail] = MappingProxyType(dict(details))

    def to_dict(self) -> dict[str, object]:
        """Return ``{"code", "message", "details"}``, ready for a problem response body."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidProgramRules(DomainError):
    """A program configuration is malformed; ``path`` points at the offending field."""

    code = "invalid_program_rules"

    def __init__(self, path: str, problem: str) -> None:
        where = path or "<rules>"
        super().__init__(f"{where}: {problem}", path=path, problem=problem)
        self.path = path
        self.problem = problem

    def under(self, prefix: str) -> InvalidProgramRules:
        """Return the same error with ``prefix`` prepended to its path (``earn`` + ``x``)."""
        if not self.path:
            return InvalidProgramRules(prefix, self.problem)
        separator = "" if self.path.startswith("[") else "."
        return InvalidProgramRules(f"{prefix}{separator}{self.path}", self.problem)


class UnsupportedCurrency(DomainError):
    """The currency is not an ISO 4217 code this service knows the minor unit of."""

    code = "unsupported_currency"


class CurrencyMismatch(DomainError):
    """An amount is expressed in another currency than the program's."""

    code = "currency_mismatch"


class InvalidAmount(DomainError):
    """An amount is zero, negative, or finer than the currency's minor unit."""

    code = "invalid_amount"


class ReasonRequired(DomainError):
    """Manual corrections must say why; the ledger is an audit trail."""

    code = "reason_required"


class InvalidReferral(DomainError):
    """A referral names the same member on both sides."""

    code = "invalid_referral"


class InsufficientBalance(DomainError):
    """Base for operations that would take a balance below zero."""


class InsufficientPoints(InsufficientBalance):
    """Not enough unexpired points for the redemption or correction."""

    code = "insufficient_points"


class InsufficientCashback(InsufficientBalance):
    """Not enough cashback money in the wallet."""

    code = "insufficient_cashback"


class InsufficientStamps(InsufficientBalance):
    """The stamp card would hold fewer than zero stamps."""

    code = "insufficient_stamps"


class RewardUnavailable(DomainError):
    """Base for the reasons a reward cannot be used right now."""


class RewardNotFound(RewardUnavailable):
    """No reward with this code in the program's catalog."""

    code = "reward_not_found"


class RewardNotValidNow(RewardUnavailable):
    """The instant is outside the reward's validity window."""

    code = "reward_not_valid_now"


class RewardNotAllowedForTier(RewardUnavailable):
    """The reward is reserved to other tiers."""

    code = "reward_not_allowed_for_tier"


class RewardOutOfStock(RewardUnavailable):
    """Every unit of a limited reward has been redeemed."""

    code = "reward_out_of_stock"


class BelowMinimumBasket(RewardUnavailable):
    """The basket is smaller than the reward's minimum basket."""

    code = "below_minimum_basket"


class BasketAmountRequired(RewardUnavailable):
    """A reward with a minimum basket is redeemed without saying what the basket is."""

    code = "basket_amount_required"


class LedgerError(DomainError):
    """Base for requests that conflict with the ledger's history."""


class UnknownTransaction(LedgerError):
    """No transaction with this id in the member's ledger."""

    code = "unknown_transaction"


class DuplicateTransaction(LedgerError):
    """A transaction or entry id is already in the ledger (replayed request)."""

    code = "duplicate_transaction"


class AlreadyReversed(LedgerError):
    """The transaction has been reversed before; a reversal applies once."""

    code = "already_reversed"


class NotReversible(LedgerError):
    """Reversals and expiries cannot themselves be reversed."""

    code = "not_reversible"


class BonusAlreadyAwarded(LedgerError):
    """The once-only bonus (welcome, this year's birthday, a referral) exists already."""

    code = "bonus_already_awarded"


class LedgerIntegrityError(LedgerError):
    """A transaction breaks a ledger invariant; this is a bug or corrupted storage."""

    code = "ledger_integrity_violation"

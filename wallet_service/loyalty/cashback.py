"""Cashback wallet: a percentage of spend credited as money, spendable at the till.

Cashback is money, not points: a ``Decimal`` in the program's currency,
quantised to its minor unit (cents for EUR, whole yen for JPY) with the rule's
rounding, kept in the ledger's cashback column, never below zero. It does not
expire with point lots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from wallet_service.loyalty._config import Fields, check, decimal_to_json
from wallet_service.loyalty.amounts import RoundingRule, quantize_money, require_money
from wallet_service.loyalty.earn import Basket
from wallet_service.loyalty.entries import (
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import InsufficientCashback
from wallet_service.loyalty.ledger import MemberLedger, Posting

__all__ = ["CashbackRules", "quote_cashback", "spend_cashback"]

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class CashbackRules:
    """Credit ``percent`` % of baskets of at least ``minimum_basket``."""

    percent: Decimal
    minimum_basket: Decimal = Decimal(0)
    rounding: RoundingRule = RoundingRule.DOWN

    def __post_init__(self) -> None:
        check(0 < self.percent <= _HUNDRED, "percent", "must be in (0, 100]")
        check(self.minimum_basket >= 0, "minimum_basket", "must not be negative")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "percent": decimal_to_json(self.percent),
            "minimum_basket": decimal_to_json(self.minimum_basket),
            "rounding": self.rounding.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CashbackRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=("percent",), optional=("minimum_basket", "rounding"))
        return cls(
            percent=fields.decimal("percent"),
            minimum_basket=fields.decimal("minimum_basket"),
            rounding=fields.choice("rounding", RoundingRule, RoundingRule.DOWN),
        )


def quote_cashback(rules: CashbackRules | None, basket: Basket) -> Decimal:
    """Return the cashback ``basket`` earns, in minor units of its currency (0 if none)."""
    if rules is None or basket.amount < rules.minimum_basket:
        return quantize_money(Decimal(0), basket.currency)
    return quantize_money(basket.amount * rules.percent / _HUNDRED, basket.currency, rules.rounding)


def spend_cashback(ledger: MemberLedger, amount: Decimal, context: TransactionContext) -> Posting:
    """Pay ``amount`` of the basket with cashback; raises ``InsufficientCashback``."""
    require_money(amount, ledger.currency, what="cashback amount")
    available = ledger.balances.cashback
    if amount > available:
        raise InsufficientCashback(
            f"{amount} {ledger.currency} requested, {available} available",
            required=str(amount),
            available=str(available),
        )
    entry = LedgerEntry(entry_id=context.entry_id(0), kind=EntryKind.REDEEM, cashback=-amount)
    return ledger.post(
        LedgerTransaction.from_context(TransactionKind.REDEMPTION, context, (entry,))
    )

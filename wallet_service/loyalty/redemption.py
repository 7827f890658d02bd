"""Spending points on catalog rewards, with the member's tier and live points.

``reward_options`` is the catalog as one member sees it now (usable or not,
and why); ``redeem_reward`` checks the same rules, takes the points from the
oldest live lots and says what the till must apply. The caller owns the
shared stock counter: it passes how many units are already redeemed and, on
success, increments it in the same database transaction (decrement it when
the redemption is reversed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from wallet_service.loyalty.amounts import format_money, require_money
from wallet_service.loyalty.entries import (
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import BasketAmountRequired
from wallet_service.loyalty.ledger import MemberLedger, Posting
from wallet_service.loyalty.rewards import (
    Reward,
    RewardEligibility,
    RewardGrant,
    check_reward,
    grant_reward,
    reward_eligibility,
)
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.loyalty.tiers import evaluate_tier

__all__ = ["RewardRedemption", "redeem_reward", "reward_options"]


@dataclass(frozen=True, slots=True)
class RewardRedemption:
    """The posted redemption, the reward, and what to apply at the till."""

    posting: Posting
    reward: Reward
    grant: RewardGrant


def reward_options(
    rules: ProgramRules,
    ledger: MemberLedger,
    at: datetime,
    *,
    stock_used: Mapping[str, int],
    basket_amount: Decimal | None = None,
) -> tuple[RewardEligibility, ...]:
    """Return every catalog reward with the reasons this member cannot use it at ``at``."""
    return reward_eligibility(
        rules.rewards,
        points_available=ledger.available_points(at),
        tier_code=evaluate_tier(rules.tiers, ledger, at).tier.code,
        at=at,
        stock_used=stock_used,
        basket_amount=basket_amount,
        currency=rules.currency,
    )


def redeem_reward(
    rules: ProgramRules,
    ledger: MemberLedger,
    reward_code: str,
    context: TransactionContext,
    *,
    stock_used: int = 0,
    basket_amount: Decimal | None = None,
) -> RewardRedemption:
    """Redeem ``reward_code`` or raise the first reason it is unavailable.

    Raises ``RewardNotFound``, ``RewardNotValidNow``, ``RewardNotAllowedForTier``,
    ``RewardOutOfStock``, ``BasketAmountRequired`` (a minimum basket and no
    ``basket_amount``), ``BelowMinimumBasket`` or ``InsufficientPoints``.
    """
    reward = rules.reward(reward_code)
    if basket_amount is not None:
        require_money(basket_amount, rules.currency, what="basket amount")
    elif reward.minimum_basket is not None:
        # Listing the catalog cannot know the basket; spending the reward must.
        raise BasketAmountRequired(
            f"{reward.name} needs a basket of at least "
            f"{format_money(reward.minimum_basket, rules.currency)}: send the basket amount",
            reward_code=reward.code,
            minimum_basket=str(reward.minimum_basket),
        )
    at = context.occurred_at
    blockers = check_reward(
        reward,
        points_available=ledger.available_points(at),
        tier_code=evaluate_tier(rules.tiers, ledger, at).tier.code,
        at=at,
        stock_used=stock_used,
        basket_amount=basket_amount,
        currency=rules.currency,
    )
    if blockers:
        raise blockers[0]
    entries: tuple[LedgerEntry, ...] = ()
    if reward.cost_points > 0:
        entries = (
            LedgerEntry(
                entry_id=context.entry_id(0),
                kind=EntryKind.REDEEM,
                points=-reward.cost_points,
                draws=ledger.draw_points(reward.cost_points, at),
            ),
        )
    transaction = LedgerTransaction.from_context(
        TransactionKind.REDEMPTION, context, entries, reward_code=reward.code
    )
    return RewardRedemption(
        posting=ledger.post(transaction),
        reward=reward,
        grant=grant_reward(reward, basket_amount, rules.currency),
    )

"""One entry point binding a program's rules to every loyalty operation.

``LoyaltyProgram(rules)`` is what services hold: each method takes the
member's ``MemberLedger`` (loaded under a row lock) and the facts of the
moment, and returns a ``Posting`` (or a richer outcome holding one) whose
``transaction`` is to be inserted and whose ``balances`` are to be cached.
Binding the rules once means no caller can forget, say, to give bonus points
the program's expiry. ``member_state`` is the derived state a pass shows.

Example::

    program = LoyaltyProgram(ProgramRules.from_dict(stored_json))
    outcome = program.record_purchase(ledger, basket, context)
    repository.insert(outcome.posting.transaction)
    member.points = outcome.posting.balances.points
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from wallet_service.loyalty.bonuses import (
    ReferralAward,
    award_birthday_bonus,
    award_referral_bonuses,
    award_welcome_bonus,
)
from wallet_service.loyalty.cashback import spend_cashback
from wallet_service.loyalty.corrections import adjust_balances, reverse_transaction
from wallet_service.loyalty.earn import Basket
from wallet_service.loyalty.entries import Balances, LedgerTransaction, TransactionContext
from wallet_service.loyalty.expiry import ExpiryForecast, expire_due_points, points_expiring_soon
from wallet_service.loyalty.ledger import MemberLedger, Posting
from wallet_service.loyalty.purchase import PurchaseOutcome, record_purchase
from wallet_service.loyalty.redemption import RewardRedemption, redeem_reward, reward_options
from wallet_service.loyalty.rewards import RewardEligibility
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.loyalty.tiers import TierStatus, evaluate_tier

__all__ = ["REMINDER_HORIZON_DAYS", "LoyaltyProgram", "MemberState"]

# Reminders go out a month ahead, as merchants expect ("vos points expirent bientôt").
REMINDER_HORIZON_DAYS = 30


@dataclass(frozen=True, slots=True)
class MemberState:
    """Everything a pass or a member page shows, derived from the ledger at one instant."""

    as_of: datetime
    currency: str
    balances: Balances
    available_points: int
    tier: TierStatus
    expiring_soon: ExpiryForecast
    stamps_per_card: int | None

    def progress_text(self, locale: str = "en") -> str | None:
        """Return the progress line (``"116 points to Silver"``), ``None`` at the top tier."""
        progress = self.tier.progress
        return None if progress is None else progress.describe(self.currency, locale)


class LoyaltyProgram:
    """The rules of one program, applied to members' ledgers."""

    __slots__ = ("_rules",)

    def __init__(self, rules: ProgramRules) -> None:
        self._rules = rules

    @property
    def rules(self) -> ProgramRules:
        """Return the bound rules."""
        return self._rules

    def new_ledger(self) -> MemberLedger:
        """Return the empty ledger of a member joining now."""
        return MemberLedger(self._rules.currency)

    def load_ledger(self, transactions: Iterable[LedgerTransaction]) -> MemberLedger:
        """Rebuild a member's ledger from stored transactions, re-checking every invariant."""
        return MemberLedger(self._rules.currency, transactions)

    def member_state(self, ledger: MemberLedger, at: datetime) -> MemberState:
        """Derive balances, tier, progress and the expiry reminder figure at ``at``."""
        # Kept on the (immutable) ledger: posting and answering a scan both ask for it.
        return ledger.derived(("member state", self, at), lambda: self._member_state(ledger, at))

    def _member_state(self, ledger: MemberLedger, at: datetime) -> MemberState:
        return MemberState(
            as_of=at,
            currency=self._rules.currency,
            balances=ledger.balances,
            available_points=ledger.available_points(at),
            tier=evaluate_tier(self._rules.tiers, ledger, at),
            expiring_soon=points_expiring_soon(ledger, at, REMINDER_HORIZON_DAYS),
            stamps_per_card=None
            if self._rules.stamps is None
            else self._rules.stamps.stamps_per_card,
        )

    def record_purchase(
        self, ledger: MemberLedger, basket: Basket, context: TransactionContext
    ) -> PurchaseOutcome:
        """Post a purchase: points, cashback, stamps, tier before and after."""
        return record_purchase(self._rules, ledger, basket, context)

    def reward_options(
        self,
        ledger: MemberLedger,
        at: datetime,
        *,
        stock_used: Mapping[str, int],
        basket_amount: Decimal | None = None,
    ) -> tuple[RewardEligibility, ...]:
        """Return the catalog with, for each reward, why the member cannot use it now."""
        return reward_options(
            self._rules, ledger, at, stock_used=stock_used, basket_amount=basket_amount
        )

    def redeem_reward(
        self,
        ledger: MemberLedger,
        reward_code: str,
        context: TransactionContext,
        *,
        stock_used: int = 0,
        basket_amount: Decimal | None = None,
    ) -> RewardRedemption:
        """Redeem a catalog reward or raise the first reason it is unavailable."""
        return redeem_reward(
            self._rules,
            ledger,
            reward_code,
            context,
            stock_used=stock_used,
            basket_amount=basket_amount,
        )

    def spend_cashback(
        self, ledger: MemberLedger, amount: Decimal, context: TransactionContext
    ) -> Posting:
        """Pay part of a basket with the cashback wallet."""
        return spend_cashback(ledger, amount, context)

    def adjust(
        self,
        ledger: MemberLedger,
        context: TransactionContext,
        *,
        points: int = 0,
        cashback: Decimal = Decimal(0),
        stamps: int = 0,
    ) -> Posting:
        """Post a manual correction (``context.note`` says why)."""
        return adjust_balances(
            ledger,
            context,
            points=points,
            cashback=cashback,
            stamps=stamps,
            expiry=self._rules.expiry,
        )

    def reverse(
        self, ledger: MemberLedger, transaction_id: str, context: TransactionContext
    ) -> Posting:
        """Cancel one transaction exactly, once."""
        return reverse_transaction(ledger, transaction_id, context)

    def expire_due_points(
        self, ledger: MemberLedger, context: TransactionContext
    ) -> Posting | None:
        """Expire the lots due at ``context.occurred_at``; ``None`` when nothing is due."""
        return expire_due_points(ledger, context)

    def award_welcome_bonus(
        self, ledger: MemberLedger, context: TransactionContext
    ) -> Posting | None:
        """Pay the welcome bonus once."""
        return award_welcome_bonus(self._rules.bonuses.welcome, self._rules.expiry, ledger, context)

    def award_birthday_bonus(
        self, ledger: MemberLedger, birthday: date | None, context: TransactionContext
    ) -> Posting | None:
        """Pay this year's birthday bonus if today, in the program's time zone, qualifies."""
        return award_birthday_bonus(
            self._rules.bonuses.birthday,
            self._rules.expiry,
            ledger,
            birthday=birthday,
            timezone=self._rules.zone,
            context=context,
        )

    def award_referral_bonuses(
        self,
        *,
        referrer_id: str,
        referrer_ledger: MemberLedger,
        referrer_context: TransactionContext,
        referee_id: str,
        referee_ledger: MemberLedger,
        referee_context: TransactionContext,
    ) -> ReferralAward:
        """Pay both sides of a referral once the referee has made a qualifying purchase."""
        return award_referral_bonuses(
            self._rules.bonuses.referral,
            self._rules.expiry,
            referrer_id=referrer_id,
            referrer_ledger=referrer_ledger,
            referrer_context=referrer_context,
            referee_id=referee_id,
            referee_ledger=referee_ledger,
            referee_context=referee_context,
        )

"""Pure loyalty domain: program rules, earning, tiers, rewards, ledger maths, expiry.

Nothing here does I/O or imports FastAPI, SQLAlchemy or pydantic; every
function takes the program's ``ProgramRules``, the member's ``MemberLedger``
and the facts of the moment, and returns the transaction to persist together
with the resulting ledger (``Posting``). ``LoyaltyProgram`` binds the rules
once and is the entry point services should hold. The names re-exported
below are the public API; submodules hold the details.
"""

from wallet_service.loyalty.amounts import (
    CURRENCY_EXPONENTS,
    RoundingRule,
    currency_exponent,
    format_money,
    quantize_money,
)
from wallet_service.loyalty.bonuses import (
    BirthdayBonusRules,
    BirthdayTiming,
    BonusRules,
    ReferralAward,
    ReferralBonusRules,
    WelcomeBonusRules,
    award_birthday_bonus,
    award_referral_bonuses,
    award_welcome_bonus,
)
from wallet_service.loyalty.cashback import CashbackRules, quote_cashback, spend_cashback
from wallet_service.loyalty.corrections import adjust_balances, reverse_transaction
from wallet_service.loyalty.earn import (
    Basket,
    BasketBonus,
    BasketLine,
    EarnQuote,
    EarnRules,
    quote_earn,
)
from wallet_service.loyalty.entries import (
    Balances,
    BonusKind,
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import DomainError
from wallet_service.loyalty.expiry import (
    ExpiryForecast,
    ExpiryRules,
    expire_due_points,
    points_expiring_soon,
)
from wallet_service.loyalty.ledger import MemberLedger, PointsLot, Posting
from wallet_service.loyalty.program import LoyaltyProgram, MemberState
from wallet_service.loyalty.purchase import PurchaseOutcome, record_purchase
from wallet_service.loyalty.redemption import RewardRedemption, redeem_reward, reward_options
from wallet_service.loyalty.rewards import Reward, RewardEligibility, RewardGrant, RewardKind
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.loyalty.stamps import StampQuote, StampRules
from wallet_service.loyalty.tiers import (
    CriteriaMode,
    TierCriterion,
    TierDefinition,
    TierLadder,
    TierMetric,
    TierMovement,
    TierProgress,
    TierStatus,
    evaluate_tier,
)

__all__ = [
    "CURRENCY_EXPONENTS",
    "Balances",
    "Basket",
    "BasketBonus",
    "BasketLine",
    "BirthdayBonusRules",
    "BirthdayTiming",
    "BonusKind",
    "BonusRules",
    "CashbackRules",
    "CriteriaMode",
    "DomainError",
    "EarnQuote",
    "EarnRules",
    "EntryKind",
    "ExpiryForecast",
    "ExpiryRules",
    "LedgerEntry",
    "LedgerTransaction",
    "LotDraw",
    "LoyaltyProgram",
    "MemberLedger",
    "MemberState",
    "PointsLot",
    "Posting",
    "ProgramRules",
    "PurchaseOutcome",
    "ReferralAward",
    "ReferralBonusRules",
    "Reward",
    "RewardEligibility",
    "RewardGrant",
    "RewardKind",
    "RewardRedemption",
    "RoundingRule",
    "StampQuote",
    "StampRules",
    "TierCriterion",
    "TierDefinition",
    "TierLadder",
    "TierMetric",
    "TierMovement",
    "TierProgress",
    "TierStatus",
    "TransactionContext",
    "TransactionKind",
    "WelcomeBonusRules",
    "adjust_balances",
    "award_birthday_bonus",
    "award_referral_bonuses",
    "award_welcome_bonus",
    "currency_exponent",
    "evaluate_tier",
    "expire_due_points",
    "format_money",
    "points_expiring_soon",
    "quantize_money",
    "quote_cashback",
    "quote_earn",
    "record_purchase",
    "redeem_reward",
    "reverse_transaction",
    "reward_options",
    "spend_cashback",
]

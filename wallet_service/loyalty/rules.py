"""A program's complete rules, validated, and their JSON-able dict form.

``ProgramRules`` gathers the sections (earn, tiers, cashback, stamps,
rewards, expiry, bonuses) and checks what spans them: money amounts exact in
the program currency, reward tier restrictions naming real tiers, unique
reward codes, a known time zone. ``to_dict`` / ``from_dict`` round-trip
exactly, so the dict can be stored as JSON and edited in the console; any
bad value raises ``InvalidProgramRules`` with the path of the offending field
(``"rewards[2].discount_amount"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wallet_service.loyalty._config import Fields, check, read_list
from wallet_service.loyalty.amounts import quantize_money
from wallet_service.loyalty.bonuses import BonusRules
from wallet_service.loyalty.cashback import CashbackRules
from wallet_service.loyalty.earn import EarnRules
from wallet_service.loyalty.errors import InvalidProgramRules, RewardNotFound, UnsupportedCurrency
from wallet_service.loyalty.expiry import ExpiryRules
from wallet_service.loyalty.rewards import Reward
from wallet_service.loyalty.stamps import StampRules
from wallet_service.loyalty.tiers import TierLadder, TierMetric

__all__ = ["RULES_FORMAT_VERSION", "ProgramRules"]

# Bump when the dict format changes incompatibly, and teach from_dict to upgrade.
RULES_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ProgramRules:
    """Everything that decides how a program's members earn, rise, and redeem."""

    currency: str
    earn: EarnRules
    tiers: TierLadder = field(default_factory=TierLadder.single)
    timezone: str = "UTC"
    cashback: CashbackRules | None = None
    stamps: StampRules | None = None
    rewards: tuple[Reward, ...] = ()
    expiry: ExpiryRules | None = None
    bonuses: BonusRules = field(default_factory=BonusRules)

    def __post_init__(self) -> None:
        try:
            quantize_money(Decimal(0), self.currency)
        except UnsupportedCurrency as error:
            raise InvalidProgramRules("currency", error.message) from None
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidProgramRules("timezone", "is not an IANA time zone") from None
        self._check_money_is_exact()
        codes = [reward.code for reward in self.rewards]
        check(len(codes) == len(set(codes)), "rewards", "reward codes must be unique")
        tier_codes = {tier.code for tier in self.tiers.tiers}
        for index, reward in enumerate(self.rewards):
            for tier_code in reward.allowed_tiers or ():
                check(
                    tier_code in tier_codes,
                    f"rewards[{index}].allowed_tiers",
                    f"names unknown tier {tier_code!r}",
                )

    def _check_money_is_exact(self) -> None:
        amounts: dict[str, Decimal] = {"earn.minimum_basket": self.earn.minimum_basket}
        if self.cashback is not None:
            amounts["cashback.minimum_basket"] = self.cashback.minimum_basket
        if self.stamps is not None:
            amounts["stamps.minimum_basket"] = self.stamps.minimum_basket
        if self.bonuses.referral is not None:
            amounts["bonuses.referral.minimum_first_purchase"] = (
                self.bonuses.referral.minimum_first_purchase
            )
        for tier_index, tier in enumerate(self.tiers.tiers):
            for criterion_index, criterion in enumerate(tier.criteria):
                if criterion.metric is TierMetric.SPEND:
                    path = f"tiers[{tier_index}].criteria[{criterion_index}].threshold"
                    amounts[path] = criterion.threshold
        for index, reward in enumerate(self.rewards):
            for name, amount in reward.money_fields().items():
                amounts[f"rewards[{index}].{name}"] = amount
        for path, amount in amounts.items():
            check(
                amount == quantize_money(amount, self.currency),
                path,
                f"has more decimals than {self.currency} allows",
            )

    @property
    def zone(self) -> ZoneInfo:
        """Return the program's time zone (birthdays are judged in local dates)."""
        return ZoneInfo(self.timezone)

    def reward(self, code: str) -> Reward:
        """Return the catalog reward with ``code`` or raise ``RewardNotFound``."""
        for reward in self.rewards:
            if reward.code == code:
                return reward
        raise RewardNotFound(f"no reward {code!r} in this program", reward_code=code)

    def to_dict(self) -> dict[str, object]:
        """Return the canonical JSON-able form (every section, nulls included)."""
        return {
            "version": RULES_FORMAT_VERSION,
            "currency": self.currency,
            "timezone": self.timezone,
            "earn": self.earn.to_dict(),
            "tiers": self.tiers.to_list(),
            "cashback": None if self.cashback is None else self.cashback.to_dict(),
            "stamps": None if self.stamps is None else self.stamps.to_dict(),
            "rewards": [reward.to_dict() for reward in self.rewards],
            "expiry": None if self.expiry is None else self.expiry.to_dict(),
            "bonuses": self.bonuses.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ProgramRules:
        """Parse and validate a rules dict; raises ``InvalidProgramRules`` naming the field."""
        fields = Fields(
            data,
            required=("currency", "earn"),
            optional=(
                "version",
                "timezone",
                "tiers",
                "cashback",
                "stamps",
                "rewards",
                "expiry",
                "bonuses",
            ),
        )
        version = fields.integer("version", RULES_FORMAT_VERSION)
        check(version == RULES_FORMAT_VERSION, "version", f"must be {RULES_FORMAT_VERSION}")
        tiers = fields.read(
            "tiers", lambda value, path: TierLadder.from_list(read_list(value, path))
        )
        return cls(
            currency=fields.text("currency", max_length=3),
            earn=fields.required_section("earn", EarnRules.from_dict),
            tiers=tiers or TierLadder.single(),
            timezone=fields.text("timezone", "UTC", max_length=64),
            cashback=fields.section("cashback", CashbackRules.from_dict),
            stamps=fields.section("stamps", StampRules.from_dict),
            rewards=fields.objects("rewards", Reward.from_dict),
            expiry=fields.section("expiry", ExpiryRules.from_dict),
            bonuses=fields.section("bonuses", BonusRules.from_dict) or BonusRules(),
        )

"""Rewards catalog: what points buy, who may use it, when, and while stock lasts.

A reward costs points and gives one of: a fixed discount, a percent discount,
a free product, free shipping, or a donation to a charity in the member's
name. ``check_reward`` lists every reason a member cannot use a reward right
now as domain errors with stable codes (so the card can grey it out and say
why); ``RewardGrant`` tells the till what to apply once it is redeemed.
Stock is configured here; the count already redeemed is state the caller
passes in (``stock_used``), so raising the stock in the config just works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from wallet_service.loyalty._config import (
    Fields,
    check,
    decimal_to_json,
    optional_datetime_to_json,
)
from wallet_service.loyalty.amounts import format_money, quantize_money
from wallet_service.loyalty.errors import (
    BelowMinimumBasket,
    DomainError,
    InsufficientPoints,
    RewardNotAllowedForTier,
    RewardNotValidNow,
    RewardOutOfStock,
)

__all__ = [
    "Reward",
    "RewardEligibility",
    "RewardGrant",
    "RewardKind",
    "check_reward",
    "grant_reward",
    "reward_eligibility",
]

_CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_HUNDRED = Decimal(100)


class RewardKind(StrEnum):
    """What redeeming the reward gives."""

    FIXED_DISCOUNT = "fixed_discount"
    PERCENT_DISCOUNT = "percent_discount"
    FREE_PRODUCT = "free_product"
    FREE_SHIPPING = "free_shipping"
    DONATION = "donation"


# The kind-specific fields each kind requires; every other one must stay unset.
_FIELDS_BY_KIND: Mapping[RewardKind, frozenset[str]] = {
    RewardKind.FIXED_DISCOUNT: frozenset({"discount_amount"}),
    RewardKind.PERCENT_DISCOUNT: frozenset({"discount_percent"}),
    RewardKind.FREE_PRODUCT: frozenset({"product_sku"}),
    RewardKind.FREE_SHIPPING: frozenset(),
    RewardKind.DONATION: frozenset({"charity_name", "donation_amount"}),
}
_KIND_FIELDS = frozenset().union(*_FIELDS_BY_KIND.values())


@dataclass(frozen=True, slots=True)
class Reward:
    """A catalog item. ``stock=None`` is unlimited; ``allowed_tiers=None`` is every tier.

    ``valid_from`` is inclusive and ``valid_until`` exclusive. Kind-specific
    fields: ``discount_amount`` (fixed discount), ``discount_percent``
    (percent discount), ``product_sku`` (free product), ``charity_name`` and
    ``donation_amount`` (donation); the others stay ``None``.
    """

    code: str
    name: str
    kind: RewardKind
    cost_points: int
    description: str = ""
    stock: int | None = None
    allowed_tiers: tuple[str, ...] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    minimum_basket: Decimal | None = None
    discount_amount: Decimal | None = None
    discount_percent: Decimal | None = None
    product_sku: str | None = None
    charity_name: str | None = None
    donation_amount: Decimal | None = None

    def __post_init__(self) -> None:
        check(bool(_CODE_PATTERN.match(self.code)), "code", "must match [a-z0-9][a-z0-9_-]{0,39}")
        check(bool(self.name.strip()), "name", "must not be blank")
        check(
            type(self.cost_points) is int and self.cost_points >= 0,
            "cost_points",
            "must be a non-negative integer",
        )
        if self.stock is not None:
            check(type(self.stock) is int and self.stock >= 0, "stock", "must be >= 0 or null")
        if self.allowed_tiers is not None:
            check(bool(self.allowed_tiers), "allowed_tiers", "must list a tier or be null")
        if self.valid_from is not None and self.valid_until is not None:
            check(self.valid_from < self.valid_until, "valid_until", "must be after valid_from")
        if self.minimum_basket is not None:
            check(self.minimum_basket > 0, "minimum_basket", "must be positive or null")
        self._check_kind_fields()

    def _check_kind_fields(self) -> None:
        required = _FIELDS_BY_KIND[self.kind]
        for name in sorted(_KIND_FIELDS):
            is_set = getattr(self, name) is not None
            if name in required:
                check(is_set, name, f"is required for a {self.kind} reward")
            else:
                check(not is_set, name, f"does not apply to a {self.kind} reward")
        if self.discount_amount is not None:
            check(self.discount_amount > 0, "discount_amount", "must be positive")
        if self.discount_percent is not None:
            check(0 < self.discount_percent <= _HUNDRED, "discount_percent", "must be in (0, 100]")
        if self.donation_amount is not None:
            check(self.donation_amount > 0, "donation_amount", "must be positive")

    def money_fields(self) -> dict[str, Decimal]:
        """Return the money amounts set on this reward, by field name (for currency checks)."""
        amounts = {
            "minimum_basket": self.minimum_basket,
            "discount_amount": self.discount_amount,
            "donation_amount": self.donation_amount,
        }
        return {name: value for name, value in amounts.items() if value is not None}

    def is_valid_at(self, at: datetime) -> bool:
        """Tell whether ``at`` falls in ``[valid_from, valid_until)``."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form (every field, nulls included)."""
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind.value,
            "cost_points": self.cost_points,
            "description": self.description,
            "stock": self.stock,
            "allowed_tiers": None if self.allowed_tiers is None else list(self.allowed_tiers),
            "valid_from": optional_datetime_to_json(self.valid_from),
            "valid_until": optional_datetime_to_json(self.valid_until),
            "minimum_basket": _optional_decimal_to_json(self.minimum_basket),
            "discount_amount": _optional_decimal_to_json(self.discount_amount),
            "discount_percent": _optional_decimal_to_json(self.discount_percent),
            "product_sku": self.product_sku,
            "charity_name": self.charity_name,
            "donation_amount": _optional_decimal_to_json(self.donation_amount),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reward:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("code", "name", "kind", "cost_points"),
            optional=(
                "description",
                "stock",
                "allowed_tiers",
                "valid_from",
                "valid_until",
                "minimum_basket",
                *sorted(_KIND_FIELDS),
            ),
        )
        return cls(
            code=fields.text("code"),
            name=fields.text("name", max_length=80),
            kind=fields.choice("kind", RewardKind),
            cost_points=fields.integer("cost_points", minimum=0),
            description=fields.text("description", max_length=500, allow_blank=True),
            stock=fields.optional_integer("stock", minimum=0),
            allowed_tiers=fields.texts("allowed_tiers") if fields.has("allowed_tiers") else None,
            valid_from=fields.optional_datetime("valid_from"),
            valid_until=fields.optional_datetime("valid_until"),
            minimum_basket=fields.optional_decimal("minimum_basket"),
            discount_amount=fields.optional_decimal("discount_amount"),
            discount_percent=fields.optional_decimal("discount_percent"),
            product_sku=fields.optional_text("product_sku"),
            charity_name=fields.optional_text("charity_name"),
            donation_amount=fields.optional_decimal("donation_amount"),
        )


def _optional_decimal_to_json(value: Decimal | None) -> str | None:
    return None if value is None else decimal_to_json(value)


def check_reward(
    reward: Reward,
    *,
    points_available: int,
    tier_code: str,
    at: datetime,
    currency: str,
    stock_used: int = 0,
    basket_amount: Decimal | None = None,
) -> tuple[DomainError, ...]:
    """Return every reason ``reward`` cannot be used now; empty means it can.

    The minimum basket is only checked when ``basket_amount`` is known (at the
    till); a catalog listing passes ``None``.
    """
    blockers: list[DomainError] = []
    if not reward.is_valid_at(at):
        blockers.append(
            RewardNotValidNow(
                f"{reward.name} is not available at this date",
                reward_code=reward.code,
                valid_from=optional_datetime_to_json(reward.valid_from),
                valid_until=optional_datetime_to_json(reward.valid_until),
            )
        )
    if reward.allowed_tiers is not None and tier_code not in reward.allowed_tiers:
        blockers.append(
            RewardNotAllowedForTier(
                f"{reward.name} is reserved to other tiers",
                reward_code=reward.code,
                tier_code=tier_code,
            )
        )
    if reward.stock is not None and stock_used >= reward.stock:
        blockers.append(RewardOutOfStock(f"{reward.name} is out of stock", reward_code=reward.code))
    minimum = reward.minimum_basket
    if minimum is not None and basket_amount is not None and basket_amount < minimum:
        blockers.append(
            BelowMinimumBasket(
                f"{reward.name} needs a basket of at least {format_money(minimum, currency)}",
                reward_code=reward.code,
                minimum_basket=str(minimum),
                basket_amount=str(basket_amount),
            )
        )
    if points_available < reward.cost_points:
        blockers.append(
            InsufficientPoints(
                f"{reward.name} costs {reward.cost_points} points, {points_available} available",
                reward_code=reward.code,
                required=reward.cost_points,
                available=points_available,
            )
        )
    return tuple(blockers)


@dataclass(frozen=True, slots=True)
class RewardEligibility:
    """A reward and the reasons the member cannot use it now (none = usable)."""

    reward: Reward
    blockers: tuple[DomainError, ...]

    @property
    def usable(self) -> bool:
        """Tell whether the member can redeem the reward now."""
        return not self.blockers

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the stable codes of the blockers, e.g. ``("insufficient_points",)``."""
        return tuple(blocker.code for blocker in self.blockers)


def reward_eligibility(
    catalog: Sequence[Reward],
    *,
    points_available: int,
    tier_code: str,
    at: datetime,
    currency: str,
    stock_used: Mapping[str, int],
    basket_amount: Decimal | None = None,
) -> tuple[RewardEligibility, ...]:
    """Say, for every reward of ``catalog`` in order, whether it is usable now and why not."""
    return tuple(
        RewardEligibility(
            reward=reward,
            blockers=check_reward(
                reward,
                points_available=points_available,
                tier_code=tier_code,
                at=at,
                stock_used=stock_used.get(reward.code, 0),
                basket_amount=basket_amount,
                currency=currency,
            ),
        )
        for reward in catalog
    )


@dataclass(frozen=True, slots=True)
class RewardGrant:
    """What the till, the shop or the back office must apply for a redeemed reward.

    ``discount_amount`` is the money off: the fixed amount (capped at the
    basket when known) or the percentage of the basket (``None`` when the
    basket is unknown, the percentage then applies at checkout).
    """

    reward_code: str
    kind: RewardKind
    discount_amount: Decimal | None = None
    discount_percent: Decimal | None = None
    product_sku: str | None = None
    charity_name: str | None = None
    donation_amount: Decimal | None = None


def grant_reward(reward: Reward, basket_amount: Decimal | None, currency: str) -> RewardGrant:
    """Turn a redeemed ``reward`` into the concrete benefit for this basket."""
    discount: Decimal | None = None
    if reward.discount_amount is not None:
        discount = reward.discount_amount
        if basket_amount is not None:
            discount = min(discount, basket_amount)
    elif reward.discount_percent is not None and basket_amount is not None:
        discount = quantize_money(basket_amount * reward.discount_percent / _HUNDRED, currency)
    return RewardGrant(
        reward_code=reward.code,
        kind=reward.kind,
        discount_amount=discount,
        discount_percent=reward.discount_percent,
        product_sku=reward.product_sku,
        charity_name=reward.charity_name,
        donation_amount=reward.donation_amount,
    )

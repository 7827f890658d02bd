"""Earn rules: how many points a basket is worth.

Points = ``round(amount x points_per_currency_unit x tier multiplier)`` with
the program's rounding rule, plus basket bonuses for matching lines (extra
points per item and/or per currency unit of the line, e.g. "+5 points per
pastry"). A basket below ``minimum_basket`` earns nothing. Rounding happens
once per figure, never on intermediate products, so 3 x 0.5 points are 1.5
points rounded once, not three roundings of 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from wallet_service.loyalty._config import Fields, check, decimal_to_json
from wallet_service.loyalty.amounts import RoundingRule, require_money, round_points
from wallet_service.loyalty.errors import InvalidAmount

__all__ = [
    "AppliedBasketBonus",
    "Basket",
    "BasketBonus",
    "BasketLine",
    "EarnQuote",
    "EarnRules",
    "quote_earn",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BasketLine:
    """One line of a basket as the till or the shop sends it."""

    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sku, str) or not self.sku.strip():
            raise InvalidAmount("a basket line needs a SKU", field="sku")
        if type(self.quantity) is not int or self.quantity < 1:
            raise InvalidAmount("quantity must be a positive integer", field="quantity")
        if not isinstance(self.unit_price, Decimal) or not self.unit_price.is_finite():
            raise InvalidAmount("unit_price must be a finite Decimal", field="unit_price")
        if self.unit_price < 0:
            raise InvalidAmount("unit_price must not be negative", field="unit_price")

    @property
    def total(self) -> Decimal:
        """Return quantity x unit price."""
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Basket:
    """What the customer paid (``amount``, the eligible spend) and optionally its lines.

    ``amount`` is authoritative: at the till staff often type only the total,
    and after discounts it may differ from the sum of the lines, which only
    feed basket bonuses.
    """

    amount: Decimal
    currency: str
    lines: tuple[BasketLine, ...] = ()

    def __post_init__(self) -> None:
        require_money(self.amount, self.currency, what="basket amount")

    @classmethod
    def from_lines(cls, currency: str, lines: tuple[BasketLine, ...]) -> Basket:
        """Build a basket whose amount is the sum of its lines."""
        return cls(
            amount=sum((line.total for line in lines), _ZERO), currency=currency, lines=lines
        )


@dataclass(frozen=True, slots=True)
class BasketBonus:
    """Extra points for lines matching a SKU or a category (exactly one of the two)."""

    label: str
    sku: str | None = None
    category: str | None = None
    points_per_item: int = 0
    points_per_currency_unit: Decimal = _ZERO

    def __post_init__(self) -> None:
        check(
            (self.sku is None) != (self.category is None),
            "sku",
            "set exactly one of sku and category",
        )
        check(type(self.points_per_item) is int, "points_per_item", "must be an integer")
        check(self.points_per_item >= 0, "points_per_item", "must not be negative")
        check(self.points_per_currency_unit >= 0, "points_per_currency_unit", "must be >= 0")
        check(
            self.points_per_item > 0 or self.points_per_currency_unit > 0,
            "points_per_item",
            "a bonus must award something per item or per currency unit",
        )

    def matches(self, line: BasketLine) -> bool:
        """Tell whether the bonus applies to ``line``."""
        if self.sku is not None:
            return line.sku == self.sku
        return line.category is not None and line.category == self.category

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "label": self.label,
            "sku": self.sku,
            "category": self.category,
            "points_per_item": self.points_per_item,
            "points_per_currency_unit": decimal_to_json(self.points_per_currency_unit),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BasketBonus:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("label",),
            optional=("sku", "category", "points_per_item", "points_per_currency_unit"),
        )
        return cls(
            label=fields.text("label"),
            sku=fields.optional_text("sku"),
            category=fields.optional_text("category"),
            points_per_item=fields.integer("points_per_item", minimum=0),
            points_per_currency_unit=fields.decimal("points_per_currency_unit"),
        )


@dataclass(frozen=True, slots=True)
class EarnRules:
    """Base earn rate, its rounding, the minimum basket and basket bonuses."""

    points_per_currency_unit: Decimal
    rounding: RoundingRule = RoundingRule.DOWN
    minimum_basket: Decimal = _ZERO
    basket_bonuses: tuple[BasketBonus, ...] = ()

    def __post_init__(self) -> None:
        check(
            self.points_per_currency_unit >= 0,
            "points_per_currency_unit",
            "must not be negative",
        )
        check(self.minimum_basket >= 0, "minimum_basket", "must not be negative")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "points_per_currency_unit": decimal_to_json(self.points_per_currency_unit),
            "rounding": self.rounding.value,
            "minimum_basket": decimal_to_json(self.minimum_basket),
            "basket_bonuses": [bonus.to_dict() for bonus in self.basket_bonuses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EarnRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("points_per_currency_unit",),
            optional=("rounding", "minimum_basket", "basket_bonuses"),
        )
        return cls(
            points_per_currency_unit=fields.decimal("points_per_currency_unit"),
            rounding=fields.choice("rounding", RoundingRule, RoundingRule.DOWN),
            minimum_basket=fields.decimal("minimum_basket"),
            basket_bonuses=fields.objects("basket_bonuses", BasketBonus.from_dict),
        )


@dataclass(frozen=True, slots=True)
class AppliedBasketBonus:
    """A basket bonus that matched a line, with the points it added."""

    label: str
    sku: str
    points: int


@dataclass(frozen=True, slots=True)
class EarnQuote:
    """The points a basket earns and how they add up, for the receipt and the till."""

    base_points: int
    tier_bonus_points: int
    multiplier: Decimal
    basket_bonuses: tuple[AppliedBasketBonus, ...]
    below_minimum_basket: bool

    @property
    def basket_bonus_points(self) -> int:
        """Return the points added by basket bonuses."""
        return sum(bonus.points for bonus in self.basket_bonuses)

    @property
    def total_points(self) -> int:
        """Return every point the basket earns."""
        return self.base_points + self.tier_bonus_points + self.basket_bonus_points


def quote_earn(rules: EarnRules, basket: Basket, multiplier: Decimal = Decimal(1)) -> EarnQuote:
    """Compute the points ``basket`` earns for a member whose tier has ``multiplier``.

    The tier multiplier applies to the base rate only; basket bonuses are
    flat promotions and are not multiplied.
    """
    if basket.amount < rules.minimum_basket:
        return EarnQuote(0, 0, multiplier, (), below_minimum_basket=True)
    spend_points = basket.amount * rules.points_per_currency_unit
    base = round_points(spend_points, rules.rounding)
    with_tier = round_points(spend_points * multiplier, rules.rounding)
    applied: list[AppliedBasketBonus] = []
    for line in basket.lines:
        for bonus in rules.basket_bonuses:
            if not bonus.matches(line):
                continue
            extra = bonus.points_per_item * line.quantity + round_points(
                line.total * bonus.points_per_currency_unit, rules.rounding
            )
            if extra > 0:
                applied.append(AppliedBasketBonus(label=bonus.label, sku=line.sku, points=extra))
    return EarnQuote(
        base_points=base,
        tier_bonus_points=with_tier - base,
        multiplier=multiplier,
        basket_bonuses=tuple(applied),
        below_minimum_basket=False,
    )

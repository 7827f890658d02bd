"""How many points a basket earns: rate, rounding, minimum basket, multipliers, bonuses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wallet_service.loyalty import (
    Basket,
    BasketBonus,
    BasketLine,
    EarnRules,
    RoundingRule,
    quote_earn,
    record_purchase,
)
from wallet_service.loyalty.errors import CurrencyMismatch, InvalidAmount

from .factories import basket, coffee_shop, context, new_ledger


@pytest.mark.parametrize(
    ("rounding", "amount", "points"),
    [
        (RoundingRule.DOWN, "4.99", 7),
        (RoundingRule.HALF_UP, "4.99", 7),
        (RoundingRule.UP, "4.99", 8),
        (RoundingRule.DOWN, "5.00", 7),
        (RoundingRule.HALF_UP, "5.00", 8),
        (RoundingRule.UP, "5.00", 8),
        (RoundingRule.DOWN, "4.00", 6),
        (RoundingRule.HALF_UP, "4.00", 6),
        (RoundingRule.UP, "4.00", 6),
    ],
)
def test_fractional_points_follow_the_program_rounding_rule(
    rounding: RoundingRule, amount: str, points: int
) -> None:
    rules = EarnRules(points_per_currency_unit=Decimal("1.5"), rounding=rounding)

    assert quote_earn(rules, basket(amount)).total_points == points


def test_a_basket_below_the_minimum_earns_nothing_and_at_the_minimum_earns() -> None:
    rules = EarnRules(points_per_currency_unit=Decimal(10), minimum_basket=Decimal("2.00"))

    below = quote_earn(rules, basket("1.99"))
    at_minimum = quote_earn(rules, basket("2.00"))

    assert below.below_minimum_basket and below.total_points == 0
    assert not at_minimum.below_minimum_basket and at_minimum.total_points == 20


def test_the_tier_multiplier_applies_to_the_base_rate_with_a_single_rounding() -> None:
    rules = EarnRules(points_per_currency_unit=Decimal(1), rounding=RoundingRule.DOWN)

    quote = quote_earn(rules, basket("9.99"), multiplier=Decimal("1.5"))

    # 9.99 x 1.5 = 14.985 -> 14; rounding the base first would give 9 x 1.5 = 13.
    assert quote.base_points == 9
    assert quote.tier_bonus_points == 5
    assert quote.total_points == 14


def test_basket_bonuses_add_points_per_item_and_per_currency_unit_of_matching_lines() -> None:
    rules = EarnRules(
        points_per_currency_unit=Decimal(10),
        basket_bonuses=(
            BasketBonus(label="Pastry", category="pastry", points_per_item=5),
            BasketBonus(label="Beans", sku="BEANS-250", points_per_currency_unit=Decimal("2")),
        ),
    )
    lines = (
        BasketLine(sku="CROISSANT", category="pastry", quantity=3, unit_price=Decimal("1.20")),
        BasketLine(sku="BEANS-250", category="beans", quantity=1, unit_price=Decimal("8.50")),
        BasketLine(sku="LATTE", category="coffee", quantity=1, unit_price=Decimal("4.10")),
    )

    quote = quote_earn(rules, Basket.from_lines("EUR", lines), multiplier=Decimal(2))

    assert [(b.label, b.sku, b.points) for b in quote.basket_bonuses] == [
        ("Pastry", "CROISSANT", 15),
        ("Beans", "BEANS-250", 17),
    ]
    # Base: 16.20 EUR x 10 x 2 = 324; bonuses are flat, never multiplied.
    assert quote.total_points == 324 + 15 + 17


def test_every_bonus_matching_a_line_applies() -> None:
    rules = EarnRules(
        points_per_currency_unit=Decimal(0),
        basket_bonuses=(
            BasketBonus(label="Category", category="pastry", points_per_item=1),
            BasketBonus(label="Product", sku="CROISSANT", points_per_item=2),
        ),
    )
    line = BasketLine(sku="CROISSANT", category="pastry", quantity=2, unit_price=Decimal(1))

    assert quote_earn(rules, basket("2.00", line)).total_points == 6


def test_a_basket_must_be_positive_and_exact_in_its_currency() -> None:
    with pytest.raises(InvalidAmount) as caught:
        basket("0.00")
    assert caught.value.code == "invalid_amount"
    with pytest.raises(InvalidAmount):
        basket("10.5", currency="JPY")
    with pytest.raises(InvalidAmount):
        BasketLine(sku="X", quantity=0, unit_price=Decimal(1))


def test_a_purchase_posts_points_as_one_lot_expiring_a_year_later() -> None:
    rules = coffee_shop()
    croissant = BasketLine(
        sku="CROISSANT", category="pastry", quantity=1, unit_price=Decimal("1.80")
    )

    outcome = record_purchase(rules, new_ledger(), basket("4.50", croissant), context())

    [lot] = outcome.posting.ledger.lots()
    assert outcome.earn.total_points == 45 + 5
    assert lot.remaining_points == 50
    assert lot.expires_at is not None
    assert lot.expires_at.year == lot.earned_at.year + 1
    assert outcome.posting.transaction.purchase_amount == Decimal("4.50")


def test_a_purchase_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        record_purchase(coffee_shop(), new_ledger(), basket("4.50", currency="USD"), context())
    assert caught.value.code == "currency_mismatch"


def test_a_small_basket_still_counts_as_a_visit_without_earning() -> None:
    outcome = record_purchase(coffee_shop(), new_ledger(), basket("1.50"), context())

    assert outcome.posting.transaction.entries == ()
    assert outcome.posting.transaction.purchase_amount == Decimal("1.50")
    assert outcome.posting.balances.points == 0

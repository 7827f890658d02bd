"""Rewards: which a member can use now, why the others are not, and what redeeming does."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from wallet_service.loyalty import (
    MemberLedger,
    ProgramRules,
    RewardKind,
    adjust_balances,
    redeem_reward,
    reverse_transaction,
    reward_options,
)
from wallet_service.loyalty.errors import (
    BasketAmountRequired,
    BelowMinimumBasket,
    DomainError,
    InsufficientPoints,
    RewardNotAllowedForTier,
    RewardNotFound,
    RewardNotValidNow,
    RewardOutOfStock,
)
from wallet_service.loyalty.rewards import Reward, check_reward, grant_reward

from .factories import T0, coffee_shop, context, new_ledger

RULES = coffee_shop()


def _member_with(points: int, at: datetime = T0) -> MemberLedger:
    return adjust_balances(
        new_ledger(), context(at, note="opening balance"), points=points, expiry=RULES.expiry
    ).ledger


def test_the_catalog_says_which_rewards_are_usable_and_why_the_others_are_not() -> None:
    ledger = _member_with(250)

    options = {
        option.reward.code: option.codes
        for option in reward_options(RULES, ledger, T0, stock_used={"tasting-session": 20})
    }

    assert options == {
        "free-espresso": (),
        "two-euros-off": (),
        "ten-percent-off": ("reward_not_allowed_for_tier", "insufficient_points"),
        "free-delivery": (),
        "plant-a-tree": (),
        "tasting-session": (
            "reward_not_allowed_for_tier",
            "reward_out_of_stock",
            "insufficient_points",
        ),
    }


@pytest.mark.parametrize(
    ("reward", "kwargs", "error"),
    [
        (
            Reward(code="r", name="R", kind=RewardKind.FREE_SHIPPING, cost_points=10),
            {"points_available": 9},
            InsufficientPoints,
        ),
        (
            Reward(code="r", name="R", kind=RewardKind.FREE_SHIPPING, cost_points=0, stock=5),
            {"stock_used": 5},
            RewardOutOfStock,
        ),
        (
            Reward(
                code="r",
                name="R",
                kind=RewardKind.FREE_SHIPPING,
                cost_points=0,
                allowed_tiers=("gold",),
            ),
            {"tier_code": "silver"},
            RewardNotAllowedForTier,
        ),
        (
            Reward(
                code="r",
                name="R",
                kind=RewardKind.FREE_SHIPPING,
                cost_points=0,
                valid_until=T0,
            ),
            {},
            RewardNotValidNow,
        ),
        (
            Reward(
                code="r",
                name="R",
                kind=RewardKind.FREE_SHIPPING,
                cost_points=0,
                valid_from=T0 + timedelta(seconds=1),
            ),
            {},
            RewardNotValidNow,
        ),
        (
            Reward(
                code="r",
                name="R",
                kind=RewardKind.FIXED_DISCOUNT,
                cost_points=0,
                discount_amount=Decimal(2),
                minimum_basket=Decimal("5.00"),
            ),
            {"basket_amount": Decimal("4.99")},
            BelowMinimumBasket,
        ),
    ],
)
def test_each_reason_a_reward_is_unavailable_has_its_stable_error(
    reward: Reward, kwargs: dict[str, object], error: type[DomainError]
) -> None:
    arguments: dict[str, object] = {
        "points_available": 100,
        "tier_code": "silver",
        "at": T0,
        "currency": "EUR",
    }
    arguments.update(kwargs)

    blockers = check_reward(reward, **arguments)  # type: ignore[arg-type]

    assert [type(blocker) for blocker in blockers] == [error]
    assert blockers[0].details["reward_code"] == "r"


def test_a_reward_is_valid_from_its_start_inclusive_to_its_end_exclusive() -> None:
    reward = Reward(
        code="r",
        name="R",
        kind=RewardKind.FREE_SHIPPING,
        cost_points=0,
        valid_from=T0,
        valid_until=T0 + timedelta(days=1),
    )

    assert reward.is_valid_at(T0)
    assert reward.is_valid_at(T0 + timedelta(days=1) - timedelta(microseconds=1))
    assert not reward.is_valid_at(T0 + timedelta(days=1))


def test_redeeming_takes_the_points_and_says_what_the_till_applies() -> None:
    ledger = _member_with(300)

    redemption = redeem_reward(
        RULES, ledger, "two-euros-off", context(), basket_amount=Decimal("6.40")
    )

    assert redemption.posting.balances.points == 100
    assert redemption.posting.transaction.reward_code == "two-euros-off"
    assert redemption.grant.kind is RewardKind.FIXED_DISCOUNT
    assert redemption.grant.discount_amount == Decimal("2.00")


def test_redeeming_raises_the_first_reason_it_is_unavailable() -> None:
    ledger = _member_with(100)

    with pytest.raises(InsufficientPoints) as caught:
        redeem_reward(RULES, ledger, "free-espresso", context())
    with pytest.raises(BelowMinimumBasket):
        redeem_reward(
            RULES, _member_with(500), "two-euros-off", context(), basket_amount=Decimal(3)
        )
    with pytest.raises(RewardNotFound):
        redeem_reward(RULES, ledger, "free-car", context())

    assert caught.value.code == "insufficient_points"
    assert caught.value.details["required"] == 150
    assert caught.value.details["available"] == 100


def test_a_reward_with_a_minimum_basket_cannot_be_spent_without_saying_the_basket() -> None:
    ledger = _member_with(500)

    with pytest.raises(BasketAmountRequired) as caught:
        redeem_reward(RULES, ledger, "two-euros-off", context())
    # The catalog listing, which cannot know the basket, still offers it.
    options = {o.reward.code: o for o in reward_options(RULES, ledger, T0, stock_used={})}

    assert caught.value.code == "basket_amount_required"
    assert caught.value.details["minimum_basket"] == "5.00"
    assert options["two-euros-off"].usable
    assert redeem_reward(
        RULES, ledger, "two-euros-off", context(), basket_amount=Decimal("5.00")
    ).grant.discount_amount == Decimal("2.00")


def test_a_limited_reward_runs_out_when_its_stock_is_used() -> None:
    rules = ProgramRules.from_dict(
        {
            "currency": "EUR",
            "earn": {"points_per_currency_unit": "1"},
            "rewards": [
                {
                    "code": "mug",
                    "name": "Mug",
                    "kind": "free_product",
                    "cost_points": 10,
                    "product_sku": "MUG",
                    "stock": 2,
                }
            ],
        }
    )
    ledger = _member_with(100)

    redeem_reward(rules, ledger, "mug", context(), stock_used=1)
    with pytest.raises(RewardOutOfStock) as caught:
        redeem_reward(rules, ledger, "mug", context(), stock_used=2)

    assert caught.value.code == "reward_out_of_stock"


def test_grants_compute_the_money_off_for_the_basket() -> None:
    percent = RULES.reward("ten-percent-off")
    fixed = RULES.reward("two-euros-off")
    donation = RULES.reward("plant-a-tree")

    assert grant_reward(percent, Decimal("7.85"), "EUR").discount_amount == Decimal("0.79")
    assert grant_reward(percent, None, "EUR").discount_amount is None
    assert grant_reward(fixed, Decimal("1.50"), "EUR").discount_amount == Decimal("1.50")
    assert grant_reward(donation, None, "EUR").charity_name == "Reforest'Action"
    assert grant_reward(donation, None, "EUR").donation_amount == Decimal("1.00")


def test_reversing_a_redemption_gives_the_points_back() -> None:
    ledger = _member_with(300)
    redemption = redeem_reward(RULES, ledger, "free-espresso", context())

    reversal = reverse_transaction(
        redemption.posting.ledger,
        redemption.posting.transaction.transaction_id,
        context(timedelta(minutes=1)),
    )

    assert reversal.balances.points == 300
    assert [lot.remaining_points for lot in reversal.ledger.lots()] == [300]

"""Program rules round-trip through JSON and reject bad configuration with a path."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet_service.loyalty import (
    BasketBonus,
    EarnRules,
    ProgramRules,
    RewardKind,
    RoundingRule,
)
from wallet_service.loyalty.errors import InvalidProgramRules, RewardNotFound
from wallet_service.loyalty.examples import coffee_shop_rules


def test_the_demo_rules_survive_a_json_round_trip_unchanged() -> None:
    rules = ProgramRules.from_dict(coffee_shop_rules())

    stored = json.dumps(rules.to_dict())

    assert ProgramRules.from_dict(json.loads(stored)) == rules
    assert ProgramRules.from_dict(json.loads(stored)).to_dict() == rules.to_dict()


def test_omitted_sections_take_their_defaults() -> None:
    rules = ProgramRules.from_dict(
        {"currency": "JPY", "earn": {"points_per_currency_unit": "0.01"}}
    )

    assert rules.tiers.entry.code == "member"
    assert rules.cashback is None and rules.stamps is None and rules.expiry is None
    assert rules.earn.rounding is RoundingRule.DOWN
    assert rules.timezone == "UTC"


def test_a_reward_is_found_by_code_and_an_unknown_code_says_so() -> None:
    rules = ProgramRules.from_dict(coffee_shop_rules())

    assert rules.reward("plant-a-tree").kind is RewardKind.DONATION
    with pytest.raises(RewardNotFound) as caught:
        rules.reward("free-car")
    assert caught.value.code == "reward_not_found"


def _edit(path: list[Any], value: object) -> dict[str, object]:
    data: Any = copy.deepcopy(coffee_shop_rules())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return dict(data)


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        (["earn", "points_per_currnecy_unit"], "1", "earn.points_per_currnecy_unit"),
        (["earn", "points_per_currency_unit"], 0.1, "earn.points_per_currency_unit"),
        (["earn", "points_per_currency_unit"], "-1", "earn.points_per_currency_unit"),
        (["earn", "points_per_currency_unit"], "NaN", "earn.points_per_currency_unit"),
        (["earn", "rounding"], "bankers", "earn.rounding"),
        (["earn", "minimum_basket"], "2.005", "earn.minimum_basket"),
        (["earn", "basket_bonuses", 0, "sku"], "CROISSANT", "earn.basket_bonuses[0].sku"),
        (["currency"], "XXX", "currency"),
        (["timezone"], "Mars/Olympus_Mons", "timezone"),
        (["version"], 2, "version"),
        (["tiers", 0, "criteria"], [{"metric": "visits", "threshold": "1"}], "tiers[0].criteria"),
        (["tiers", 1, "criteria"], [], "tiers[1].criteria"),
        (["tiers", 1, "criteria", 0, "threshold"], "2.5", "tiers[1].criteria[0].threshold"),
        (["tiers", 1, "criteria", 1, "threshold"], "60.001", "tiers[1].criteria[1].threshold"),
        (["tiers", 1, "code"], "Regular Tier", "tiers[1].code"),
        (["tiers", 2, "window_days"], 0, "tiers[2].window_days"),
        (["tiers", 2, "code"], "regular", "tiers"),
        (["cashback", "percent"], "101", "cashback.percent"),
        (["stamps", "stamps_per_card"], True, "stamps.stamps_per_card"),
        (["rewards", 0, "product_sku"], None, "rewards[0].product_sku"),
        (["rewards", 1, "discount_percent"], "10", "rewards[1].discount_percent"),
        (["rewards", 2, "allowed_tiers"], ["platinum"], "rewards[2].allowed_tiers"),
        (["rewards", 3, "code"], "free-espresso", "rewards"),
        (["rewards", 5, "valid_until"], "2020-01-01T00:00:00+01:00", "rewards[5].valid_until"),
        (["rewards", 5, "valid_from"], "2025-01-01T00:00:00", "rewards[5].valid_from"),
        (["expiry", "months"], 0, "expiry.months"),
        (["bonuses", "birthday", "timing"], "week", "bonuses.birthday.timing"),
        (["bonuses", "welcome", "points"], 0, "bonuses.welcome.points"),
        (["bonuses", "referral", "referee_points"], -5, "bonuses.referral.referee_points"),
        (["earn"], _DELETE, "earn"),
    ],
)
def test_bad_configuration_is_rejected_with_the_path_of_the_field(
    path: list[Any], value: object, error_path: str
) -> None:
    with pytest.raises(InvalidProgramRules) as caught:
        ProgramRules.from_dict(_edit(path, value))

    assert caught.value.code == "invalid_program_rules"
    assert caught.value.path == error_path
    assert caught.value.to_dict()["details"] == {
        "path": error_path,
        "problem": caught.value.problem,
    }


def test_money_amounts_must_be_exact_in_the_program_currency() -> None:
    data = _edit(["currency"], "JPY")

    with pytest.raises(InvalidProgramRules) as caught:
        ProgramRules.from_dict(data)

    # 2.00 is a whole number of yen; the stamp card's 2.50 is not.
    assert caught.value.path == "stamps.minimum_basket"
    assert "JPY" in caught.value.problem


_decimals = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False)


@given(
    rate=_decimals,
    rounding=st.sampled_from(RoundingRule),
    minimum=st.decimals(min_value=0, max_value=100, places=2),
    per_item=st.integers(min_value=0, max_value=50),
    per_unit=_decimals,
    by_sku=st.booleans(),
)
def test_any_valid_earn_rules_round_trip_exactly(
    rate: Decimal,
    rounding: RoundingRule,
    minimum: Decimal,
    per_item: int,
    per_unit: Decimal,
    by_sku: bool,
) -> None:
    bonuses: tuple[BasketBonus, ...] = ()
    if per_item or per_unit:
        bonuses = (
            BasketBonus(
                label="promo",
                sku="SKU-1" if by_sku else None,
                category=None if by_sku else "cat",
                points_per_item=per_item,
                points_per_currency_unit=per_unit,
            ),
        )
    rules = EarnRules(rate, rounding, minimum, bonuses)

    assert EarnRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules

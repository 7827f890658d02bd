"""Tiers: custom names, mixed criteria, promotion and demotion at window boundaries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from wallet_service.loyalty import (
    CriteriaMode,
    EarnRules,
    MemberLedger,
    ReferralBonusRules,
    TierCriterion,
    TierDefinition,
    TierLadder,
    TierMetric,
    TierMovement,
    award_referral_bonuses,
    evaluate_tier,
    record_purchase,
    reverse_transaction,
)
from wallet_service.loyalty.tiers import tier_movement

from .factories import T0, basket, context, minimal_rules, new_ledger

MICROSECOND = timedelta(microseconds=1)

LADDER = TierLadder(
    (
        TierDefinition(code="apprentice", name="Apprentice"),
        TierDefinition(
            code="keeper",
            name="Keeper of the Whiteness",
            criteria=(TierCriterion(TierMetric.POINTS_EARNED, Decimal(500)),),
            window_days=30,
            multiplier=Decimal("1.5"),
            perks=("Free delivery",),
        ),
        TierDefinition(
            code="jedi",
            name="Grand Jedi Master",
            criteria=(
                TierCriterion(TierMetric.SPEND, Decimal("1000.00")),
                TierCriterion(TierMetric.VISITS, Decimal(10)),
            ),
            mode=CriteriaMode.ALL,
            window_days=365,
            multiplier=Decimal(2),
        ),
    )
)
RULES = minimal_rules(tiers=LADDER)


def _buy(ledger: MemberLedger, amount: str, at: timedelta = timedelta()) -> MemberLedger:
    return record_purchase(RULES, ledger, basket(amount), context(at)).posting.ledger


def test_a_member_starts_in_the_entry_tier_with_progress_to_the_next() -> None:
    status = evaluate_tier(LADDER, new_ledger(), T0)

    assert status.tier.code == "apprentice"
    assert status.progress is not None
    assert status.progress.next_tier.code == "keeper"
    assert status.progress.ratio == 0


def test_promotion_happens_exactly_when_the_threshold_is_reached() -> None:
    ledger = _buy(new_ledger(), "499.00")
    assert evaluate_tier(LADDER, ledger, T0).tier.code == "apprentice"

    outcome = record_purchase(RULES, ledger, basket("1.00"), context(timedelta(minutes=5)))

    assert outcome.tier_before.tier.code == "apprentice"
    assert outcome.tier_after.tier.code == "keeper"
    assert outcome.tier_movement is TierMovement.PROMOTED


def test_activity_stops_counting_exactly_window_days_after_it_happened() -> None:
    ledger = _buy(new_ledger(), "500.00")
    window_end = T0 + timedelta(days=30)

    assert evaluate_tier(LADDER, ledger, window_end - MICROSECOND).tier.code == "keeper"
    assert evaluate_tier(LADDER, ledger, window_end).tier.code == "apprentice"


def test_activity_counts_from_the_instant_it_happens_and_not_before() -> None:
    ledger = _buy(new_ledger(), "500.00")

    assert evaluate_tier(LADDER, ledger, T0 - MICROSECOND).tier.code == "apprentice"
    assert evaluate_tier(LADDER, ledger, T0).tier.code == "keeper"


def test_a_new_purchase_inside_the_window_keeps_the_member_in_the_tier() -> None:
    ledger = _buy(new_ledger(), "500.00")
    ledger = _buy(ledger, "500.00", timedelta(days=29))

    assert evaluate_tier(LADDER, ledger, T0 + timedelta(days=58)).tier.code == "keeper"
    assert evaluate_tier(LADDER, ledger, T0 + timedelta(days=59)).tier.code == "apprentice"


def test_all_criteria_must_hold_under_all_semantics() -> None:
    ledger = new_ledger()
    for day in range(9):
        ledger = _buy(ledger, "200.00", timedelta(days=day))
    assert evaluate_tier(LADDER, ledger, T0 + timedelta(days=9)).tier.code == "keeper"

    ledger = _buy(ledger, "1.00", timedelta(days=9))

    assert evaluate_tier(LADDER, ledger, T0 + timedelta(days=9)).tier.code == "jedi"


def test_one_criterion_is_enough_under_any_semantics() -> None:
    ladder = TierLadder(
        (
            TierDefinition(code="member", name="Member"),
            TierDefinition(
                code="regular",
                name="Regular",
                mode=CriteriaMode.ANY,
                window_days=90,
                criteria=(
                    TierCriterion(TierMetric.VISITS, Decimal(3)),
                    TierCriterion(TierMetric.SPEND, Decimal("60.00")),
                ),
            ),
        )
    )
    big_spender = _buy(new_ledger(), "60.00")
    frequent = _buy(_buy(_buy(new_ledger(), "2.00"), "2.00"), "2.00")

    assert evaluate_tier(ladder, big_spender, T0).tier.code == "regular"
    assert evaluate_tier(ladder, frequent, T0).tier.code == "regular"


def test_referrals_count_towards_a_tier_once_the_referee_has_bought() -> None:
    ladder = TierLadder(
        (
            TierDefinition(code="member", name="Member"),
            TierDefinition(
                code="ambassador",
                name="Ambassador",
                criteria=(TierCriterion(TierMetric.REFERRALS, Decimal(1)),),
            ),
        )
    )
    referee_ledger = _buy(new_ledger(), "10.00")

    award = award_referral_bonuses(
        ReferralBonusRules(referrer_points=0, referee_points=0),
        None,
        referrer_id="alice",
        referrer_ledger=new_ledger(),
        referrer_context=context(),
        referee_id="bob",
        referee_ledger=referee_ledger,
        referee_context=context(),
    )

    assert award.referrer is not None
    assert evaluate_tier(ladder, award.referrer.ledger, T0).tier.code == "ambassador"


def test_a_reversed_purchase_stops_counting_from_the_reversal_instant() -> None:
    ledger = new_ledger()
    purchase = record_purchase(RULES, ledger, basket("500.00"), context())
    reversal = reverse_transaction(
        purchase.posting.ledger,
        purchase.posting.transaction.transaction_id,
        context(timedelta(days=2)),
    )

    after = reversal.ledger
    assert evaluate_tier(LADDER, after, T0 + timedelta(days=1)).tier.code == "keeper"
    assert evaluate_tier(LADDER, after, T0 + timedelta(days=2)).tier.code == "apprentice"


def test_only_points_earned_on_purchases_count_as_points_earned() -> None:
    rules = minimal_rules(tiers=LADDER, earn=EarnRules(points_per_currency_unit=Decimal(2)))
    ledger = record_purchase(rules, new_ledger(), basket("100.00"), context()).posting.ledger

    status = evaluate_tier(LADDER, ledger, T0)

    assert status.progress is not None
    assert status.progress.criteria[0].current == 200


def test_progress_says_how_far_the_next_tier_is_in_english_and_french() -> None:
    ledger = _buy(new_ledger(), "384.00")

    status = evaluate_tier(LADDER, ledger, T0)

    assert status.progress is not None
    assert status.progress.describe("EUR") == "116 points to Keeper of the Whiteness"
    assert (
        status.progress.describe("EUR", locale="fr")
        == "Encore 116 points pour atteindre Keeper of the Whiteness"
    )
    assert status.progress.ratio == Decimal("0.768")


def test_progress_under_all_semantics_lists_every_missing_criterion() -> None:
    ledger = _buy(new_ledger(), "500.00")
    ledger = _buy(ledger, "459.50", timedelta(hours=1))

    status = evaluate_tier(LADDER, ledger, T0 + timedelta(hours=1))

    assert status.tier.code == "keeper"
    assert status.progress is not None
    assert status.progress.describe("EUR") == "€40.50 and 8 visits to Grand Jedi Master"
    assert status.progress.describe("EUR", "fr") == (
        "Encore 40,50\u00a0€ et 8 visites pour atteindre Grand Jedi Master"
    )
    assert status.progress.ratio == Decimal("0.2")


def test_progress_under_any_semantics_shows_the_closest_criterion() -> None:
    ladder = TierLadder(
        (
            TierDefinition(code="member", name="Member"),
            TierDefinition(
                code="regular",
                name="Regular",
                mode=CriteriaMode.ANY,
                criteria=(
                    TierCriterion(TierMetric.VISITS, Decimal(10)),
                    TierCriterion(TierMetric.SPEND, Decimal("60.00")),
                ),
            ),
        )
    )
    ledger = _buy(new_ledger(), "54.00")

    status = evaluate_tier(ladder, ledger, T0)

    assert status.progress is not None
    assert status.progress.describe("EUR") == "€6.00 to Regular"
    assert status.progress.ratio == Decimal("0.9")


def test_the_top_tier_has_no_progress() -> None:
    ladder = TierLadder(LADDER.tiers[:2])
    ledger = _buy(new_ledger(), "500.00")

    assert evaluate_tier(ladder, ledger, T0).progress is None


def test_the_tier_multiplier_boosts_points_on_the_next_purchase() -> None:
    ledger = _buy(new_ledger(), "500.00")

    outcome = record_purchase(RULES, ledger, basket("10.00"), context(timedelta(hours=1)))

    assert outcome.earn.multiplier == Decimal("1.5")
    assert outcome.earn.total_points == 15


def test_tier_movement_compares_positions_on_the_ladder() -> None:
    assert tier_movement(LADDER, "jedi", "keeper") is TierMovement.DEMOTED
    assert tier_movement(LADDER, None, "keeper") is TierMovement.PROMOTED
    assert tier_movement(LADDER, "keeper", "keeper") is TierMovement.UNCHANGED

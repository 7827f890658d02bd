"""A member's year at the demo coffee shop, through the ``LoyaltyProgram`` entry point."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from wallet_service.loyalty import (
    Balances,
    BasketLine,
    LoyaltyProgram,
    MemberLedger,
    ProgramRules,
    TierMovement,
)
from wallet_service.loyalty.examples import coffee_shop_rules

from .factories import basket, context

PARIS = ZoneInfo("Europe/Paris")
JOINED = datetime(2025, 3, 3, 8, 30, tzinfo=PARIS)
PROGRAM = LoyaltyProgram(ProgramRules.from_dict(coffee_shop_rules()))
CROISSANT = BasketLine(sku="CROISSANT", category="pastry", quantity=1, unit_price=Decimal("1.40"))


def _morning(ledger: MemberLedger, day: int) -> MemberLedger:
    at = JOINED + timedelta(days=day)
    return PROGRAM.record_purchase(ledger, basket("4.20", CROISSANT), context(at)).posting.ledger


def test_joining_pays_the_welcome_bonus_and_shows_progress_to_the_next_tier() -> None:
    welcome = PROGRAM.award_welcome_bonus(PROGRAM.new_ledger(), context(JOINED))
    assert welcome is not None

    state = PROGRAM.member_state(welcome.ledger, JOINED)

    assert state.balances == Balances(points=50)
    assert state.tier.tier.name == "Curious"
    # Either criterion makes a Regular; with no activity yet the first one is shown.
    assert state.progress_text() == "8 visits to Regular"
    assert state.progress_text("fr") == "Encore 8 visites pour atteindre Regular"
    assert state.stamps_per_card == 10


def test_eight_morning_visits_make_a_regular_whose_points_grow_faster() -> None:
    ledger = PROGRAM.new_ledger()
    for day in range(7):
        ledger = _morning(ledger, day)
    assert PROGRAM.member_state(ledger, JOINED + timedelta(days=7)).tier.tier.code == "curious"

    eighth = PROGRAM.record_purchase(
        ledger, basket("4.20", CROISSANT), context(JOINED + timedelta(days=7))
    )
    ninth = PROGRAM.record_purchase(
        eighth.posting.ledger, basket("4.20", CROISSANT), context(JOINED + timedelta(days=8))
    )

    assert eighth.tier_movement is TierMovement.PROMOTED
    assert eighth.earn.total_points == 42 + 5
    # 4.20 x 10 x 1.25 = 52.5 -> 52, plus the flat pastry bonus.
    assert ninth.earn.total_points == 52 + 5
    assert ninth.posting.balances.stamps == 9


def test_a_mistaken_scan_is_reversed_and_a_reward_redeemed_at_the_till() -> None:
    ledger = PROGRAM.new_ledger()
    for day in range(5):
        ledger = _morning(ledger, day)
    wrong = PROGRAM.record_purchase(ledger, basket("48.00"), context(JOINED + timedelta(days=5)))
    undone = PROGRAM.reverse(
        wrong.posting.ledger,
        wrong.posting.transaction.transaction_id,
        context(JOINED + timedelta(days=5, minutes=2), note="scanned the wrong card"),
    )
    assert undone.balances == ledger.balances

    redemption = PROGRAM.redeem_reward(
        undone.ledger,
        "free-espresso",
        context(JOINED + timedelta(days=6)),
        basket_amount=Decimal("3.10"),
    )

    assert redemption.grant.product_sku == "ESPRESSO"
    assert redemption.posting.balances.points == 5 * 47 - 150


def test_referral_birthday_and_expiry_over_a_year() -> None:
    alice = _morning(PROGRAM.new_ledger(), 0)
    bob = PROGRAM.record_purchase(
        PROGRAM.new_ledger(), basket("12.00"), context(JOINED + timedelta(days=3))
    ).posting.ledger
    award = PROGRAM.award_referral_bonuses(
        referrer_id="alice",
        referrer_ledger=alice,
        referrer_context=context(JOINED + timedelta(days=3)),
        referee_id="bob",
        referee_ledger=bob,
        referee_context=context(JOINED + timedelta(days=3)),
    )
    assert award.referrer is not None and award.referee is not None
    alice = award.referrer.ledger
    assert alice.balances.points == 47 + 300

    birthday = PROGRAM.award_birthday_bonus(
        alice, date(1991, 4, 20), context(datetime(2025, 4, 2, 9, tzinfo=PARIS))
    )
    assert birthday is not None
    alice = birthday.ledger

    reminder = PROGRAM.member_state(alice, datetime(2026, 2, 10, tzinfo=PARIS)).expiring_soon
    assert reminder.points == 47 + 300
    expired = PROGRAM.expire_due_points(alice, context(datetime(2026, 3, 7, tzinfo=PARIS)))
    assert expired is not None
    assert expired.balances.points == 200
    assert (
        PROGRAM.expire_due_points(expired.ledger, context(datetime(2026, 3, 8, tzinfo=PARIS)))
        is None
    )


def test_stored_history_reloads_into_the_same_state() -> None:
    ledger = PROGRAM.new_ledger()
    for day in range(12):
        ledger = _morning(ledger, day)
    at = JOINED + timedelta(days=12)

    reloaded = PROGRAM.load_ledger(ledger.transactions)

    assert PROGRAM.member_state(reloaded, at) == PROGRAM.member_state(ledger, at)

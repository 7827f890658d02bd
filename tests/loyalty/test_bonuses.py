"""Bonuses: welcome once, birthday once a year, referral to both sides once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from wallet_service.loyalty import (
    BirthdayBonusRules,
    BirthdayTiming,
    BonusKind,
    LedgerTransaction,
    MemberLedger,
    ReferralBonusRules,
    TransactionKind,
    WelcomeBonusRules,
    award_birthday_bonus,
    award_referral_bonuses,
    award_welcome_bonus,
    record_purchase,
    reverse_transaction,
)
from wallet_service.loyalty.bonuses import is_birthday_bonus_day
from wallet_service.loyalty.errors import BonusAlreadyAwarded, InvalidReferral

from .factories import basket, coffee_shop, context, new_ledger

PARIS = ZoneInfo("Europe/Paris")
BIRTHDAY = date(1990, 6, 12)
MONTHLY = BirthdayBonusRules(points=200, timing=BirthdayTiming.MONTH)
ON_THE_DAY = BirthdayBonusRules(points=200, timing=BirthdayTiming.DAY)
REFERRAL = ReferralBonusRules(
    referrer_points=300, referee_points=150, minimum_first_purchase=Decimal("5.00")
)


def _paris(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


def _birthday(ledger: MemberLedger, rules: BirthdayBonusRules, at: datetime) -> MemberLedger | None:
    posting = award_birthday_bonus(
        rules, None, ledger, birthday=BIRTHDAY, timezone=PARIS, context=context(at)
    )
    return None if posting is None else posting.ledger


def test_the_welcome_bonus_is_paid_once() -> None:
    first = award_welcome_bonus(WelcomeBonusRules(points=50), None, new_ledger(), context())

    assert first is not None and first.balances.points == 50
    assert award_welcome_bonus(WelcomeBonusRules(50), None, first.ledger, context()) is None
    assert award_welcome_bonus(None, None, new_ledger(), context()) is None


def test_the_birthday_bonus_is_paid_once_per_year_in_the_birthday_month() -> None:
    ledger = new_ledger()

    assert _birthday(ledger, MONTHLY, _paris(2025, 5, 31)) is None
    june_1st = _birthday(ledger, MONTHLY, _paris(2025, 6, 1))
    assert june_1st is not None and june_1st.balances.points == 200
    assert _birthday(june_1st, MONTHLY, _paris(2025, 6, 12)) is None
    next_year = _birthday(june_1st, MONTHLY, _paris(2026, 6, 30))
    assert next_year is not None and next_year.balances.points == 400


def test_an_on_the_day_birthday_bonus_is_paid_only_on_the_day_in_local_time() -> None:
    ledger = new_ledger()

    assert _birthday(ledger, ON_THE_DAY, _paris(2025, 6, 11, hour=23)) is None
    # 22:30 UTC on the 11th is already the 12th in Paris.
    late_utc = datetime(2025, 6, 11, 22, 30, tzinfo=UTC)
    paid = _birthday(ledger, ON_THE_DAY, late_utc)
    assert paid is not None
    assert _birthday(paid, ON_THE_DAY, _paris(2025, 6, 12, hour=18)) is None


def test_a_leap_day_birthday_is_celebrated_on_february_28th_in_common_years() -> None:
    leap_day = date(2000, 2, 29)

    assert is_birthday_bonus_day(ON_THE_DAY, leap_day, date(2025, 2, 28))
    assert not is_birthday_bonus_day(ON_THE_DAY, leap_day, date(2024, 2, 28))
    assert is_birthday_bonus_day(ON_THE_DAY, leap_day, date(2024, 2, 29))


def test_a_reversed_birthday_bonus_is_not_paid_again_the_same_year() -> None:
    paid = award_birthday_bonus(
        MONTHLY,
        None,
        new_ledger(),
        birthday=BIRTHDAY,
        timezone=PARIS,
        context=context(_paris(2025, 6, 1)),
    )
    assert paid is not None
    reversed_ledger = reverse_transaction(
        paid.ledger, paid.transaction.transaction_id, context(_paris(2025, 6, 2))
    ).ledger

    assert _birthday(reversed_ledger, MONTHLY, _paris(2025, 6, 3)) is None


def test_the_ledger_refuses_a_second_bonus_with_the_same_key() -> None:
    paid = award_welcome_bonus(WelcomeBonusRules(50), None, new_ledger(), context())
    assert paid is not None
    duplicate = LedgerTransaction(
        transaction_id="other",
        kind=TransactionKind.BONUS,
        occurred_at=paid.transaction.occurred_at,
        bonus_kind=BonusKind.WELCOME,
        bonus_reference="welcome",
    )

    with pytest.raises(BonusAlreadyAwarded) as caught:
        paid.ledger.append(duplicate)
    assert caught.value.code == "bonus_already_awarded"


def _referral(
    referrer: MemberLedger, referee: MemberLedger, referrer_id: str = "alice"
) -> tuple[MemberLedger, MemberLedger, bool, bool]:
    award = award_referral_bonuses(
        REFERRAL,
        None,
        referrer_id=referrer_id,
        referrer_ledger=referrer,
        referrer_context=context(),
        referee_id="bob",
        referee_ledger=referee,
        referee_context=context(),
    )
    return (
        referrer if award.referrer is None else award.referrer.ledger,
        referee if award.referee is None else award.referee.ledger,
        award.referrer is not None,
        award.referee is not None,
    )


def _bob_after_buying(amount: str) -> MemberLedger:
    return record_purchase(coffee_shop(), new_ledger(), basket(amount), context()).posting.ledger


def test_the_referral_pays_nothing_before_the_referee_first_qualifying_purchase() -> None:
    _, _, referrer_paid, referee_paid = _referral(new_ledger(), new_ledger())
    assert (referrer_paid, referee_paid) == (False, False)

    _, _, referrer_paid, referee_paid = _referral(new_ledger(), _bob_after_buying("4.99"))
    assert (referrer_paid, referee_paid) == (False, False)


def test_the_referral_pays_both_sides_once_after_the_first_purchase() -> None:
    bob = _bob_after_buying("5.00")
    bob_points_before = bob.balances.points

    alice, bob, referrer_paid, referee_paid = _referral(new_ledger(), bob)
    assert (referrer_paid, referee_paid) == (True, True)
    assert alice.balances.points == 300
    assert bob.balances.points == bob_points_before + 150

    alice, bob, referrer_paid, referee_paid = _referral(alice, bob)
    assert (referrer_paid, referee_paid) == (False, False)
    assert alice.balances.points == 300


def test_a_retry_after_a_partial_failure_pays_only_the_missing_side() -> None:
    bob = _bob_after_buying("5.00")
    _, bob_paid, _, _ = _referral(new_ledger(), bob)

    alice, _, referrer_paid, referee_paid = _referral(new_ledger(), bob_paid)

    assert (referrer_paid, referee_paid) == (True, False)
    assert alice.balances.points == 300


def test_a_member_cannot_refer_themselves_or_be_referred_twice() -> None:
    bob = _bob_after_buying("5.00")
    _, bob_paid, _, _ = _referral(new_ledger(), bob)

    with pytest.raises(InvalidReferral) as caught:
        _referral(new_ledger(), bob_paid, referrer_id="carol")
    assert caught.value.code == "invalid_referral"
    with pytest.raises(InvalidReferral):
        _referral(new_ledger(), bob, referrer_id="bob")


def test_a_reversed_first_purchase_does_not_qualify_a_referral() -> None:
    purchase = record_purchase(coffee_shop(), new_ledger(), basket("9.00"), context())
    bob = reverse_transaction(
        purchase.posting.ledger,
        purchase.posting.transaction.transaction_id,
        context(timedelta(minutes=1)),
    ).ledger

    _, _, referrer_paid, referee_paid = _referral(new_ledger(), bob)

    assert (referrer_paid, referee_paid) == (False, False)

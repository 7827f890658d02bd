"""Once-only bonuses: welcome, birthday (once a year), referral (both sides, once).

Each award function is safe to call repeatedly (from enrollment, a daily job,
every purchase): it returns ``None`` when nothing is due and never pays the
same bonus twice, because every bonus transaction carries a once-only key
(``bonus_kind`` + ``bonus_reference``) that the ledger refuses to repeat.
A reversed bonus stays "awarded": staff who reverse it mean it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from enum import StrEnum

from wallet_service.loyalty._config import Fields, check, decimal_to_json
from wallet_service.loyalty.entries import (
    BonusKind,
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import InvalidReferral
from wallet_service.loyalty.expiry import ExpiryRules, lot_expiry
from wallet_service.loyalty.ledger import MemberLedger, Posting

__all__ = [
    "BirthdayBonusRules",
    "BirthdayTiming",
    "BonusRules",
    "ReferralAward",
    "ReferralBonusRules",
    "WelcomeBonusRules",
    "award_birthday_bonus",
    "award_referral_bonuses",
    "award_welcome_bonus",
    "is_birthday_bonus_day",
]

_WELCOME_REFERENCE = "welcome"
# A member can be referred once, whoever referred them: one fixed key per member.
_REFEREE_REFERENCE = "referred"


class BirthdayTiming(StrEnum):
    """Pay the birthday bonus any day of the birthday month, or on the day itself."""

    MONTH = "month"
    DAY = "day"


def _check_points(value: int, field: str, *, allow_zero: bool = False) -> None:
    minimum = 0 if allow_zero else 1
    check(type(value) is int and value >= minimum, field, f"must be an integer >= {minimum}")


@dataclass(frozen=True, slots=True)
class WelcomeBonusRules:
    """Points credited once, when a member joins."""

    points: int

    def __post_init__(self) -> None:
        _check_points(self.points, "points")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {"points": self.points}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> WelcomeBonusRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=("points",), optional=())
        return cls(points=fields.integer("points"))


@dataclass(frozen=True, slots=True)
class BirthdayBonusRules:
    """Points credited once per calendar year, in the birthday month or on the day."""

    points: int
    timing: BirthdayTiming = BirthdayTiming.MONTH

    def __post_init__(self) -> None:
        _check_points(self.points, "points")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {"points": self.points, "timing": self.timing.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BirthdayBonusRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=("points",), optional=("timing",))
        return cls(
            points=fields.integer("points"),
            timing=fields.choice("timing", BirthdayTiming, BirthdayTiming.MONTH),
        )


@dataclass(frozen=True, slots=True)
class ReferralBonusRules:
    """Points for both sides once the referee has made a first qualifying purchase.

    Zero points on a side still records the referral, because referrals can
    count towards tiers.
    """

    referrer_points: int
    referee_points: int
    minimum_first_purchase: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _check_points(self.referrer_points, "referrer_points", allow_zero=True)
        _check_points(self.referee_points, "referee_points", allow_zero=True)
        check(self.minimum_first_purchase >= 0, "minimum_first_purchase", "must be >= 0")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "referrer_points": self.referrer_points,
            "referee_points": self.referee_points,
            "minimum_first_purchase": decimal_to_json(self.minimum_first_purchase),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ReferralBonusRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("referrer_points", "referee_points"),
            optional=("minimum_first_purchase",),
        )
        return cls(
            referrer_points=fields.integer("referrer_points"),
            referee_points=fields.integer("referee_points"),
            minimum_first_purchase=fields.decimal("minimum_first_purchase"),
        )


@dataclass(frozen=True, slots=True)
class BonusRules:
    """The program's bonuses; ``None`` disables one."""

    welcome: WelcomeBonusRules | None = None
    birthday: BirthdayBonusRules | None = None
    referral: ReferralBonusRules | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "welcome": None if self.welcome is None else self.welcome.to_dict(),
            "birthday": None if self.birthday is None else self.birthday.to_dict(),
            "referral": None if self.referral is None else self.referral.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BonusRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=(), optional=("welcome", "birthday", "referral"))
        return cls(
            welcome=fields.section("welcome", WelcomeBonusRules.from_dict),
            birthday=fields.section("birthday", BirthdayBonusRules.from_dict),
            referral=fields.section("referral", ReferralBonusRules.from_dict),
        )


def _post_bonus(
    ledger: MemberLedger,
    context: TransactionContext,
    *,
    kind: BonusKind,
    reference: str,
    points: int,
    expiry: ExpiryRules | None,
    related_member_id: str | None = None,
) -> Posting:
    entries: tuple[LedgerEntry, ...] = ()
    if points > 0:
        entries = (
            LedgerEntry(
                entry_id=context.entry_id(0),
                kind=EntryKind.BONUS,
                points=points,
                lot_expires_at=lot_expiry(expiry, context.occurred_at),
            ),
        )
    transaction = LedgerTransaction.from_context(
        TransactionKind.BONUS,
        context,
        entries,
        bonus_kind=kind,
        bonus_reference=reference,
        related_member_id=related_member_id,
    )
    return ledger.post(transaction)


def award_welcome_bonus(
    rules: WelcomeBonusRules | None,
    expiry: ExpiryRules | None,
    ledger: MemberLedger,
    context: TransactionContext,
) -> Posting | None:
    """Credit the welcome bonus unless the program has none or it was already paid."""
    if rules is None or ledger.has_bonus(BonusKind.WELCOME):
        return None
    return _post_bonus(
        ledger,
        context,
        kind=BonusKind.WELCOME,
        reference=_WELCOME_REFERENCE,
        points=rules.points,
        expiry=expiry,
    )


def is_birthday_bonus_day(rules: BirthdayBonusRules, birthday: date, today: date) -> bool:
    """Tell whether ``today`` (the merchant's local date) is a day to pay the bonus.

    On-the-day programs pay a 29 February birthday on 28 February in common years.
    """
    if rules.timing is BirthdayTiming.MONTH:
        return today.month == birthday.month
    last_day = calendar.monthrange(today.year, birthday.month)[1]
    return (today.month, today.day) == (birthday.month, min(birthday.day, last_day))


def award_birthday_bonus(
    rules: BirthdayBonusRules | None,
    expiry: ExpiryRules | None,
    ledger: MemberLedger,
    *,
    birthday: date | None,
    timezone: tzinfo,
    context: TransactionContext,
) -> Posting | None:
    """Credit this year's birthday bonus if today (in ``timezone``) qualifies and it is unpaid."""
    if rules is None or birthday is None:
        return None
    today = context.occurred_at.astimezone(timezone).date()
    reference = str(today.year)
    if not is_birthday_bonus_day(rules, birthday, today):
        return None
    if ledger.has_bonus(BonusKind.BIRTHDAY, reference):
        return None
    return _post_bonus(
        ledger,
        context,
        kind=BonusKind.BIRTHDAY,
        reference=reference,
        points=rules.points,
        expiry=expiry,
    )


@dataclass(frozen=True, slots=True)
class ReferralAward:
    """The postings made for a referral; ``None`` for a side not (or already) paid."""

    referrer: Posting | None = None
    referee: Posting | None = None


def _has_qualifying_purchase(ledger: MemberLedger, minimum: Decimal) -> bool:
    return any(
        transaction.kind is TransactionKind.PURCHASE
        and transaction.purchase_amount is not None
        and transaction.purchase_amount >= minimum
        and not ledger.is_reversed(transaction.transaction_id)
        for transaction in ledger.transactions
    )


def _referee_bonus(ledger: MemberLedger) -> LedgerTransaction | None:
    return next(
        (t for t in ledger.transactions if t.bonus_kind is BonusKind.REFERRAL_REFEREE), None
    )


def award_referral_bonuses(
    rules: ReferralBonusRules | None,
    expiry: ExpiryRules | None,
    *,
    referrer_id: str,
    referrer_ledger: MemberLedger,
    referrer_context: TransactionContext,
    referee_id: str,
    referee_ledger: MemberLedger,
    referee_context: TransactionContext,
) -> ReferralAward:
    """Pay both sides of a referral once the referee has made a qualifying purchase.

    Call it after each of the referee's purchases until it pays. Each side is
    keyed separately (the referrer once per referee, the referee once ever),
    so a retry after a partial failure pays only the missing side.
    """
    if referrer_id == referee_id:
        raise InvalidReferral("a member cannot refer themselves", member_id=referrer_id)
    earlier = _referee_bonus(referee_ledger)
    if earlier is not None and earlier.related_member_id != referrer_id:
        raise InvalidReferral(
            "the referee was referred by another member",
            member_id=referee_id,
            referred_by=earlier.related_member_id,
        )
    if rules is None or not _has_qualifying_purchase(referee_ledger, rules.minimum_first_purchase):
        return ReferralAward()
    referrer_posting = None
    if not referrer_ledger.has_bonus(BonusKind.REFERRAL_REFERRER, referee_id):
        referrer_posting = _post_bonus(
            referrer_ledger,
            referrer_context,
            kind=BonusKind.REFERRAL_REFERRER,
            reference=referee_id,
            points=rules.referrer_points,
            expiry=expiry,
            related_member_id=referee_id,
        )
    referee_posting = None
    if earlier is None:
        referee_posting = _post_bonus(
            referee_ledger,
            referee_context,
            kind=BonusKind.REFERRAL_REFEREE,
            reference=_REFEREE_REFERENCE,
            points=rules.referee_points,
            expiry=expiry,
            related_member_id=referrer_id,
        )
    return ReferralAward(referrer=referrer_posting, referee=referee_posting)

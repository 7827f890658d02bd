"""Tiers: named levels reached by mixed criteria over a rolling window.

A ladder is an ordered list of tiers with the merchant's own names; the first
is the entry tier every member holds. Each higher tier lists criteria over its
own rolling window of ``window_days`` (spend, visits, points earned,
referrals) combined with ``all`` or ``any``. A member's tier at an instant is
the highest tier whose criteria hold for the activity in ``(at - window, at]``,
so promotion and demotion are the same computation: activity that leaves the
window stops counting at exactly ``window_days`` after it happened.
Reversals count from the instant they were posted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from wallet_service.loyalty._config import Fields, check, decimal_to_json, nested, read_object
from wallet_service.loyalty.amounts import format_money
from wallet_service.loyalty.entries import BonusKind, EntryKind, TransactionKind
from wallet_service.loyalty.ledger import MemberLedger

__all__ = [
    "CriteriaMode",
    "CriterionProgress",
    "TierActivity",
    "TierCriterion",
    "TierDefinition",
    "TierLadder",
    "TierMetric",
    "TierMovement",
    "TierProgress",
    "TierStatus",
    "evaluate_tier",
    "measure_activity",
    "tier_movement",
]

_CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_MAX_WINDOW_DAYS = 3650
_ONE = Decimal(1)
_RATIO_STEP = Decimal("0.0001")


class TierMetric(StrEnum):
    """An activity measured over a tier's window."""

    SPEND = "spend"
    VISITS = "visits"
    POINTS_EARNED = "points_earned"
    REFERRALS = "referrals"


class CriteriaMode(StrEnum):
    """Whether every criterion (``all``) or a single one (``any``) must hold."""

    ALL = "all"
    ANY = "any"


class TierMovement(StrEnum):
    """How a member's tier changed between two evaluations."""

    PROMOTED = "promoted"
    DEMOTED = "demoted"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class TierCriterion:
    """``metric`` must reach ``threshold`` (money for spend, a count otherwise)."""

    metric: TierMetric
    threshold: Decimal

    def __post_init__(self) -> None:
        check(self.threshold > 0, "threshold", "must be positive")
        if self.metric is not TierMetric.SPEND:
            check(
                self.threshold == self.threshold.to_integral_value(),
                "threshold",
                f"{self.metric} is counted in whole numbers",
            )

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form, e.g. ``{"metric": "visits", "threshold": "10"}``."""
        return {"metric": self.metric.value, "threshold": decimal_to_json(self.threshold)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TierCriterion:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=("metric", "threshold"), optional=())
        return cls(
            metric=fields.choice("metric", TierMetric),
            threshold=fields.decimal("threshold"),
        )


@dataclass(frozen=True, slots=True)
class TierDefinition:
    """A tier: its stable ``code``, display ``name``, how it is reached and what it gives."""

    code: str
    name: str
    criteria: tuple[TierCriterion, ...] = ()
    mode: CriteriaMode = CriteriaMode.ALL
    window_days: int = 365
    multiplier: Decimal = _ONE
    perks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check(bool(_CODE_PATTERN.match(self.code)), "code", "must match [a-z0-9][a-z0-9_-]{0,39}")
        check(bool(self.name.strip()), "name", "must not be blank")
        check(
            type(self.window_days) is int and 1 <= self.window_days <= _MAX_WINDOW_DAYS,
            "window_days",
            f"must be an integer between 1 and {_MAX_WINDOW_DAYS}",
        )
        check(self.multiplier > 0, "multiplier", "must be positive")
        metrics = [criterion.metric for criterion in self.criteria]
        check(len(metrics) == len(set(metrics)), "criteria", "lists each metric at most once")

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "code": self.code,
            "name": self.name,
            "criteria": [criterion.to_dict() for criterion in self.criteria],
            "mode": self.mode.value,
            "window_days": self.window_days,
            "multiplier": decimal_to_json(self.multiplier),
            "perks": list(self.perks),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TierDefinition:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("code", "name"),
            optional=("criteria", "mode", "window_days", "multiplier", "perks"),
        )
        return cls(
            code=fields.text("code"),
            name=fields.text("name", max_length=80),
            criteria=fields.objects("criteria", TierCriterion.from_dict),
            mode=fields.choice("mode", CriteriaMode, CriteriaMode.ALL),
            window_days=fields.integer("window_days", 365, minimum=1),
            multiplier=fields.decimal("multiplier", _ONE),
            perks=fields.texts("perks", max_length=300),
        )


@dataclass(frozen=True, slots=True)
class TierLadder:
    """Tiers from the entry tier (no criteria) upwards."""

    tiers: tuple[TierDefinition, ...]

    def __post_init__(self) -> None:
        check(len(self.tiers) >= 1, "", "needs at least the entry tier")
        check(not self.tiers[0].criteria, "[0].criteria", "the entry tier has no criteria")
        for index, tier in enumerate(self.tiers[1:], start=1):
            check(bool(tier.criteria), f"[{index}].criteria", "a higher tier needs criteria")
        codes = [tier.code for tier in self.tiers]
        check(len(codes) == len(set(codes)), "", "tier codes must be unique")

    @classmethod
    def single(cls, code: str = "member", name: str = "Member") -> TierLadder:
        """Return a one-tier ladder, for programs without status levels."""
        return cls((TierDefinition(code=code, name=name),))

    @property
    def entry(self) -> TierDefinition:
        """Return the tier every member starts in."""
        return self.tiers[0]

    def rank(self, code: str) -> int:
        """Return the position of a tier (0 = entry); unknown codes rank as the entry tier."""
        for index, tier in enumerate(self.tiers):
            if tier.code == code:
                return index
        return 0

    def tier(self, code: str) -> TierDefinition:
        """Return the tier with ``code``, or the entry tier if it no longer exists."""
        return self.tiers[self.rank(code)]

    def to_list(self) -> list[dict[str, object]]:
        """Return the JSON-able form: a list of tier objects."""
        return [tier.to_dict() for tier in self.tiers]

    @classmethod
    def from_list(cls, data: Sequence[object]) -> TierLadder:
        """Parse the form produced by ``to_list``; raises ``InvalidProgramRules``."""
        tiers: list[TierDefinition] = []
        for index, item in enumerate(data):
            with nested(f"[{index}]"):
                tiers.append(TierDefinition.from_dict(read_object(item, "")))
        return cls(tuple(tiers))


@dataclass(frozen=True, slots=True)
class TierActivity:
    """What a member did in ``(window_start, window_end]``."""

    window_start: datetime
    window_end: datetime
    spend: Decimal
    visits: int
    points_earned: int
    referrals: int

    def value(self, metric: TierMetric) -> Decimal:
        """Return the measure of ``metric`` as a Decimal."""
        return {
            TierMetric.SPEND: self.spend,
            TierMetric.VISITS: Decimal(self.visits),
            TierMetric.POINTS_EARNED: Decimal(self.points_earned),
            TierMetric.REFERRALS: Decimal(self.referrals),
        }[metric]


def measure_activity(ledger: MemberLedger, at: datetime, window_days: int) -> TierActivity:
    """Measure activity in ``(at - window_days, at]``, ignoring what was reversed by ``at``.

    Visits and spend come from purchases, points earned from their earn
    entries (bonuses and corrections are not status-worthy), referrals from
    referrer bonuses.
    """
    start = at - timedelta(days=window_days)
    spend = Decimal(0)
    visits = points_earned = referrals = 0
    for transaction in ledger.transactions:
        if not start < transaction.occurred_at <= at:
            continue
        if ledger.is_reversed(transaction.transaction_id, as_of=at):
            continue
        if transaction.kind is TransactionKind.PURCHASE and transaction.purchase_amount:
            visits += 1
            spend += transaction.purchase_amount
            points_earned += sum(
                entry.points for entry in transaction.entries if entry.kind is EntryKind.EARN
            )
        elif transaction.bonus_kind is BonusKind.REFERRAL_REFERRER:
            referrals += 1
    return TierActivity(start, at, spend, visits, points_earned, referrals)


# Progress texts exist in the two languages the pass templates ship in.
_NOUNS: Mapping[str, Mapping[TierMetric, tuple[str, str]]] = {
    "en": {
        TierMetric.VISITS: ("visit", "visits"),
        TierMetric.POINTS_EARNED: ("point", "points"),
        TierMetric.REFERRALS: ("referral", "referrals"),
    },
    "fr": {
        TierMetric.VISITS: ("visite", "visites"),
        TierMetric.POINTS_EARNED: ("point", "points"),
        TierMetric.REFERRALS: ("parrainage", "parrainages"),
    },
}


@dataclass(frozen=True, slots=True)
class CriterionProgress:
    """Where a member stands on one criterion of the next tier."""

    metric: TierMetric
    threshold: Decimal
    current: Decimal

    @property
    def remaining(self) -> Decimal:
        """Return what is still missing (zero once met)."""
        return max(self.threshold - self.current, Decimal(0))

    @property
    def ratio(self) -> Decimal:
        """Return progress between 0 and 1."""
        return min(self.current / self.threshold, _ONE).quantize(_RATIO_STEP, ROUND_FLOOR)

    def describe_gap(self, currency: str, locale: str) -> str:
        """Say what is missing: ``"116 points"``, ``"2 visites"``, ``"€40.00"``."""
        if self.metric is TierMetric.SPEND:
            return format_money(self.remaining, currency, locale)
        count = int(self.remaining)
        nouns = _NOUNS[locale if locale in _NOUNS else "en"][self.metric]
        return f"{count} {nouns[0] if count == 1 else nouns[1]}"


@dataclass(frozen=True, slots=True)
class TierProgress:
    """Progress towards the tier just above the member's, for the card's gauge and text."""

    next_tier: TierDefinition
    criteria: tuple[CriterionProgress, ...]

    @property
    def ratio(self) -> Decimal:
        """Return 0..1: the weakest criterion under ``all``, the strongest under ``any``."""
        ratios = [criterion.ratio for criterion in self.criteria]
        return min(ratios) if self.next_tier.mode is CriteriaMode.ALL else max(ratios)

    def gaps(self) -> tuple[CriterionProgress, ...]:
        """Return the criteria to work on: every unmet one, or the closest under ``any``."""
        unmet = tuple(criterion for criterion in self.criteria if criterion.remaining > 0)
        if self.next_tier.mode is CriteriaMode.ANY and unmet:
            return (max(unmet, key=lambda criterion: criterion.ratio),)
        return unmet

    def describe(self, currency: str, locale: str = "en") -> str:
        """Say it like the card does: ``"116 points to Silver"``, ``"Encore 116 points ..."``."""
        parts = [gap.describe_gap(currency, locale) for gap in self.gaps()]
        if locale == "fr":
            return f"Encore {_join(parts, ' et ')} pour atteindre {self.next_tier.name}"
        return f"{_join(parts, ' and ')} to {self.next_tier.name}"


def _join(parts: Sequence[str], last_separator: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + last_separator + parts[-1]


@dataclass(frozen=True, slots=True)
class TierStatus:
    """A member's tier at ``as_of`` and the progress to the next one (``None`` at the top)."""

    tier: TierDefinition
    as_of: datetime
    progress: TierProgress | None


def _qualifies(tier: TierDefinition, activity: TierActivity) -> bool:
    met = [activity.value(c.metric) >= c.threshold for c in tier.criteria]
    return all(met) if tier.mode is CriteriaMode.ALL else any(met)


def evaluate_tier(ladder: TierLadder, ledger: MemberLedger, at: datetime) -> TierStatus:
    """Return the highest tier whose criteria hold at ``at``, with progress to the next."""
    return ledger.derived(("tier", ladder, at), lambda: _evaluate_tier(ladder, ledger, at))


def _evaluate_tier(ladder: TierLadder, ledger: MemberLedger, at: datetime) -> TierStatus:
    by_window: dict[int, TierActivity] = {}

    def activity_for(tier: TierDefinition) -> TierActivity:
        if tier.window_days not in by_window:
            by_window[tier.window_days] = measure_activity(ledger, at, tier.window_days)
        return by_window[tier.window_days]

    reached = 0
    for index, tier in enumerate(ladder.tiers[1:], start=1):
        if _qualifies(tier, activity_for(tier)):
            reached = index
    progress = None
    if reached + 1 < len(ladder.tiers):
        next_tier = ladder.tiers[reached + 1]
        activity = activity_for(next_tier)
        progress = TierProgress(
            next_tier=next_tier,
            criteria=tuple(
                CriterionProgress(c.metric, c.threshold, activity.value(c.metric))
                for c in next_tier.criteria
            ),
        )
    return TierStatus(tier=ladder.tiers[reached], as_of=at, progress=progress)


def tier_movement(ladder: TierLadder, previous_code: str | None, current_code: str) -> TierMovement:
    """Compare two tier codes on ``ladder`` (``None`` = a new member, in the entry tier)."""
    before = ladder.rank(previous_code) if previous_code is not None else 0
    after = ladder.rank(current_code)
    if after > before:
        return TierMovement.PROMOTED
    if after < before:
        return TierMovement.DEMOTED
    return TierMovement.UNCHANGED

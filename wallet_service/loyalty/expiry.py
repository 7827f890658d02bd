"""Point expiry: lots die N months after they were earned, oldest first.

The expiry date is fixed on the lot when it is opened (``lot_expires_at``), so
changing the program's rule later never shortens points already earned.
``expire_due_points`` is the job's pure core: given the ledger and "now" it
builds the expiry transaction (one ``expire`` entry per lot due) or ``None``.
``points_expiring_soon`` feeds the "your points expire soon" reminders.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from wallet_service.loyalty._config import Fields, check
from wallet_service.loyalty.entries import (
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.ledger import MemberLedger, PointsLot, Posting

__all__ = [
    "ExpiryForecast",
    "ExpiryRules",
    "add_months",
    "expire_due_points",
    "lot_expiry",
    "points_expiring_soon",
]

# Ten years: beyond that a typo ("120" meant as days) is more likely than intent.
_MAX_MONTHS = 120


def add_months(moment: datetime, months: int) -> datetime:
    """Return ``moment`` moved ``months`` calendar months ahead, clamping to the month's end.

    >>> add_months(datetime(2024, 1, 31), 1)
    datetime.datetime(2024, 2, 29, 0, 0)
    """
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class ExpiryRules:
    """Points expire ``months`` after the instant they were earned."""

    months: int

    def __post_init__(self) -> None:
        check(
            type(self.months) is int and 1 <= self.months <= _MAX_MONTHS,
            "months",
            f"must be an integer between 1 and {_MAX_MONTHS}",
        )

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form, e.g. ``{"months": 12}``."""
        return {"months": self.months}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ExpiryRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(data, required=("months",), optional=())
        return cls(months=fields.integer("months", minimum=1))


def lot_expiry(rules: ExpiryRules | None, earned_at: datetime) -> datetime | None:
    """Return when points earned at ``earned_at`` expire, or ``None`` if they never do."""
    return None if rules is None else add_months(earned_at, rules.months)


def expire_due_points(ledger: MemberLedger, context: TransactionContext) -> Posting | None:
    """Expire every lot whose expiry is at or before ``context.occurred_at``.

    Returns the posted expiry transaction, or ``None`` when nothing is due, so
    a daily job can call it for every member and skip the ``None``s.
    """
    due = [
        lot
        for lot in ledger.lots()
        if lot.expires_at is not None and lot.expires_at <= context.occurred_at
    ]
    if not due:
        return None
    entries = tuple(
        LedgerEntry(
            entry_id=context.entry_id(index),
            kind=EntryKind.EXPIRE,
            points=-lot.remaining_points,
            draws=(LotDraw(lot_entry_id=lot.entry_id, points=lot.remaining_points),),
        )
        for index, lot in enumerate(due)
    )
    return ledger.post(LedgerTransaction.from_context(TransactionKind.EXPIRY, context, entries))


@dataclass(frozen=True, slots=True)
class ExpiryForecast:
    """Points that will expire within a horizon: the figure for a reminder."""

    points: int
    horizon_end: datetime
    next_expiry: datetime | None
    lots: tuple[PointsLot, ...]


def points_expiring_soon(ledger: MemberLedger, now: datetime, days: int = 30) -> ExpiryForecast:
    """Return the live points that expire in ``(now, now + days]``."""
    horizon_end = now + timedelta(days=days)
    lots = tuple(
        lot
        for lot in ledger.lots()
        if lot.expires_at is not None and now < lot.expires_at <= horizon_end
    )
    return ExpiryForecast(
        points=sum(lot.remaining_points for lot in lots),
        horizon_end=horizon_end,
        next_expiry=min((lot.expires_at for lot in lots if lot.expires_at), default=None),
        lots=lots,
    )

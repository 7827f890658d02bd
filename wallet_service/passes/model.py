"""The neutral card model: everything a wallet pass shows about one member, nothing more.

:class:`CardState` is computed by the services from the database (balance,
tier, progress, nearby stores, ...) and handed to the wallet adapters; Apple's
``.pkpass`` builder and Google's object mapping both read it, so neither needs
to know about members, ledgers or programs. It is immutable and validated on
construction, so an adapter can trust every value it reads.

Example::

    card = CardState(
        serial_number="0b7c5a5e-...", member_name="Camille Martin",
        balance_points=1250, tier_name="Gold", next_tier_name="Platinum",
        points_to_next_tier=750, progress_text="750 points to Platinum",
        barcode_message="LW1....", barcode_alt_text="0B7C 5A5E",
        card_page_url="https://loyalty.example/c/0b7c5a5e", program_name="Le Club",
        organization_name="Maison Caféine", last_modified=clock.now(),
    )
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

__all__ = ["CardState", "Money", "PassLocation"]


class Money(NamedTuple):
    """An amount of money; ``currency`` is an ISO 4217 code such as ``"EUR"``."""

    amount: Decimal
    currency: str


class PassLocation(NamedTuple):
    """A place where the pass becomes relevant, with the lock-screen text to show there."""

    latitude: float
    longitude: float
    relevant_text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardState:
    """What one member's card shows right now, independent of the wallet vendor.

    ``locations`` is ordered by relevance (nearest store first); adapters keep
    as many as their platform allows. ``last_modified`` is when any value shown
    changed and drives ``Last-Modified`` on pass downloads; it must be aware.
    """

    serial_number: str
    member_name: str
    balance_points: int
    tier_name: str
    next_tier_name: str | None
    points_to_next_tier: int | None
    progress_text: str
    barcode_message: str
    barcode_alt_text: str | None
    card_page_url: str
    program_name: str
    organization_name: str
    last_modified: datetime
    stamps_filled: int = 0
    stamps_total: int = 0
    cashback: Money | None = None
    locations: Sequence[PassLocation] = field(default_factory=tuple)
    voided: bool = False
    expiration_date: datetime | None = None
    terms: str = ""
    # Points expiring within the reminder horizon and the first of those dates ("expire soon").
    expiring_points: int = 0
    next_expiry: datetime | None = None

    def __post_init__(self) -> None:
        if not self.serial_number:
            raise ValueError("serial_number must not be empty")
        if self.balance_points < 0:
            raise ValueError("balance_points cannot be negative")
        if self.points_to_next_tier is not None and self.points_to_next_tier < 0:
            raise ValueError("points_to_next_tier cannot be negative")
        if self.stamps_total < 0 or not 0 <= self.stamps_filled <= self.stamps_total:
            raise ValueError("stamps_filled must be between 0 and stamps_total")
        if not self.barcode_message:
            raise ValueError("barcode_message must not be empty")
        if self.last_modified.tzinfo is None:
            raise ValueError("last_modified must be timezone-aware")
        if self.expiration_date is not None and self.expiration_date.tzinfo is None:
            raise ValueError("expiration_date must be timezone-aware")
        if self.expiring_points < 0:
            raise ValueError("expiring_points cannot be negative")
        if self.next_expiry is not None and self.next_expiry.tzinfo is None:
            raise ValueError("next_expiry must be timezone-aware")
        if self.cashback is not None and not (
            len(self.cashback.currency) == 3 and self.cashback.currency.isalpha()
        ):
            raise ValueError("cashback currency must be an ISO 4217 code such as 'EUR'")
        if self.cashback is not None and not self.cashback.amount.is_finite():
            raise ValueError("cashback amount must be finite")
        for location in self.locations:
            if not (
                math.isfinite(location.latitude)
                and math.isfinite(location.longitude)
                and -90.0 <= location.latitude <= 90.0
                and -180.0 <= location.longitude <= 180.0
            ):
                raise ValueError(f"invalid coordinates: {location.latitude}, {location.longitude}")
        # Freeze the sequence so the dataclass is immutable all the way down.
        object.__setattr__(self, "locations", tuple(self.locations))

    @property
    def stamps_remaining(self) -> int:
        """Stamps still missing before the card is complete."""
        return self.stamps_total - self.stamps_filled

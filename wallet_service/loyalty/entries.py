"""Ledger vocabulary: transactions, their entries, point-lot draws and balances.

A ``LedgerTransaction`` is one business event (a purchase scan, a redemption,
an expiry run, a correction, a bonus, a reversal) with who/where/why; its
``LedgerEntry`` rows each move exactly one asset: points (``int``), cashback
money (``Decimal``) or stamps (``int``). Point credits open *lots*; point
debits name the lots they consume in ``draws`` so expiry and reversals are
exact and auditable without replaying a policy. Every shape rule that can be
checked on a value alone is checked here, at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from wallet_service.loyalty.errors import LedgerIntegrityError

__all__ = [
    "ENTRY_KINDS_BY_TRANSACTION",
    "Balances",
    "BonusKind",
    "EntryKind",
    "LedgerEntry",
    "LedgerTransaction",
    "LotDraw",
    "TransactionContext",
    "TransactionKind",
]

_MAX_ID_LENGTH = 120


class EntryKind(StrEnum):
    """What a single ledger line does to a balance."""

    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    BONUS = "bonus"
    REVERSAL = "reversal"


class TransactionKind(StrEnum):
    """The business event a transaction records."""

    PURCHASE = "purchase"
    REDEMPTION = "redemption"
    ADJUSTMENT = "adjustment"
    BONUS = "bonus"
    EXPIRY = "expiry"
    REVERSAL = "reversal"


class BonusKind(StrEnum):
    """Which once-only bonus a bonus transaction pays."""

    WELCOME = "welcome"
    BIRTHDAY = "birthday"
    REFERRAL_REFERRER = "referral_referrer"
    REFERRAL_REFEREE = "referral_referee"


# A purchase may hold a stamp-card completion, which is a redeem of stamps.
ENTRY_KINDS_BY_TRANSACTION = MappingProxyType(
    {
        TransactionKind.PURCHASE: frozenset({EntryKind.EARN, EntryKind.REDEEM}),
        TransactionKind.REDEMPTION: frozenset({EntryKind.REDEEM}),
        TransactionKind.ADJUSTMENT: frozenset({EntryKind.ADJUST}),
        TransactionKind.BONUS: frozenset({EntryKind.BONUS}),
        TransactionKind.EXPIRY: frozenset({EntryKind.EXPIRE}),
        TransactionKind.REVERSAL: frozenset({EntryKind.REVERSAL}),
    }
)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LedgerIntegrityError(message)


def _require_aware(moment: datetime, what: str) -> None:
    _require(
        isinstance(moment, datetime) and moment.utcoffset() is not None,
        f"{what} must be a timezone-aware datetime",
    )


def _require_id(value: str, what: str) -> None:
    _require(
        isinstance(value, str) and 0 < len(value) <= _MAX_ID_LENGTH and value.strip() == value,
        f"{what} must be a non-blank string of at most {_MAX_ID_LENGTH} characters",
    )


@dataclass(frozen=True, slots=True)
class LotDraw:
    """Points taken from (positive) or given back to (negative) the lot opened by an entry."""

    lot_entry_id: str
    points: int

    def __post_init__(self) -> None:
        _require_id(self.lot_entry_id, "lot_entry_id")
        _require(type(self.points) is int and self.points != 0, "a draw moves a non-zero int")


@dataclass(frozen=True, slots=True)
class Balances:
    """The three balances of a member; also used for a transaction's net change."""

    points: int = 0
    cashback: Decimal = Decimal(0)
    stamps: int = 0

    def __add__(self, other: Balances) -> Balances:
        return Balances(
            points=self.points + other.points,
            cashback=self.cashback + other.cashback,
            stamps=self.stamps + other.stamps,
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One signed movement of exactly one asset.

    ``lot_expires_at`` is set on point credits that open a lot (earn, bonus,
    positive adjust) when the program expires points. ``draws`` lists the lots
    a point debit consumes (summing to ``-points``), or the lots a reversal of
    a debit gives back (negative draws summing to ``-points``).
    """

    entry_id: str
    kind: EntryKind
    points: int = 0
    cashback: Decimal = Decimal(0)
    stamps: int = 0
    lot_expires_at: datetime | None = None
    draws: tuple[LotDraw, ...] = ()
    reverses_entry_id: str | None = None

    def __post_init__(self) -> None:
        _require_id(self.entry_id, "entry_id")
        _require(type(self.points) is int and type(self.stamps) is int, "points/stamps are int")
        _require(
            isinstance(self.cashback, Decimal) and self.cashback.is_finite(),
            "cashback must be a finite Decimal",
        )
        moved = [value != 0 for value in (self.points, self.cashback, self.stamps)]
        _require(sum(moved) == 1, f"entry {self.entry_id} must move exactly one asset")
        self._check_sign()
        self._check_lot_fields()
        is_reversal = self.kind is EntryKind.REVERSAL
        _require(
            is_reversal == (self.reverses_entry_id is not None),
            "reverses_entry_id is set on reversal entries and only there",
        )

    def _check_sign(self) -> None:
        amount = self.points or self.cashback or self.stamps
        if self.kind in (EntryKind.EARN, EntryKind.BONUS):
            _require(amount > 0, f"{self.kind} entries credit")
        elif self.kind in (EntryKind.REDEEM, EntryKind.EXPIRE):
            _require(amount < 0, f"{self.kind} entries debit")
        if self.kind is EntryKind.EXPIRE:
            _require(self.points != 0, "only points expire")

    def _check_lot_fields(self) -> None:
        if self.lot_expires_at is not None:
            _require_aware(self.lot_expires_at, "lot_expires_at")
            _require(self.opens_lot, "only point credits that open a lot carry lot_expires_at")
        if self.opens_lot or self.points == 0:
            _require(not self.draws, "only point debits and their reversals carry draws")
            return
        drawn = sum(draw.points for draw in self.draws)
        _require(drawn == -self.points, f"draws of {self.entry_id} must sum to {-self.points}")
        if self.points < 0:
            _require(all(d.points > 0 for d in self.draws), "a debit consumes lots")
        else:
            _require(all(d.points < 0 for d in self.draws), "a reversed debit gives lots back")
        lot_ids = [draw.lot_entry_id for draw in self.draws]
        _require(len(lot_ids) == len(set(lot_ids)), "a lot appears once per entry")

    @property
    def opens_lot(self) -> bool:
        """Tell whether this entry creates a lot of points that can later expire."""
        return self.points > 0 and self.kind is not EntryKind.REVERSAL

    @property
    def delta(self) -> Balances:
        """Return the entry's effect on the balances."""
        return Balances(points=self.points, cashback=self.cashback, stamps=self.stamps)


@dataclass(frozen=True, slots=True)
class TransactionContext:
    """Who/where/why and the identity of a transaction about to be posted.

    ``transaction_id`` comes from the caller (for example the request's
    ``Idempotency-Key`` or a UUID) so that a replayed request collides with
    ``DuplicateTransaction`` instead of posting twice. Entry ids are derived
    from it (``<transaction_id>:<n>``), which keeps lot references stable.
    """

    transaction_id: str
    occurred_at: datetime
    actor: str | None = None
    store_id: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _require_id(self.transaction_id, "transaction_id")
        _require_aware(self.occurred_at, "occurred_at")

    def entry_id(self, index: int) -> str:
        """Return the id of the ``index``-th entry of this transaction."""
        return f"{self.transaction_id}:{index}"


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """One business event and its entries; the unit of posting and of reversal.

    ``purchase_amount`` is set on purchases only and feeds tier spend and visit
    counts even when a small basket earns nothing. Bonus transactions carry
    ``bonus_kind`` and ``bonus_reference`` (the once-only key: ``"welcome"``,
    the birthday year, the referee's member id...). A transaction may have no
    entries (a zero-point referral still counts towards tiers).
    """

    transaction_id: str
    kind: TransactionKind
    occurred_at: datetime
    entries: tuple[LedgerEntry, ...] = ()
    actor: str | None = None
    store_id: str | None = None
    note: str = ""
    purchase_amount: Decimal | None = None
    reverses_transaction_id: str | None = None
    bonus_kind: BonusKind | None = None
    bonus_reference: str | None = None
    related_member_id: str | None = None
    reward_code: str | None = None
    entry_ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_id(self.transaction_id, "transaction_id")
        _require_aware(self.occurred_at, "occurred_at")
        ids = [entry.entry_id for entry in self.entries]
        _require(len(ids) == len(set(ids)), "entry ids are unique within a transaction")
        object.__setattr__(self, "entry_ids", frozenset(ids))
        allowed = ENTRY_KINDS_BY_TRANSACTION[self.kind]
        for entry in self.entries:
            _require(entry.kind in allowed, f"a {self.kind} holds no {entry.kind} entry")
        is_purchase = self.kind is TransactionKind.PURCHASE
        _require(
            is_purchase == (self.purchase_amount is not None),
            "purchase_amount is set on purchases and only there",
        )
        if self.purchase_amount is not None:
            _require(self.purchase_amount > 0, "purchase_amount is positive")
        is_reversal = self.kind is TransactionKind.REVERSAL
        _require(
            is_reversal == (self.reverses_transaction_id is not None),
            "reverses_transaction_id is set on reversals and only there",
        )
        is_bonus = self.kind is TransactionKind.BONUS
        _require(
            is_bonus == (self.bonus_kind is not None),
            "bonus_kind is set on bonus transactions and only there",
        )

    @classmethod
    def from_context(
        cls,
        kind: TransactionKind,
        context: TransactionContext,
        entries: tuple[LedgerEntry, ...] = (),
        *,
        purchase_amount: Decimal | None = None,
        reverses_transaction_id: str | None = None,
        bonus_kind: BonusKind | None = None,
        bonus_reference: str | None = None,
        related_member_id: str | None = None,
        reward_code: str | None = None,
    ) -> LedgerTransaction:
        """Build a transaction stamped with the context's id, time, actor, store and note."""
        return cls(
            transaction_id=context.transaction_id,
            kind=kind,
            occurred_at=context.occurred_at,
            entries=entries,
            actor=context.actor,
            store_id=context.store_id,
            note=context.note,
            purchase_amount=purchase_amount,
            reverses_transaction_id=reverses_transaction_id,
            bonus_kind=bonus_kind,
            bonus_reference=bonus_reference,
            related_member_id=related_member_id,
            reward_code=reward_code,
        )

    @property
    def delta(self) -> Balances:
        """Return the net change this transaction makes to the balances."""
        total = Balances()
        for entry in self.entries:
            total = total + entry.delta
        return total

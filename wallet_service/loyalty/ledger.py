"""A member's ledger: balances, point lots and the invariants every posting keeps.

``MemberLedger`` is an immutable view over a member's transactions in posting
order. ``append`` (or ``post``) checks a new transaction against the history
and returns a new ledger; nothing is ever edited or deleted. The invariants:

* each balance (points, cashback, stamps) equals the sum of its entries and
  never goes below zero;
* every point debit names the lots it consumes, no lot goes below zero or
  above what it was opened with, so the points balance equals the sum of the
  lots' remaining points;
* a transaction is reversed at most once, exactly (same entries, negated,
  giving back the same lots), and reversals and expiries are never reversed;
* a once-only bonus key (welcome, a birthday year, a referee) appears once.

Example::

    ledger = MemberLedger("EUR")
    posting = ledger.post(transaction)   # raises a DomainError or returns the new state
    member.points = posting.balances.points
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar, cast

from wallet_service.loyalty.amounts import currency_exponent, quantize_money
from wallet_service.loyalty.entries import (
    Balances,
    BonusKind,
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    TransactionKind,
)
from wallet_service.loyalty.errors import (
    AlreadyReversed,
    BonusAlreadyAwarded,
    DuplicateTransaction,
    InsufficientCashback,
    InsufficientPoints,
    InsufficientStamps,
    LedgerIntegrityError,
    NotReversible,
    UnknownTransaction,
)

__all__ = ["MemberLedger", "PointsLot", "Posting"]

_NOT_REVERSIBLE = frozenset({TransactionKind.REVERSAL, TransactionKind.EXPIRY})
T = TypeVar("T")
_MAX_DERIVED = 32


@dataclass(frozen=True, slots=True)
class PointsLot:
    """Points credited together, expiring together; consumed oldest first."""

    entry_id: str
    transaction_id: str
    earned_at: datetime
    expires_at: datetime | None
    original_points: int
    remaining_points: int

    def is_live(self, at: datetime) -> bool:
        """Tell whether the lot can still be spent at ``at`` (it dies at ``expires_at``)."""
        return self.expires_at is None or at < self.expires_at


@dataclass(frozen=True, slots=True)
class Posting:
    """A transaction just accepted and the ledger that now includes it."""

    transaction: LedgerTransaction
    ledger: MemberLedger

    @property
    def balances(self) -> Balances:
        """Return the balances to cache on the member row after this posting."""
        return self.ledger.balances


class _State:
    """Indexes folded from the transactions; private and mutated only while building."""

    __slots__ = ("balances", "bonus_keys", "entries", "lots", "reversals", "transactions")

    def __init__(self) -> None:
        self.balances = Balances()
        self.transactions: dict[str, LedgerTransaction] = {}
        self.entries: dict[str, LedgerEntry] = {}
        self.lots: dict[str, PointsLot] = {}
        self.reversals: dict[str, LedgerTransaction] = {}
        self.bonus_keys: set[tuple[BonusKind, str | None]] = set()

    def copy(self) -> _State:
        twin = _State()
        twin.balances = self.balances
        twin.transactions = dict(self.transactions)
        twin.entries = dict(self.entries)
        twin.lots = dict(self.lots)
        twin.reversals = dict(self.reversals)
        twin.bonus_keys = set(self.bonus_keys)
        return twin

    def apply(self, transaction: LedgerTransaction) -> None:
        for entry in transaction.entries:
            self.entries[entry.entry_id] = entry
            if entry.opens_lot:
                self.lots[entry.entry_id] = PointsLot(
                    entry_id=entry.entry_id,
                    transaction_id=transaction.transaction_id,
                    earned_at=transaction.occurred_at,
                    expires_at=entry.lot_expires_at,
                    original_points=entry.points,
                    remaining_points=entry.points,
                )
            for draw in entry.draws:
                lot = self.lots[draw.lot_entry_id]
                self.lots[draw.lot_entry_id] = replace(
                    lot, remaining_points=lot.remaining_points - draw.points
                )
        self.balances = self.balances + transaction.delta
        self.transactions[transaction.transaction_id] = transaction
        if transaction.reverses_transaction_id is not None:
            self.reversals[transaction.reverses_transaction_id] = transaction
        if transaction.bonus_kind is not None:
            self.bonus_keys.add((transaction.bonus_kind, transaction.bonus_reference))


def _check_identity(state: _State, currency: str, transaction: LedgerTransaction) -> None:
    if transaction.transaction_id in state.transactions:
        raise DuplicateTransaction(
            f"transaction {transaction.transaction_id} is already posted",
            transaction_id=transaction.transaction_id,
        )
    for entry in transaction.entries:
        if entry.entry_id in state.entries:
            raise DuplicateTransaction(
                f"entry {entry.entry_id} is already posted", entry_id=entry.entry_id
            )
        if entry.cashback != quantize_money(entry.cashback, currency):
            raise LedgerIntegrityError(f"cashback of {entry.entry_id} is finer than {currency}")
    amount = transaction.purchase_amount
    if amount is not None and amount != quantize_money(amount, currency):
        raise LedgerIntegrityError(f"purchase amount is finer than {currency}")
    if transaction.bonus_kind is not None:
        key = (transaction.bonus_kind, transaction.bonus_reference)
        if key in state.bonus_keys:
            raise BonusAlreadyAwarded(
                f"{transaction.bonus_kind} bonus {transaction.bonus_reference} was already awarded",
                bonus_kind=transaction.bonus_kind.value,
                bonus_reference=transaction.bonus_reference,
            )


def _check_reversal(state: _State, transaction: LedgerTransaction) -> None:
    target_id = transaction.reverses_transaction_id
    if target_id is None:
        return
    target = state.transactions.get(target_id)
    if target is None:
        raise UnknownTransaction(f"no transaction {target_id}", transaction_id=target_id)
    if target.kind in _NOT_REVERSIBLE:
        raise NotReversible(
            f"a {target.kind} cannot be reversed", transaction_id=target_id, kind=target.kind.value
        )
    if target_id in state.reversals:
        raise AlreadyReversed(
            f"transaction {target_id} is already reversed", transaction_id=target_id
        )
    by_target_entry = {entry.reverses_entry_id: entry for entry in transaction.entries}
    if len(by_target_entry) != len(transaction.entries) or set(by_target_entry) != set(
        target.entry_ids
    ):
        raise LedgerIntegrityError(f"a reversal must negate every entry of {target_id} once")
    for original in target.entries:
        mirror = by_target_entry[original.entry_id]
        if mirror.delta + original.delta != Balances():
            raise LedgerIntegrityError(f"reversal of {original.entry_id} must negate it exactly")
        if original.points < 0:
            given_back = {(d.lot_entry_id, -d.points) for d in mirror.draws}
            if given_back != {(d.lot_entry_id, d.points) for d in original.draws}:
                raise LedgerIntegrityError(
                    f"reversal of {original.entry_id} must give back the lots it consumed"
                )


def _check_draws(state: _State, transaction: LedgerTransaction) -> None:
    pending: dict[str, int] = {}
    at = transaction.occurred_at
    for entry in transaction.entries:
        for draw in entry.draws:
            lot = state.lots.get(draw.lot_entry_id)
            if lot is None:
                raise LedgerIntegrityError(f"{entry.entry_id} draws on unknown lot")
            if entry.kind is EntryKind.EXPIRE and lot.is_live(at):
                raise LedgerIntegrityError(f"lot {lot.entry_id} is not expired at {at}")
            if entry.kind in (EntryKind.REDEEM, EntryKind.ADJUST) and not lot.is_live(at):
                raise LedgerIntegrityError(f"lot {lot.entry_id} expired before {at}")
            remaining = pending.get(lot.entry_id, lot.remaining_points) - draw.points
            if not 0 <= remaining <= lot.original_points:
                raise LedgerIntegrityError(f"{entry.entry_id} overdraws lot {lot.entry_id}")
            pending[lot.entry_id] = remaining


def _check_balances(state: _State, transaction: LedgerTransaction) -> None:
    after = state.balances + transaction.delta
    if after.points < 0:
        raise InsufficientPoints(
            "not enough points", required=-transaction.delta.points, available=state.balances.points
        )
    if after.cashback < 0:
        raise InsufficientCashback(
            "not enough cashback",
            required=str(-transaction.delta.cashback),
            available=str(state.balances.cashback),
        )
    if after.stamps < 0:
        raise InsufficientStamps(
            "not enough stamps", required=-transaction.delta.stamps, available=state.balances.stamps
        )


def _earned_at(lot: PointsLot) -> datetime:
    return lot.earned_at


class MemberLedger:
    """Immutable, validated history of one member's loyalty transactions."""

    __slots__ = ("_currency", "_derived", "_state", "_transactions")

    def __init__(
        self,
        currency: str,
        transactions: Iterable[LedgerTransaction] = (),
        *,
        verify: bool = True,
    ) -> None:
        """Fold ``transactions`` in posting order; ``verify=False`` trusts stored history."""
        currency_exponent(currency)
        self._currency = currency
        self._derived: dict[Hashable, object] = {}
        self._state = _State()
        folded: list[LedgerTransaction] = []
        for transaction in transactions:
            if verify:
                self._check(transaction)
            self._state.apply(transaction)
            folded.append(transaction)
        self._transactions = tuple(folded)

    @classmethod
    def _from_state(
        cls, currency: str, transactions: tuple[LedgerTransaction, ...], state: _State
    ) -> MemberLedger:
        ledger = cls.__new__(cls)
        ledger._currency = currency
        ledger._derived = {}
        ledger._transactions = transactions
        ledger._state = state
        return ledger

    def _check(self, transaction: LedgerTransaction) -> None:
        _check_identity(self._state, self._currency, transaction)
        _check_reversal(self._state, transaction)
        _check_draws(self._state, transaction)
        _check_balances(self._state, transaction)

    def append(self, transaction: LedgerTransaction) -> MemberLedger:
        """Return a new ledger with ``transaction`` added, or raise the invariant it breaks."""
        self._check(transaction)
        state = self._state.copy()
        state.apply(transaction)
        return MemberLedger._from_state(self._currency, (*self._transactions, transaction), state)

    def post(self, transaction: LedgerTransaction) -> Posting:
        """Append ``transaction`` and return it with the resulting ledger."""
        return Posting(transaction=transaction, ledger=self.append(transaction))

    @property
    def currency(self) -> str:
        """Return the ISO 4217 currency of the cashback column."""
        return self._currency

    @property
    def transactions(self) -> tuple[LedgerTransaction, ...]:
        """Return every transaction in posting order."""
        return self._transactions

    @property
    def balances(self) -> Balances:
        """Return the balances: the sums of the ledger's entries."""
        return self._state.balances

    def transaction(self, transaction_id: str) -> LedgerTransaction:
        """Return the transaction with this id or raise ``UnknownTransaction``."""
        try:
            return self._state.transactions[transaction_id]
        except KeyError:
            raise UnknownTransaction(
                f"no transaction {transaction_id}", transaction_id=transaction_id
            ) from None

    def reversal_of(self, transaction_id: str) -> LedgerTransaction | None:
        """Return the reversal of a transaction, if it has been reversed."""
        return self._state.reversals.get(transaction_id)

    def is_reversed(self, transaction_id: str, as_of: datetime | None = None) -> bool:
        """Tell whether the transaction was reversed (at or before ``as_of`` when given)."""
        reversal = self._state.reversals.get(transaction_id)
        return reversal is not None and (as_of is None or reversal.occurred_at <= as_of)

    def has_bonus(self, kind: BonusKind, reference: str | None = None) -> bool:
        """Tell whether a bonus of ``kind`` (with ``reference`` when given) was ever posted."""
        if reference is not None:
            return (kind, reference) in self._state.bonus_keys
        return any(key_kind is kind for key_kind, _ in self._state.bonus_keys)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per ledger and ``key``.

        A ledger never changes, so whatever is derived from it (a tier status at an
        instant, the sorted lots) can be kept: one scan asks for the tier several times.
        """
        try:
            return cast(T, self._derived[key])
        except KeyError:
            if len(self._derived) >= _MAX_DERIVED:
                self._derived.clear()  # a ledger kept in a cache is asked about many instants
            value = self._derived[key] = compute()
            return value

    def lots(self, *, include_spent: bool = False) -> tuple[PointsLot, ...]:
        """Return point lots oldest first (by earning time, then posting order)."""
        every = self.derived(
            ("lots",), lambda: tuple(sorted(self._state.lots.values(), key=_earned_at))
        )
        if include_spent:
            return every
        return self.derived(
            ("lots", "unspent"), lambda: tuple(lot for lot in every if lot.remaining_points > 0)
        )

    def available_points(self, at: datetime) -> int:
        """Return points spendable at ``at``: the balance minus lots already past expiry."""
        return sum(lot.remaining_points for lot in self.lots() if lot.is_live(at))

    def draw_points(
        self,
        points: int,
        at: datetime,
        *,
        first_from: str | None = None,
        already_drawn: Mapping[str, int] | None = None,
    ) -> tuple[LotDraw, ...]:
        """Pick lots for a debit of ``points`` at ``at``, oldest first.

        Expired lots are skipped (the expiry run will take them); ``first_from``
        names a lot to empty first whatever its age or expiry, which is how a
        reversed earn takes back its own points before touching older ones.
        ``already_drawn`` holds draws of earlier entries of the same, not yet
        posted, transaction.
        """
        if points <= 0:
            raise LedgerIntegrityError("a debit draws a positive number of points")
        pending = already_drawn or {}
        candidates = [
            replace(lot, remaining_points=lot.remaining_points - pending.get(lot.entry_id, 0))
            for lot in self.lots()
            if lot.is_live(at) or lot.entry_id == first_from
        ]
        candidates.sort(key=lambda lot: lot.entry_id != first_from)
        available = sum(lot.remaining_points for lot in candidates)
        if available < points:
            raise InsufficientPoints(
                f"{points} points needed, {available} available",
                required=points,
                available=available,
            )
        draws: list[LotDraw] = []
        still_needed = points
        for lot in candidates:
            if still_needed == 0:
                break
            if lot.remaining_points <= 0:
                continue
            taken = min(lot.remaining_points, still_needed)
            draws.append(LotDraw(lot_entry_id=lot.entry_id, points=taken))
            still_needed -= taken
        return tuple(draws)

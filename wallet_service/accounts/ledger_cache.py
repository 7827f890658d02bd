"""Members' ledgers kept in memory between requests, so a regular's scan does not re-read years
of history.

A ledger is append-only and every posting increments the member row's ``ledger_length``, so
a ledger cached at length *n* is exactly the stored history while the row still says *n*:
:func:`~wallet_service.accounts.posting.load_account` compares the two after loading (and
locking) the row, whichever process wrote last. A posting is published to the cache only
once its transaction has committed; a rolled-back posting never is, because another
transaction could then commit a different entry at the same length.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from wallet_service.loyalty import MemberLedger

__all__ = ["LedgerCache", "ledger_cache_of", "publish_after_commit", "sharing"]

_CACHE = "ledger_cache"
_PENDING = "ledgers_to_cache"


@dataclass(frozen=True, slots=True)
class _Cached:
    length: int
    ledger: MemberLedger


class LedgerCache:
    """Least recently used ledgers, bounded by the transactions they hold in total."""

    def __init__(self, max_transactions: int) -> None:
        self.max_transactions = max_transactions
        self._ledgers: OrderedDict[uuid.UUID, _Cached] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._ledgers)

    def get(self, member_id: uuid.UUID, length: int, currency: str) -> MemberLedger | None:
        """The member's ledger if it is cached at exactly ``length`` transactions."""
        cached = self._ledgers.get(member_id)
        if cached is None or cached.length != length or cached.ledger.currency != currency:
            return None
        self._ledgers.move_to_end(member_id)
        return cached.ledger

    def put(self, member_id: uuid.UUID, length: int, ledger: MemberLedger) -> None:
        """Keep ``ledger`` as the member's history of ``length`` committed transactions."""
        self.discard(member_id)
        size = len(ledger.transactions)
        if size > self.max_transactions:
            return
        self._ledgers[member_id] = _Cached(length, ledger)
        self._size += size
        while self._size > self.max_transactions:
            _, evicted = self._ledgers.popitem(last=False)
            self._size -= len(evicted.ledger.transactions)

    def discard(self, member_id: uuid.UUID) -> None:
        cached = self._ledgers.pop(member_id, None)
        if cached is not None:
            self._size -= len(cached.ledger.transactions)


def ledger_cache_of(session_info: dict[str, Any]) -> LedgerCache | None:
    """The cache a session's factory was given (``None``: the worker and CLI have none)."""
    cache = session_info.get(_CACHE)
    return cache if isinstance(cache, LedgerCache) else None


def sharing(cache: LedgerCache) -> dict[str, Any]:
    """What a session factory puts in each session's ``info`` to share ``cache``."""
    return {_CACHE: cache} if cache.max_transactions > 0 else {}


def publish_after_commit(
    session_info: dict[str, Any], member_id: uuid.UUID, length: int, ledger: MemberLedger
) -> None:
    """Cache ``ledger`` for the member once (and only if) this session's transaction commits."""
    if ledger_cache_of(session_info) is not None:
        pending: dict[uuid.UUID, _Cached] = session_info.setdefault(_PENDING, {})
        pending[member_id] = _Cached(length, ledger)


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    cache = ledger_cache_of(session.info)
    pending: dict[uuid.UUID, _Cached] = session.info.pop(_PENDING, {})
    if cache is not None:
        for member_id, cached in pending.items():
            cache.put(member_id, cached.length, cached.ledger)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)

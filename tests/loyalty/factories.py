"""Small builders shared by the loyalty specs: instants, contexts, baskets, rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from wallet_service.loyalty import (
    Basket,
    BasketLine,
    EarnRules,
    MemberLedger,
    ProgramRules,
    TransactionContext,
)
from wallet_service.loyalty.examples import coffee_shop_rules

__all__ = [
    "T0",
    "basket",
    "coffee_shop",
    "context",
    "eur",
    "minimal_rules",
    "new_ledger",
]

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def eur(amount: str) -> Decimal:
    """Return a euro amount from its text, e.g. ``eur("4.50")``."""
    return Decimal(amount)


def context(
    at: datetime | timedelta = T0, *, note: str = "", transaction_id: str | None = None
) -> TransactionContext:
    """Return a context at ``at`` (an instant, or an offset from ``T0``) with a fresh id."""
    moment = T0 + at if isinstance(at, timedelta) else at
    return TransactionContext(
        transaction_id=transaction_id or f"tx-{next(_ids)}",
        occurred_at=moment,
        actor="staff-1",
        store_id="store-1",
        note=note,
    )


def basket(amount: str, *lines: BasketLine, currency: str = "EUR") -> Basket:
    """Return a basket paying ``amount`` with optional lines."""
    return Basket(amount=Decimal(amount), currency=currency, lines=lines)


def coffee_shop(**overrides: object) -> ProgramRules:
    """Return the demo coffee shop's rules, with top-level sections replaced."""
    data = coffee_shop_rules()
    data.update(overrides)
    return ProgramRules.from_dict(data)


def minimal_rules(**fields: object) -> ProgramRules:
    """Return rules earning 1 point per euro and nothing else unless given."""
    values: dict[str, object] = {
        "currency": "EUR",
        "earn": EarnRules(points_per_currency_unit=Decimal(1)),
    }
    values.update(fields)
    return ProgramRules(**values)  # type: ignore[arg-type]


def new_ledger(currency: str = "EUR") -> MemberLedger:
    """Return an empty ledger."""
    return MemberLedger(currency)

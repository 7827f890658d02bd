"""Property: whatever operations happen, cached balances equal ledger sums and stay >= 0."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wallet_service.loyalty import (
    Balances,
    MemberLedger,
    Posting,
    ProgramRules,
    adjust_balances,
    award_birthday_bonus,
    award_welcome_bonus,
    expire_due_points,
    record_purchase,
    redeem_reward,
    reverse_transaction,
    spend_cashback,
)
from wallet_service.loyalty.errors import (
    AlreadyReversed,
    InsufficientBalance,
    NotReversible,
    RewardUnavailable,
)

from .factories import T0, basket, context

RULES = ProgramRules.from_dict(
    {
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "earn": {"points_per_currency_unit": "1.5", "rounding": "half_up"},
        "tiers": [
            {"code": "member", "name": "Member"},
            {
                "code": "gold",
                "name": "Gold",
                "window_days": 30,
                "criteria": [{"metric": "points_earned", "threshold": "300"}],
                "multiplier": "2",
            },
        ],
        "cashback": {"percent": "3"},
        "stamps": {"stamps_per_card": 4, "reward_label": "Free tea", "stamps_per_visit": 3},
        "rewards": [
            {"code": "small", "name": "Small", "kind": "free_shipping", "cost_points": 40},
            {
                "code": "big",
                "name": "Big",
                "kind": "fixed_discount",
                "cost_points": 400,
                "discount_amount": "5.00",
            },
        ],
        "expiry": {"months": 1},
        "bonuses": {"welcome": {"points": 25}, "birthday": {"points": 60, "timing": "month"}},
    }
)
EXPECTED_REFUSALS = (InsufficientBalance, AlreadyReversed, NotReversible, RewardUnavailable)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(400), places=2)
pauses = st.integers(min_value=0, max_value=20 * 24 * 60).map(lambda m: timedelta(minutes=m))


class LedgerOperations(RuleBasedStateMachine):
    """Drives a member's ledger like a till, a job and a back office would."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = MemberLedger("EUR")
        self.now = T0
        self.cached = Balances()
        self.posted: list[str] = []

    def _apply(self, posting: Posting | None) -> None:
        if posting is None:
            return
        # What the service does: cache += the transaction's delta, next to the ledger row.
        self.cached = self.cached + posting.transaction.delta
        self.ledger = posting.ledger
        self.posted.append(posting.transaction.transaction_id)

    def _advance(self, pause: timedelta) -> None:
        self.now += pause

    @rule(amount=amounts, pause=pauses)
    def earn(self, amount: Decimal, pause: timedelta) -> None:
        self._advance(pause)
        self._apply(
            record_purchase(RULES, self.ledger, basket(str(amount)), context(self.now)).posting
        )

    @rule(code=st.sampled_from(["small", "big"]), pause=pauses)
    def redeem(self, code: str, pause: timedelta) -> None:
        self._advance(pause)
        with contextlib.suppress(*EXPECTED_REFUSALS):
            self._apply(redeem_reward(RULES, self.ledger, code, context(self.now)).posting)

    @rule(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(20), places=2))
    def spend_cashback(self, amount: Decimal) -> None:
        with contextlib.suppress(*EXPECTED_REFUSALS):
            self._apply(spend_cashback(self.ledger, amount, context(self.now)))

    @rule(pause=pauses)
    def expire(self, pause: timedelta) -> None:
        self._advance(pause)
        self._apply(expire_due_points(self.ledger, context(self.now)))

    @rule(
        points=st.integers(min_value=-300, max_value=300),
        stamps=st.integers(min_value=-3, max_value=3),
    )
    def adjust(self, points: int, stamps: int) -> None:
        if points == 0 and stamps == 0:
            return
        with contextlib.suppress(*EXPECTED_REFUSALS):
            self._apply(
                adjust_balances(
                    self.ledger,
                    context(self.now, note="till correction"),
                    points=points,
                    stamps=stamps,
                    expiry=RULES.expiry,
                )
            )

    @rule(welcome=st.booleans())
    def bonus(self, welcome: bool) -> None:
        if welcome:
            posting = award_welcome_bonus(
                RULES.bonuses.welcome, RULES.expiry, self.ledger, context(self.now)
            )
        else:
            posting = award_birthday_bonus(
                RULES.bonuses.birthday,
                RULES.expiry,
                self.ledger,
                birthday=self.now.date(),
                timezone=RULES.zone,
                context=context(self.now),
            )
        self._apply(posting)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.posted:
            return
        target = data.draw(st.sampled_from(self.posted))
        with contextlib.suppress(*EXPECTED_REFUSALS):
            self._apply(reverse_transaction(self.ledger, target, context(self.now)))

    @invariant()
    def cached_balances_equal_the_sum_of_the_entries(self) -> None:
        entries = [e for t in self.ledger.transactions for e in t.entries]
        summed = Balances(
            points=sum(e.points for e in entries),
            cashback=sum((e.cashback for e in entries), Decimal(0)),
            stamps=sum(e.stamps for e in entries),
        )
        assert self.cached == summed == self.ledger.balances

    @invariant()
    def no_balance_is_negative(self) -> None:
        balances = self.ledger.balances
        assert balances.points >= 0 and balances.cashback >= 0 and balances.stamps >= 0

    @invariant()
    def the_points_balance_is_the_sum_of_the_lots(self) -> None:
        lots = self.ledger.lots(include_spent=True)
        assert all(0 <= lot.remaining_points <= lot.original_points for lot in lots)
        assert sum(lot.remaining_points for lot in lots) == self.ledger.balances.points

    def teardown(self) -> None:
        replayed = MemberLedger("EUR", self.ledger.transactions)
        assert replayed.balances == self.ledger.balances


LedgerOperations.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_any_sequence_of_operations_keeps_the_ledger_consistent = LedgerOperations.TestCase

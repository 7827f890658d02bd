"""Stamp cards: one stamp per qualifying visit, a reward when full, extra stamps roll over."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from wallet_service.loyalty import (
    EntryKind,
    MemberLedger,
    ProgramRules,
    StampRules,
    record_purchase,
    reverse_transaction,
)
from wallet_service.loyalty.stamps import quote_stamps

from .factories import basket, context, minimal_rules, new_ledger

CARD = StampRules(stamps_per_card=3, reward_label="Free coffee", minimum_basket=Decimal("2.50"))


def _visit(rules: ProgramRules, ledger: MemberLedger, amount: str, minutes: int) -> MemberLedger:
    return record_purchase(
        rules, ledger, basket(amount), context(timedelta(minutes=minutes))
    ).posting.ledger


def test_each_qualifying_visit_adds_one_stamp() -> None:
    rules = minimal_rules(stamps=CARD)

    ledger = _visit(rules, new_ledger(), "2.50", 0)
    ledger = _visit(rules, ledger, "9.00", 1)

    assert ledger.balances.stamps == 2


def test_a_visit_below_the_minimum_basket_adds_no_stamp() -> None:
    rules = minimal_rules(stamps=CARD)

    ledger = _visit(rules, new_ledger(), "2.49", 0)

    assert ledger.balances.stamps == 0


def test_the_visit_that_fills_the_card_earns_the_reward_and_starts_a_new_card() -> None:
    rules = minimal_rules(stamps=CARD)
    ledger = _visit(rules, _visit(rules, new_ledger(), "3.00", 0), "3.00", 1)

    outcome = record_purchase(rules, ledger, basket("3.00"), context(timedelta(minutes=2)))

    assert outcome.stamps is not None
    assert outcome.stamps.cards_completed == 1
    assert outcome.stamps.reward_label == "Free coffee"
    assert outcome.posting.balances.stamps == 0
    kinds = [(e.kind, e.stamps) for e in outcome.posting.transaction.entries if e.stamps]
    assert kinds == [(EntryKind.EARN, 1), (EntryKind.REDEEM, -3)]


def test_stamps_beyond_a_full_card_roll_over_onto_the_next_card() -> None:
    rules = StampRules(stamps_per_card=4, reward_label="Free bagel", stamps_per_visit=3)

    quote = quote_stamps(rules, basket("5.00"), stamps_on_card=3)

    assert (quote.stamps_added, quote.cards_completed, quote.stamps_on_card) == (3, 1, 2)
    assert quote.stamps_redeemed == 4


def test_reversing_the_visit_that_filled_the_card_puts_the_card_back() -> None:
    rules = minimal_rules(stamps=CARD)
    ledger = _visit(rules, _visit(rules, new_ledger(), "3.00", 0), "3.00", 1)
    filled = record_purchase(rules, ledger, basket("3.00"), context(timedelta(minutes=2)))

    reversal = reverse_transaction(
        filled.posting.ledger,
        filled.posting.transaction.transaction_id,
        context(timedelta(minutes=3)),
    )

    assert reversal.balances.stamps == 2

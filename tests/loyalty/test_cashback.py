"""Cashback: a percentage of spend credited as exact money, spent at the till, never negative."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wallet_service.loyalty import (
    CashbackRules,
    RoundingRule,
    quantize_money,
    quote_cashback,
    record_purchase,
    spend_cashback,
)
from wallet_service.loyalty.amounts import currency_exponent, format_money
from wallet_service.loyalty.errors import InsufficientCashback, InvalidAmount, UnsupportedCurrency

from .factories import basket, context, minimal_rules, new_ledger


@pytest.mark.parametrize(
    ("currency", "amount", "percent", "rounding", "expected"),
    [
        ("EUR", "12.99", "2", RoundingRule.DOWN, "0.25"),
        ("EUR", "12.99", "2", RoundingRule.HALF_UP, "0.26"),
        ("EUR", "12.50", "2", RoundingRule.UP, "0.25"),
        ("USD", "0.49", "1", RoundingRule.UP, "0.01"),
        ("JPY", "1299", "2", RoundingRule.DOWN, "25"),
        ("JPY", "1299", "2", RoundingRule.HALF_UP, "26"),
        ("TND", "12.999", "1.5", RoundingRule.DOWN, "0.194"),
    ],
)
def test_cashback_is_quantised_to_the_minor_unit_of_the_currency(
    currency: str, amount: str, percent: str, rounding: RoundingRule, expected: str
) -> None:
    rules = CashbackRules(percent=Decimal(percent), rounding=rounding)

    earned = quote_cashback(rules, basket(amount, currency=currency))

    assert earned == Decimal(expected)
    assert earned.as_tuple().exponent == -currency_exponent(currency)


def test_a_basket_below_the_cashback_minimum_earns_no_cashback() -> None:
    rules = CashbackRules(percent=Decimal(2), minimum_basket=Decimal("5.00"))

    assert quote_cashback(rules, basket("4.99")) == Decimal("0.00")
    assert quote_cashback(rules, basket("5.00")) == Decimal("0.10")


def test_a_purchase_credits_cashback_in_its_own_column() -> None:
    rules = minimal_rules(cashback=CashbackRules(percent=Decimal(5)))

    outcome = record_purchase(rules, new_ledger(), basket("20.00"), context())

    assert outcome.cashback == Decimal("1.00")
    assert outcome.posting.balances.cashback == Decimal("1.00")
    assert outcome.posting.balances.points == 20


def test_cashback_is_spent_at_the_till_down_to_zero_but_not_below() -> None:
    rules = minimal_rules(cashback=CashbackRules(percent=Decimal(10)))
    ledger = record_purchase(rules, new_ledger(), basket("25.00"), context()).posting.ledger

    with pytest.raises(InsufficientCashback) as caught:
        spend_cashback(ledger, Decimal("2.51"), context())
    spent = spend_cashback(ledger, Decimal("2.50"), context())

    assert caught.value.code == "insufficient_cashback"
    assert caught.value.details == {"required": "2.51", "available": "2.50"}
    assert spent.balances.cashback == Decimal("0.00")


def test_cashback_spending_must_be_a_positive_exact_amount() -> None:
    with pytest.raises(InvalidAmount):
        spend_cashback(new_ledger(), Decimal("0.001"), context())
    with pytest.raises(InvalidAmount):
        spend_cashback(new_ledger(), Decimal("-1.00"), context())


def test_money_helpers_know_common_iso_currencies_only() -> None:
    assert quantize_money(Decimal("1.005"), "EUR") == Decimal("1.01")
    assert quantize_money(Decimal("1.5"), "JPY") == Decimal("2")
    assert format_money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert format_money(Decimal("1234.5"), "EUR", "fr") == "1\u202f234,50\u00a0€"
    assert format_money(Decimal("3"), "SEK") == "3.00 SEK"
    with pytest.raises(UnsupportedCurrency) as caught:
        currency_exponent("ZZZ")
    assert caught.value.code == "unsupported_currency"

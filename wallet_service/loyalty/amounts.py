"""Money and point arithmetic: ISO 4217 minor units, rounding rules, display.

Money is always ``Decimal`` quantised to the currency's minor unit (2 decimals
for EUR, 0 for JPY, 3 for TND); points are always ``int``. Every conversion
from a computed ``Decimal`` to either goes through this module so that the
rounding rule is explicit and the same everywhere.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType

from wallet_service.loyalty.errors import InvalidAmount, UnsupportedCurrency

__all__ = [
    "CURRENCY_EXPONENTS",
    "RoundingRule",
    "currency_exponent",
    "format_money",
    "minor_unit",
    "quantize_money",
    "require_money",
    "round_points",
]

# ISO 4217 exponents of the currencies merchants have asked for. Kept explicit
# rather than derived from a locale database so results never depend on the host.
CURRENCY_EXPONENTS = MappingProxyType(
    {
        "AED": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
        "CLP": 0, "CNY": 2, "CZK": 2, "DKK": 2, "DZD": 2, "EUR": 2, "GBP": 2,
        "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3,
        "JPY": 0, "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NOK": 2,
        "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2,
        "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2,
        "VND": 0, "XAF": 0, "XOF": 0, "XPF": 0, "ZAR": 2,
    }
)  # fmt: skip

# Only used for human-readable progress texts; anything else prints its code.
_SYMBOLS = MappingProxyType({"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF"})


class RoundingRule(StrEnum):
    """How a fractional amount becomes whole points or minor units."""

    DOWN = "down"
    HALF_UP = "half_up"
    UP = "up"

    @property
    def decimal_mode(self) -> str:
        # Floor/ceiling rather than down/up so that the rule keeps its meaning
        # for negative values (a refund never rounds in the customer's favour twice).
        return {
            RoundingRule.DOWN: ROUND_FLOOR,
            RoundingRule.HALF_UP: ROUND_HALF_UP,
            RoundingRule.UP: ROUND_CEILING,
        }[self]


def currency_exponent(currency: str) -> int:
    """Return the number of decimals of ``currency`` (``"EUR"`` -> 2, ``"JPY"`` -> 0)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnsupportedCurrency(
            f"currency {currency!r} is not supported", currency=currency
        ) from None


def minor_unit(currency: str) -> Decimal:
    """Return the smallest amount of ``currency``: ``Decimal("0.01")`` for EUR, ``1`` for JPY."""
    return Decimal(1).scaleb(-currency_exponent(currency))


def quantize_money(
    amount: Decimal, currency: str, rounding: RoundingRule = RoundingRule.HALF_UP
) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with ``rounding``."""
    return amount.quantize(minor_unit(currency), rounding=rounding.decimal_mode)


def require_money(amount: Decimal, currency: str, *, what: str, allow_zero: bool = False) -> None:
    """Raise ``InvalidAmount`` unless ``amount`` is positive (or zero) and exact in ``currency``."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmount(f"{what} must be a finite Decimal", field=what)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount(f"{what} must be positive", field=what, amount=str(amount))
    if amount != quantize_money(amount, currency):
        raise InvalidAmount(
            f"{what} has more decimals than {currency} allows",
            field=what,
            amount=str(amount),
            currency=currency,
        )


def round_points(value: Decimal, rounding: RoundingRule) -> int:
    """Turn a computed point figure into whole points with ``rounding``."""
    return int(value.to_integral_value(rounding=rounding.decimal_mode))


def format_money(amount: Decimal, currency: str, locale: str = "en") -> str:
    """Format for people: ``€4.50`` in English, ``4,50 €`` in French."""
    exact = quantize_money(amount, currency)
    symbol = _SYMBOLS.get(currency, currency)
    if locale == "fr":
        grouped = f"{exact:,}".replace(",", "\u202f").replace(".", ",")
        return f"{grouped}\u00a0{symbol}"
    grouped = f"{exact:,}"
    return f"{symbol}{grouped}" if len(symbol) == 1 else f"{grouped} {symbol}"

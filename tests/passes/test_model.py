"""CardState refuses impossible cards, so every adapter can trust what it reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from tests.passes.samples import sample_card
from wallet_service.passes.model import Money, PassLocation


def test_a_valid_card_is_immutable_with_frozen_locations() -> None:
    card = sample_card(locations=[PassLocation(48.85, 2.35, "nearby")])

    assert card.locations == (PassLocation(48.85, 2.35, "nearby"),)
    assert card.stamps_remaining == 6
    with pytest.raises(AttributeError):
        card.balance_points = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"serial_number": ""}, "serial_number"),
        ({"balance_points": -1}, "negative"),
        ({"points_to_next_tier": -5}, "negative"),
        ({"stamps_filled": 11}, "stamps_filled"),
        ({"stamps_filled": -1}, "stamps_filled"),
        ({"barcode_message": ""}, "barcode_message"),
        ({"last_modified": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"expiration_date": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"cashback": Money(Decimal("1"), "euro")}, "ISO 4217"),
        ({"cashback": Money(Decimal("NaN"), "EUR")}, "finite"),
        ({"locations": [PassLocation(91.0, 0.0)]}, "coordinates"),
        ({"locations": [PassLocation(float("nan"), 0.0)]}, "coordinates"),
    ],
)
def test_impossible_cards_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_card(**overrides)

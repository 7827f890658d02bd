"""Sample card states shared by the pass tests (plain functions, no fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from wallet_service.passes.model import CardState, Money, PassLocation

SERIAL = "0b7c5a5e-3f6d-4a8e-9c1b-2d4f6a8c0e12"


def sample_card(**overrides: Any) -> CardState:
    """A Gold member of Maison Caféine with cashback and two nearby stores."""
    values: dict[str, Any] = {
        "serial_number": SERIAL,
        "member_name": "Camille Martin",
        "balance_points": 1250,
        "tier_name": "Gold",
        "next_tier_name": "Platinum",
        "points_to_next_tier": 750,
        "progress_text": "750 points to Platinum",
        "stamps_filled": 4,
        "stamps_total": 10,
        "cashback": Money(Decimal("12.50"), "EUR"),
        "barcode_message": "LW1.BMXPUV5PG5FUVDEMDMSNUWRE.4KZ2F7QX",
        "barcode_alt_text": "0B7C 5A5E",
        "locations": [
            PassLocation(48.8566, 2.3522, "Maison Caféine Marais is around the corner"),
            PassLocation(48.8530, 2.3499, "Maison Caféine Saint-Michel is nearby"),
        ],
        "card_page_url": "https://loyalty.example/c/0b7c5a5e",
        "program_name": "Le Club Caféine",
        "organization_name": "Maison Caféine",
        "terms": "Points expire after 12 months without a purchase.",
        "last_modified": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
    }
    values.update(overrides)
    return CardState(**values)

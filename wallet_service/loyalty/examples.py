"""A complete, realistic program configuration for demos, docs and tests.

``coffee_shop_rules()`` returns the rules dict of "Café Lumière", a coffee
shop that uses every feature: points with pastry and coffee-bean bonuses,
three tiers with their own names and mixed criteria, 2 % cashback, a
ten-stamp card, a small rewards catalog, 12-month expiry and the three
bonuses. It is a fresh dict each call, in the exact format ``ProgramRules``
reads, so callers may tweak it freely.
"""

from __future__ import annotations

__all__ = ["coffee_shop_rules"]


def coffee_shop_rules() -> dict[str, object]:
    """Return the rules dict of the demo coffee shop."""
    return {
        "version": 1,
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "earn": {
            "points_per_currency_unit": "10",
            "rounding": "down",
            "minimum_basket": "2.00",
            "basket_bonuses": [
                {"label": "Pastry of the day", "category": "pastry", "points_per_item": 5},
                {
                    "label": "Coffee beans to take home",
                    "category": "beans",
                    "points_per_currency_unit": "5",
                },
            ],
        },
        "tiers": [
            {"code": "curious", "name": "Curious", "perks": ["Birthday treat"]},
            {
                "code": "regular",
                "name": "Regular",
                "mode": "any",
                "window_days": 90,
                "criteria": [
                    {"metric": "visits", "threshold": "8"},
                    {"metric": "spend", "threshold": "60.00"},
                ],
                "multiplier": "1.25",
                "perks": ["Free oat milk", "10 % off beans"],
            },
            {
                "code": "baristas-friend",
                "name": "Barista's Friend",
                "mode": "all",
                "window_days": 365,
                "criteria": [
                    {"metric": "points_earned", "threshold": "2500"},
                    {"metric": "referrals", "threshold": "1"},
                ],
                "multiplier": "1.5",
                "perks": ["Free oat milk", "Tasting sessions", "Skip the queue"],
            },
        ],
        "cashback": {"percent": "2", "minimum_basket": "5.00", "rounding": "down"},
        "stamps": {
            "stamps_per_card": 10,
            "stamps_per_visit": 1,
            "minimum_basket": "2.50",
            "reward_label": "Free coffee of your choice",
        },
        "rewards": [
            {
                "code": "free-espresso",
                "name": "Free espresso",
                "kind": "free_product",
                "cost_points": 150,
                "product_sku": "ESPRESSO",
            },
            {
                "code": "two-euros-off",
                "name": "€2 off",
                "kind": "fixed_discount",
                "cost_points": 200,
                "discount_amount": "2.00",
                "minimum_basket": "5.00",
            },
            {
                "code": "ten-percent-off",
                "name": "10 % off your order",
                "kind": "percent_discount",
                "cost_points": 300,
                "discount_percent": "10",
                "allowed_tiers": ["regular", "baristas-friend"],
            },
            {
                "code": "free-delivery",
                "name": "Free delivery of your beans",
                "kind": "free_shipping",
                "cost_points": 250,
            },
            {
                "code": "plant-a-tree",
                "name": "Plant a tree",
                "kind": "donation",
                "cost_points": 100,
                "charity_name": "Reforest'Action",
                "donation_amount": "1.00",
            },
            {
                "code": "tasting-session",
                "name": "Coffee tasting session",
                "kind": "free_product",
                "cost_points": 1200,
                "product_sku": "TASTING-SESSION",
                "stock": 20,
                "allowed_tiers": ["baristas-friend"],
                "valid_from": "2025-01-01T00:00:00+01:00",
                "valid_until": "2031-01-01T00:00:00+01:00",
            },
        ],
        "expiry": {"months": 12},
        "bonuses": {
            "welcome": {"points": 50},
            "birthday": {"points": 200, "timing": "month"},
            "referral": {
                "referrer_points": 300,
                "referee_points": 150,
                "minimum_first_purchase": "5.00",
            },
        },
    }

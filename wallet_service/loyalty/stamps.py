"""Stamp cards: N stamps earn a reward, one stamp per qualifying visit.

A visit qualifies when its basket reaches ``minimum_basket``. When the card
fills, the completed card is redeemed for ``reward_label`` on the spot and a
fresh card starts; stamps beyond a full card roll over onto the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from wallet_service.loyalty._config import Fields, check, decimal_to_json
from wallet_service.loyalty.earn import Basket

__all__ = ["StampQuote", "StampRules", "quote_stamps"]

# Beyond this a card no longer fits on a pass face, and is surely a typo.
_MAX_STAMPS_PER_CARD = 50


@dataclass(frozen=True, slots=True)
class StampRules:
    """``stamps_per_card`` stamps earn ``reward_label``; ``stamps_per_visit`` per visit."""

    stamps_per_card: int
    reward_label: str
    minimum_basket: Decimal = Decimal(0)
    stamps_per_visit: int = 1

    def __post_init__(self) -> None:
        check(
            type(self.stamps_per_card) is int and 1 <= self.stamps_per_card <= _MAX_STAMPS_PER_CARD,
            "stamps_per_card",
            f"must be an integer between 1 and {_MAX_STAMPS_PER_CARD}",
        )
        check(bool(self.reward_label.strip()), "reward_label", "must not be blank")
        check(self.minimum_basket >= 0, "minimum_basket", "must not be negative")
        check(
            type(self.stamps_per_visit) is int
            and 1 <= self.stamps_per_visit <= self.stamps_per_card,
            "stamps_per_visit",
            "must be between 1 and stamps_per_card",
        )

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-able form."""
        return {
            "stamps_per_card": self.stamps_per_card,
            "reward_label": self.reward_label,
            "minimum_basket": decimal_to_json(self.minimum_basket),
            "stamps_per_visit": self.stamps_per_visit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> StampRules:
        """Parse the form produced by ``to_dict``; raises ``InvalidProgramRules``."""
        fields = Fields(
            data,
            required=("stamps_per_card", "reward_label"),
            optional=("minimum_basket", "stamps_per_visit"),
        )
        return cls(
            stamps_per_card=fields.integer("stamps_per_card", minimum=1),
            reward_label=fields.text("reward_label"),
            minimum_basket=fields.decimal("minimum_basket"),
            stamps_per_visit=fields.integer("stamps_per_visit", 1, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class StampQuote:
    """What a visit does to the card: stamps added, cards completed, stamps left on it."""

    stamps_added: int
    cards_completed: int
    stamps_redeemed: int
    stamps_on_card: int
    reward_label: str


def quote_stamps(rules: StampRules, basket: Basket, stamps_on_card: int) -> StampQuote:
    """Return the stamps ``basket`` adds to a card holding ``stamps_on_card``."""
    added = rules.stamps_per_visit if basket.amount >= rules.minimum_basket else 0
    total = stamps_on_card + added
    return StampQuote(
        stamps_added=added,
        cards_completed=total // rules.stamps_per_card,
        stamps_redeemed=total // rules.stamps_per_card * rules.stamps_per_card,
        stamps_on_card=total % rules.stamps_per_card,
        reward_label=rules.reward_label,
    )

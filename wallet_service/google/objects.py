"""The neutral card model as Google Wallet resources: one ``LoyaltyClass`` per program, one
``LoyaltyObject`` per member (walletobjects v1).

Pure mapping, no I/O. Ids follow Google's ``<issuer id>.<identifier>`` rule: the class is
``<issuer>.program-<program id>``, the object ``<issuer>.<pass serial>``, so both are stable
and a re-sync updates instead of duplicating. Points go in ``loyaltyPoints`` as an integer,
cashback in ``secondaryLoyaltyPoints`` as money (micros, exact from the ``Decimal``), tier
and progress in text modules, the nearest stores in ``merchantLocations`` (``locations`` is
deprecated). Images are URLs we serve: Google fetches them, so they must be public HTTPS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wallet_service.passes.model import CardState, Money

__all__ = [
    "CARD_MESSAGE_IDS",
    "MAX_MERCHANT_LOCATIONS",
    "ProgramCard",
    "RotatingCode",
    "class_id",
    "loyalty_class",
    "loyalty_object",
    "object_id",
    "object_state",
    "text_message",
]

MAX_MERCHANT_LOCATIONS = 10
#: The ids of the messages the card itself carries; every other message came by addMessage.
CARD_MESSAGE_IDS = frozenset({"points-expiring"})
_MICROS = Decimal(1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramCard:
    """What the program's class shows, the same for every member."""

    program_id: uuid.UUID
    program_name: str
    issuer_name: str
    logo_url: str
    hero_url: str | None
    background_color: str  # "#2b1d16"
    home_url: str
    terms: str = ""
    # Where Google posts save/delete callbacks for the class's objects (HTTPS only).
    callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class RotatingCode:
    """A barcode that changes every period (RFC 6238), computed by Google's app."""

    value_pattern: str  # with ``{totp_value_0}`` where the code goes
    secret: bytes
    digits: int
    period_millis: int


def class_id(issuer_id: str, program_id: uuid.UUID) -> str:
    return f"{issuer_id}.program-{program_id}"


def object_id(issuer_id: str, serial_number: str) -> str:
    return f"{issuer_id}.{serial_number}"


def object_state(card: CardState) -> str:
    # A cancelled or erased member's card moves to "Expired passes" on the phone.
    return "INACTIVE" if card.voided else "ACTIVE"


def loyalty_class(issuer_id: str, program: ProgramCard) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": class_id(issuer_id, program.program_id),
        "issuerName": program.issuer_name,
        "programName": program.program_name,
        "programLogo": _image(program.logo_url, f"{program.issuer_name} logo"),
        "hexBackgroundColor": program.background_color,
        # Google reviews a class before it goes live; UNDER_REVIEW is the state to submit.
        "reviewStatus": "UNDER_REVIEW",
        "linksModuleData": {
            "uris": [{"id": "home", "uri": program.home_url, "description": program.issuer_name}]
        },
    }
    if program.hero_url:
        body["heroImage"] = _image(program.hero_url, program.program_name)
    if program.callback_url and program.callback_url.startswith("https://"):
        body["callbackOptions"] = {"url": program.callback_url}
    if program.terms:
        body["textModulesData"] = [{"id": "terms", "header": "Terms", "body": program.terms}]
    return body


def loyalty_object(
    issuer_id: str,
    program_id: uuid.UUID,
    card: CardState,
    *,
    rotating: RotatingCode | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": object_id(issuer_id, card.serial_number),
        "classId": class_id(issuer_id, program_id),
        "state": object_state(card),
        "accountName": card.member_name,
        "loyaltyPoints": {"label": "Points", "balance": {"int": card.balance_points}},
        "textModulesData": _text_modules(card),
        "linksModuleData": {
            "uris": [{"id": "card", "uri": card.card_page_url, "description": "Your card online"}]
        },
        "merchantLocations": [
            {"latitude": location.latitude, "longitude": location.longitude}
            for location in card.locations[:MAX_MERCHANT_LOCATIONS]
        ],
        "messages": _messages(card),
    }
    if card.cashback is not None:
        body["secondaryLoyaltyPoints"] = {
            "label": "Cashback",
            "balance": {"money": _money(card.cashback)},
        }
    if rotating is None:
        body["accountId"] = card.barcode_alt_text or card.serial_number
        body["barcode"] = {
            "type": "QR_CODE",
            "value": card.barcode_message,
            "alternateText": card.barcode_alt_text or "",
        }
    else:
        # No short code anywhere on a rotating card: typed at the till it never expires, so
        # a screenshot of it would defeat the rotation.
        body["accountId"] = card.serial_number[:8].upper()
        body["rotatingBarcode"] = {
            "type": "QR_CODE",
            "valuePattern": rotating.value_pattern,
            "totpDetails": {
                "algorithm": "TOTP_SHA1",
                "periodMillis": str(rotating.period_millis),
                "parameters": [{"key": rotating.secret.hex(), "valueLength": rotating.digits}],
            },
        }
    return body


def text_message(message_id: str, header: str, body: str, *, notify: bool) -> dict[str, Any]:
    """A message for ``addMessage``; ``notify`` also shows it as an Android notification."""
    return {
        "id": message_id,
        "header": header,
        "body": body,
        "messageType": "TEXT_AND_NOTIFY" if notify else "TEXT",
    }


def _text_modules(card: CardState) -> list[dict[str, str]]:
    modules = [{"id": "tier", "header": "Tier", "body": card.tier_name}]
    modules.append({"id": "progress", "header": "Progress", "body": card.progress_text})
    if card.stamps_total:
        stamps = f"{card.stamps_filled} of {card.stamps_total}"
        modules.append({"id": "stamps", "header": "Stamps", "body": stamps})
    return modules


def _messages(card: CardState) -> list[dict[str, Any]]:
    if card.voided or card.expiring_points <= 0 or card.next_expiry is None:
        return []
    first = card.next_expiry.strftime("%d %b %Y")
    body = f"{card.expiring_points} of your points expire within 30 days, the first on {first}."
    return [text_message("points-expiring", "Points expiring soon", body, notify=False)]


def _money(money: Money) -> dict[str, str]:
    micros = money.amount * _MICROS
    return {"micros": str(int(micros.to_integral_value())), "currencyCode": money.currency}


def _image(url: str, description: str) -> dict[str, Any]:
    return {
        "sourceUri": {"uri": url},
        "contentDescription": {"defaultValue": {"language": "en", "value": description}},
    }

"""What we send Google Wallet is what Google's own discovery document accepts, and the save
link is a skinny JWT only the service account could have signed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certificates.google import GoogleCredentials
from tests.google.discovery import assert_valid, problems
from tests.google.standin import service_account_key
from tests.passes.samples import SERIAL, sample_card
from wallet_service.google.objects import (
    ProgramCard,
    RotatingCode,
    class_id,
    loyalty_class,
    loyalty_object,
    object_id,
    text_message,
)
from wallet_service.google.save_link import SAVE_URL_PREFIX, save_jwt, save_url
from wallet_service.passes.model import Money, PassLocation
from wallet_service.scanning import rotating

ISSUER = "3388000000022222222"
PROGRAM_ID = uuid.UUID("6f1d2c3b-4a59-4e8f-9a0b-1c2d3e4f5a6b")
PROGRAM = ProgramCard(
    program_id=PROGRAM_ID,
    program_name="Le Club Caféine",
    issuer_name="Maison Caféine",
    logo_url="https://loyalty.example/wallet/google/images/points/logo.png",
    hero_url="https://loyalty.example/wallet/google/images/points/strip.png",
    background_color="#2b1d16",
    home_url="https://loyalty.example",
    terms="Points expire after 12 months.",
)


def _rotating_code() -> RotatingCode:
    return RotatingCode(
        value_pattern=rotating.value_pattern(SERIAL),
        secret=rotating.totp_secret(b"k" * 32, SERIAL),
        digits=rotating.DIGITS,
        period_millis=rotating.PERIOD_MILLIS,
    )


def test_the_program_class_is_a_valid_loyalty_class_submitted_for_review() -> None:
    body = loyalty_class(ISSUER, PROGRAM)

    assert_valid("LoyaltyClass", body)
    assert body["id"] == f"{ISSUER}.program-{PROGRAM_ID}"
    assert body["reviewStatus"] == "UNDER_REVIEW"
    assert body["programLogo"]["sourceUri"]["uri"].startswith("https://")
    assert body["hexBackgroundColor"] == "#2b1d16"


def test_a_members_object_carries_balance_cashback_tier_progress_and_barcode() -> None:
    card = sample_card()

    body = loyalty_object(ISSUER, PROGRAM_ID, card)

    assert_valid("LoyaltyObject", body)
    assert body["id"] == f"{ISSUER}.{SERIAL}"
    assert body["classId"] == class_id(ISSUER, PROGRAM_ID)
    assert body["state"] == "ACTIVE"
    assert body["loyaltyPoints"]["balance"] == {"int": 1250}
    assert body["secondaryLoyaltyPoints"]["balance"] == {
        "money": {"micros": "12500000", "currencyCode": "EUR"}
    }
    assert body["barcode"] == {
        "type": "QR_CODE",
        "value": card.barcode_message,
        "alternateText": "0B7C 5A5E",
    }
    modules = {m["id"]: m["body"] for m in body["textModulesData"]}
    assert modules == {"tier": "Gold", "progress": "750 points to Platinum", "stamps": "4 of 10"}


def test_cashback_is_sent_as_exact_micros() -> None:
    card = sample_card(cashback=Money(Decimal("1234.5678"), "EUR"))

    body = loyalty_object(ISSUER, PROGRAM_ID, card)

    assert body["secondaryLoyaltyPoints"]["balance"]["money"]["micros"] == "1234567800"


def test_at_most_ten_merchant_locations_nearest_first_and_never_the_deprecated_field() -> None:
    stores = [PassLocation(48.80 + i / 100, 2.30, f"Store {i}") for i in range(14)]

    body = loyalty_object(ISSUER, PROGRAM_ID, sample_card(locations=stores))

    assert_valid("LoyaltyObject", body)
    assert len(body["merchantLocations"]) == 10
    assert body["merchantLocations"][0] == {"latitude": 48.80, "longitude": 2.30}
    assert "locations" not in body


def test_a_cancelled_members_card_is_inactive() -> None:
    body = loyalty_object(ISSUER, PROGRAM_ID, sample_card(voided=True))

    assert_valid("LoyaltyObject", body)
    assert body["state"] == "INACTIVE"


def test_points_about_to_expire_are_announced_in_a_message() -> None:
    first = datetime(2026, 12, 12, tzinfo=UTC)
    card = sample_card(expiring_points=120, next_expiry=first)

    body = loyalty_object(ISSUER, PROGRAM_ID, card)

    assert_valid("LoyaltyObject", body)
    [message] = body["messages"]
    assert "120" in message["body"] and "12 Dec 2026" in message["body"]


def test_a_rotating_barcode_replaces_the_static_one_with_totp_details() -> None:
    code = _rotating_code()

    body = loyalty_object(ISSUER, PROGRAM_ID, sample_card(), rotating=code)

    assert_valid("LoyaltyObject", body)
    assert "barcode" not in body
    assert "0B7C 5A5E" not in str(body)  # the short code never expires: not on this card
    totp = body["rotatingBarcode"]["totpDetails"]
    assert body["rotatingBarcode"]["valuePattern"].endswith(".{totp_value_0}")
    assert totp["algorithm"] == "TOTP_SHA1"
    assert totp["periodMillis"] == "30000"
    assert totp["parameters"] == [{"key": code.secret.hex(), "valueLength": 6}]


def test_messages_for_add_message_are_valid_requests() -> None:
    request = {"message": text_message("offer-1", "Double points", "Today only", notify=True)}

    assert_valid("AddMessageRequest", request)


def test_the_validator_would_catch_a_mistake_in_our_objects() -> None:
    body = loyalty_object(ISSUER, PROGRAM_ID, sample_card())
    body["loyaltyPoints"]["balance"] = {"int": "1250"}
    body["state"] = "active"

    found = problems("LoyaltyObject", body)

    assert len(found) == 2


@pytest.fixture(scope="module")
def credentials() -> tuple[GoogleCredentials, rsa.RSAPublicKey]:
    info, public_key = service_account_key("https://oauth2.googleapis.com/token")
    return GoogleCredentials(ISSUER, info), public_key


def test_the_save_link_is_a_skinny_jwt_signed_by_the_service_account(
    credentials: tuple[GoogleCredentials, rsa.RSAPublicKey],
) -> None:
    google, public_key = credentials
    now = datetime(2026, 2, 28, 23, 59, 30, tzinfo=UTC)

    token = save_jwt(
        google,
        object_id=object_id(ISSUER, SERIAL),
        class_id=class_id(ISSUER, PROGRAM_ID),
        origins=["https://loyalty.example"],
        now=now,
    )

    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="google")
    assert claims["iss"] == google.client_email
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://loyalty.example"]
    assert claims["iat"] == int(now.timestamp())
    assert claims["payload"] == {
        "loyaltyObjects": [
            {"id": f"{ISSUER}.{SERIAL}", "classId": f"{ISSUER}.program-{PROGRAM_ID}"}
        ]
    }
    assert jwt.get_unverified_header(token)["kid"] == google.private_key_id
    assert save_url(token) == SAVE_URL_PREFIX + token


def test_a_save_link_signed_by_another_key_does_not_verify(
    credentials: tuple[GoogleCredentials, rsa.RSAPublicKey],
) -> None:
    google, _ = credentials
    _, stranger = service_account_key("https://oauth2.googleapis.com/token")
    token = save_jwt(
        google,
        object_id="a.b",
        class_id="a.c",
        origins=[],
        now=datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
    )

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, stranger, algorithms=["RS256"], audience="google")

"""Behaviour of the discovery-document validator used to check our Google Wallet request bodies.

These tests need no database and no application: they use only the installed
walletobjects.v1.json and hand-built bodies.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.google.discovery import _scalar_problems, assert_valid, problems, schemas

ISSUER = "3388000000012345678"


def loyalty_object(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"{ISSUER}.member-1",
        "classId": f"{ISSUER}.program",
        "state": "ACTIVE",
        "loyaltyPoints": {"label": "Points", "balance": {"int": 120}},
    }
    body.update(changes)
    return body


def loyalty_class(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"{ISSUER}.program",
        "issuerName": "Corner Café",
        "programName": "Corner Café Rewards",
        "programLogo": {"sourceUri": {"uri": "https://wallet.test/logo.png"}},
        "reviewStatus": "UNDER_REVIEW",
    }
    body.update(changes)
    return body


def test_the_document_is_found_through_the_installed_package() -> None:
    assert {"LoyaltyClass", "LoyaltyObject", "AddMessageRequest"} <= schemas().keys()


def test_a_minimal_loyalty_object_is_valid() -> None:
    assert problems("LoyaltyObject", loyalty_object()) == []
    assert_valid("LoyaltyObject", loyalty_object())


def test_a_minimal_loyalty_class_is_valid() -> None:
    assert problems("LoyaltyClass", loyalty_class()) == []
    assert_valid("LoyaltyClass", loyalty_class())


def test_an_add_message_request_is_valid() -> None:
    body = {"message": {"header": "Double points", "body": "This week only", "messageType": "TEXT"}}
    assert problems("AddMessageRequest", body) == []


def test_assert_valid_lists_every_problem() -> None:
    body = loyalty_object(state="active", colour="red")
    with pytest.raises(AssertionError) as raised:
        assert_valid("LoyaltyObject", body)
    message = str(raised.value)
    assert "LoyaltyObject.state: 'active' is a deprecated enum value" in message
    assert "LoyaltyObject.colour: unknown field" in message


def test_an_unknown_schema_name_is_an_error_not_a_pass() -> None:
    with pytest.raises(KeyError, match="LoyaltyObjekt"):
        problems("LoyaltyObjekt", {})


def test_an_unknown_top_level_field_is_reported() -> None:
    assert problems("LoyaltyObject", loyalty_object(colour="red")) == [
        "LoyaltyObject.colour: unknown field"
    ]


def test_an_unknown_field_suggests_a_close_spelling() -> None:
    assert problems("LoyaltyObject", loyalty_object(acountId="42")) == [
        "LoyaltyObject.acountId: unknown field (did you mean 'accountId'?)"
    ]


def test_an_unknown_nested_field_is_reported_with_its_path() -> None:
    body = loyalty_class(programLogo={"sourceUri": {"uri": "https://x.test/l.png", "alt": "L"}})
    assert problems("LoyaltyClass", body) == [
        "LoyaltyClass.programLogo.sourceUri.alt: unknown field"
    ]


def test_array_items_are_checked_with_their_index() -> None:
    body = loyalty_object(textModulesData=[{"header": "Tier", "body": "Gold"}, {"bdy": "typo"}])
    assert problems("LoyaltyObject", body) == [
        "LoyaltyObject.textModulesData[1].bdy: unknown field (did you mean 'body'?)"
    ]


def test_a_balance_int_given_as_a_string_is_reported() -> None:
    body = loyalty_object(loyaltyPoints={"balance": {"int": "120"}})
    assert problems("LoyaltyObject", body) == [
        "LoyaltyObject.loyaltyPoints.balance.int: expected integer, got str"
    ]


@pytest.mark.parametrize(
    ("balance", "problem"),
    [
        ({"int": True}, "int: expected integer, got bool"),
        ({"int": 2**31}, "int: 2147483648 is outside the int32 range"),
        ({"double": "1.5"}, "double: expected number, got str"),
        ({"double": False}, "double: expected number, got bool"),
        ({"double": float("nan")}, "double: expected a finite number, got nan"),
        ({"string": 500}, "string: expected string, got int"),
    ],
)
def test_scalar_types_are_strict(balance: dict[str, object], problem: str) -> None:
    body = loyalty_object(loyaltyPoints={"balance": balance})
    assert problems("LoyaltyObject", body) == [f"LoyaltyObject.loyaltyPoints.balance.{problem}"]


def test_numbers_accept_ints_and_floats() -> None:
    for value in (3, 2.5):
        body = loyalty_object(loyaltyPoints={"balance": {"double": value}})
        assert problems("LoyaltyObject", body) == []


def test_null_is_not_a_value() -> None:
    assert problems("LoyaltyObject", loyalty_object(accountName=None)) == [
        "LoyaltyObject.accountName: expected string, got null"
    ]


def test_an_object_or_array_of_the_wrong_shape_is_reported() -> None:
    body = loyalty_object(loyaltyPoints=[120], textModulesData={"header": "Tier"})
    assert problems("LoyaltyObject", body) == [
        "LoyaltyObject.loyaltyPoints: expected object, got list",
        "LoyaltyObject.textModulesData: expected array, got dict",
    ]


def test_a_value_outside_an_enum_is_reported() -> None:
    assert problems("LoyaltyObject", loyalty_object(state="LIVE")) == [
        "LoyaltyObject.state: 'LIVE' is not one of ['STATE_UNSPECIFIED', 'ACTIVE', 'active',"
        " 'COMPLETED', 'completed', 'EXPIRED', 'expired', 'INACTIVE', 'inactive']"
    ]


def test_a_deprecated_enum_alias_is_reported() -> None:
    assert problems("LoyaltyObject", loyalty_object(state="active")) == [
        "LoyaltyObject.state: 'active' is a deprecated enum value"
        " (Legacy alias for `ACTIVE`. Deprecated.)"
    ]


def test_a_deprecated_barcode_type_alias_is_reported() -> None:
    body = loyalty_object(barcode={"type": "qrCode", "value": "member-1"})
    [problem] = problems("LoyaltyObject", body)
    assert problem.startswith("LoyaltyObject.barcode.type: 'qrCode' is a deprecated enum value")
    assert problems("LoyaltyObject", loyalty_object(barcode={"type": "QR_CODE"})) == []


def test_a_missing_required_field_is_reported() -> None:
    body = loyalty_object()
    del body["state"]
    assert problems("LoyaltyObject", body) == ["LoyaltyObject.state: required field missing"]


def test_every_required_field_of_a_loyalty_class_is_reported() -> None:
    assert problems("LoyaltyClass", {}) == [
        f"LoyaltyClass.{name}: required field missing"
        for name in ("id", "issuerName", "programLogo", "programName", "reviewStatus")
    ]


def test_a_sentence_mentioning_required_in_passing_does_not_make_a_field_required() -> None:
    # LoyaltyPoints.balance says "This is a required field of `loyaltyPoints` ..." mid-sentence,
    # and Image/LocalizedString have no "Required." field at all.
    body = loyalty_object(loyaltyPoints={"label": "Points"})
    assert problems("LoyaltyObject", body) == []
    assert problems("Image", {}) == []
    assert problems("LocalizedString", {}) == []


def test_a_deprecated_field_is_reported() -> None:
    body = loyalty_object(locations=[{"latitude": 52.5, "longitude": 13.4}])
    assert problems("LoyaltyObject", body) == ["LoyaltyObject.locations: deprecated field"]


def test_its_replacement_is_accepted() -> None:
    body = loyalty_object(merchantLocations=[{"latitude": 52.5, "longitude": 13.4}])
    assert problems("LoyaltyObject", body) == []


def test_the_deprecated_kind_field_is_reported_even_when_nested() -> None:
    body = loyalty_class(
        programLogo={"kind": "walletobjects#image", "sourceUri": {"uri": "https://x.test/l.png"}}
    )
    assert problems("LoyaltyClass", body) == ["LoyaltyClass.programLogo.kind: deprecated field"]


def test_an_int64_given_as_a_python_int_is_reported() -> None:
    body = loyalty_object(
        loyaltyPoints={"balance": {"money": {"currencyCode": "EUR", "micros": 1_500_000}}}
    )
    assert problems("LoyaltyObject", body) == [
        "LoyaltyObject.loyaltyPoints.balance.money.micros:"
        " expected int64 as a string of decimal digits, got 1500000"
    ]


@pytest.mark.parametrize("micros", ["1500000", "-1500000", "0"])
def test_an_int64_given_as_a_decimal_string_is_accepted(micros: str) -> None:
    assert problems("Money", {"currencyCode": "EUR", "micros": micros}) == []


@pytest.mark.parametrize(
    ("micros", "problem"),
    [
        ("1.5", "expected int64 as a string of decimal digits, got '1.5'"),
        ("1e6", "expected int64 as a string of decimal digits, got '1e6'"),
        (" 15", "expected int64 as a string of decimal digits, got ' 15'"),
        (str(2**63), f"{2**63} is outside the int64 range"),
    ],
)
def test_an_int64_string_must_be_a_64_bit_decimal(micros: str, problem: str) -> None:
    assert problems("Money", {"micros": micros}) == [f"Money.micros: {problem}"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hasUsers", True),
        ("hasLinkedDevice", False),
        ("classReference", {"id": f"{ISSUER}.program"}),
    ],
)
def test_an_output_only_field_is_reported(field: str, value: object) -> None:
    assert problems("LoyaltyObject", loyalty_object(**{field: value})) == [
        f"LoyaltyObject.{field}: output-only field, set by Google"
    ]


def test_the_review_set_by_google_is_output_only_but_review_status_is_ours() -> None:
    body = loyalty_class(review={"comments": "Approved"})
    assert problems("LoyaltyClass", body) == [
        "LoyaltyClass.review: output-only field, set by Google"
    ]


def test_date_time_strings_must_be_rfc_3339() -> None:
    # No field of the current document has format date-time; the rule is exercised directly.
    node = {"type": "string", "format": "date-time"}
    assert _scalar_problems("2025-06-19T18:30:00.5+02:00", node) == []
    assert _scalar_problems("2025-06-19T18:30:00Z", node) == []
    for text in ("2025-06-19T18:30:00", "2025-06-19", "2025-02-30T00:00:00Z", "tomorrow"):
        assert _scalar_problems(text, node) == [f"expected an RFC 3339 date-time, got {text!r}"]

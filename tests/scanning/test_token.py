"""The pass barcode token: round-trips, and rejects forgeries, typos and garbage."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet_service.scanning.token import InvalidBarcode, issue_token, verify_token

SECRET = b"server-barcode-key-0123456789abcdef"
OTHER_SECRET = b"another-server-key-0123456789abcdef"
SERIAL = "3f0c2c6e-8a51-4d7e-9a59-2f1f4b8f6b1e"
uuid4s = st.uuids(version=4).map(str)


@given(serial=uuid4s)
def test_a_token_names_its_serial_and_nothing_else(serial: str) -> None:
    token = issue_token(SECRET, serial)

    assert verify_token(SECRET, token) == serial
    assert re.fullmatch(r"LW1\.[A-Z2-7]{26}\.[A-Z2-7]{16}", token)


def test_tokens_are_short_uppercase_and_stable_for_a_pass() -> None:
    token = issue_token(SECRET, SERIAL)

    assert len(token) == 47
    assert token == issue_token(SECRET, SERIAL.upper())


def test_scanner_noise_like_whitespace_and_lowercase_is_tolerated() -> None:
    token = issue_token(SECRET, SERIAL)

    assert verify_token(SECRET, f"  {token.lower()}\r\n") == SERIAL


@given(serial=uuid4s, data=st.data())
def test_any_single_character_typo_is_rejected(serial: str, data: st.DataObject) -> None:
    token = issue_token(SECRET, serial)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.01").filter(
            lambda c: c != token[position]
        )
    )
    typo = token[:position] + replacement + token[position + 1 :]

    with pytest.raises(InvalidBarcode) as caught:
        verify_token(SECRET, typo)
    assert caught.value.code == "invalid_barcode"


def test_a_token_signed_with_another_key_is_a_forgery() -> None:
    forged = issue_token(OTHER_SECRET, SERIAL)

    with pytest.raises(InvalidBarcode) as caught:
        verify_token(SECRET, forged)
    assert caught.value.details == {"reason": "signature"}


def test_swapping_the_serial_of_a_genuine_token_is_a_forgery() -> None:
    genuine = issue_token(SECRET, SERIAL)
    victim = issue_token(SECRET, str(uuid.uuid4()))
    spliced = ".".join([*victim.split(".")[:2], genuine.split(".")[2]])

    with pytest.raises(InvalidBarcode):
        verify_token(SECRET, spliced)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "format"),
        ("hello world", "format"),
        ("LW1..", "format"),
        ("LW1.A.B", "format"),
        (
            "LW2.GMZTAYZSMM3GKLJYMUYTKMJNGRSDOZJNHFQTKOJNGJTDCZRUMI4GMNTCGFSQ.AAAAAAAAAAAAAAAA",
            "version",
        ),
        ("LW1.!!!!!!!!!!!!!!!!!!!!!!!!!!.AAAAAAAAAAAAAAAA", "format"),
        ("LW1.AAAAAAAAAAAAAAAAAAAAAAAAAB.AAAAAAAAAAAAAAAA", "format"),
        ("3f0c2c6e-8a51-4d7e-9a59-2f1f4b8f6b1e", "format"),
    ],
)
def test_garbage_is_rejected_without_revealing_more_than_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidBarcode) as caught:
        verify_token(SECRET, text)
    assert caught.value.details["reason"] == reason


def test_tokens_issued_before_a_key_rotation_still_scan() -> None:
    old_token = issue_token(OTHER_SECRET, SERIAL)

    assert verify_token(SECRET, old_token, previous_secrets=[OTHER_SECRET]) == SERIAL


def test_weak_secrets_and_non_uuid4_serials_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        issue_token(b"short", SERIAL)
    with pytest.raises(ValueError):
        issue_token(SECRET, "member-42")
    with pytest.raises(ValueError):
        issue_token(SECRET, str(uuid.uuid1()))
